# core/session: run_with_session and what it stands on, one concern a file
# (session.h lists them): the session cache, building a session, health
# and persistence, the recovery ladder, refresh-ahead, the public entry
# points; and the structs providers fill in (updates, failures) with the
# stored mark of a refused refresh token.
core_libprovauth_core_la_SOURCES += \
	core/session/session.h \
	core/session/cache.c \
	core/session/build.c \
	core/session/credential.c \
	core/session/context.c \
	core/session/health.c \
	core/session/recover.c \
	core/session/ahead.c \
	core/session/run.c \
	core/session/keep.c \
	core/session/update.c \
	core/session/failure.c \
	core/session/refresh_refused.c
