# daemon/http: the listener (libmicrohttpd), router, bearer tokens, rate
# limits and replies of provauthd.
daemon_provauthd_SOURCES += \
	daemon/http/server.c \
	daemon/http/router.c \
	daemon/http/auth.c \
	daemon/http/ratelimit.c \
	daemon/http/reply.c \
	daemon/http/body.c
