# ops/: metrics, health, the status page and its sign-in (daemon/daemon.h).
daemon_provauthd_SOURCES += \
	daemon/ops/ops.h \
	daemon/ops/page_assets.h \
	daemon/ops/metrics.c \
	daemon/ops/events.c \
	daemon/ops/scrape.c \
	daemon/ops/health.c \
	daemon/ops/login.c \
	daemon/ops/page.c \
	daemon/ops/reply.c
