# core/util: what every room uses: the thread-local last error, string and
# memory helpers, logging and its redaction, JSON, text encodings, and the
# quoting of server text without the secrets it may echo.
core_libprovauth_core_la_SOURCES += \
	core/util/error.c \
	core/util/util.c \
	core/util/log.c \
	core/util/json.c \
	core/util/json_check.c \
	core/util/encoding.c \
	core/util/redact.c
