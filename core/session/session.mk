# core/session: run_with_session, the session cache, the recovery ladder,
# the updates providers ask the host to store, failures and the stored mark
# of a refused refresh token.
core_libprovauth_core_la_SOURCES += \
	core/session/session.c \
	core/session/update.c \
	core/session/failure.c \
	core/session/refresh_refused.c
