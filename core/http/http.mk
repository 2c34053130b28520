# core/http: the host's HTTP service over libcurl.
core_libprovauth_core_la_SOURCES += core/http/http.c
