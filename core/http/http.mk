# core/http: the host's HTTP service over libcurl.
#  - http: the service's lifetime, shared options and handle pool;
#  - request: one request; reply: the reply as it arrives, within limits;
#  - messages: what messages show of a request, and failures in our words.
core_libprovauth_core_la_SOURCES += \
	core/http/http.h \
	core/http/http_private.h \
	core/http/http.c \
	core/http/request.c \
	core/http/reply.c \
	core/http/messages.c
