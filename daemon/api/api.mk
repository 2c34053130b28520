# daemon/api: the REST routes (the table and its handlers). Included by
# daemon/daemon.mk; the sources join provauthd's.
daemon_provauthd_SOURCES += \
	daemon/api/api.h \
	daemon/api/routes.c \
	daemon/api/body.c \
	daemon/api/account_json.c \
	daemon/api/accounts.c \
	daemon/api/auth_routes.c \
	daemon/api/ad_task_cache.c \
	daemon/api/calls.c \
	daemon/api/jobs.c \
	daemon/api/job_images.c \
	daemon/api/providers.c
EXTRA_DIST += docs/api/openapi.json
