# Core: errors, helpers, accounts, logging, JSON, encodings, the session
# manager and the host services table.
core_libprovauth_core_la_SOURCES += \
	core/error.c \
	core/util.c \
	core/account.c \
	core/encoding.c \
	core/failure.c \
	core/json.c \
	core/log.c \
	core/update.c
