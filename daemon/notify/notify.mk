# daemon/notify: webhooks (notifier.c the queue and delivery thread, sign.c
# the signature and body, backoff.c the retry delays, dead_letter.c the
# file of deliveries that gave up).
daemon_provauthd_SOURCES += \
	daemon/notify/notify.h \
	daemon/notify/notifier.c \
	daemon/notify/sign.c \
	daemon/notify/backoff.c \
	daemon/notify/dead_letter.c
