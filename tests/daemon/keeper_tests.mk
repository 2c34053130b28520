# provauthd's keeper and webhooks, in process: the room's files linked with
# the test, the daemon's other rooms stood in for by the test itself.
PA_DAEMON_ROOM_TESTS = tests/daemon/test_daemon_keeper tests/daemon/test_daemon_webhook
check_PROGRAMS += $(PA_DAEMON_ROOM_TESTS)
TESTS += $(PA_DAEMON_ROOM_TESTS)
tests_daemon_test_daemon_keeper_SOURCES = tests/daemon/test_daemon_keeper.c \
	daemon/keeper/keeper.c daemon/keeper/schedule.c daemon/keeper/record.c \
	tests/unit/scripted_provider.c tests/unit/scripted_provider.h
tests_daemon_test_daemon_keeper_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/daemon
tests_daemon_test_daemon_webhook_SOURCES = tests/daemon/test_daemon_webhook.c \
	daemon/notify/notifier.c daemon/notify/sign.c daemon/notify/backoff.c daemon/notify/dead_letter.c \
	daemon/needs_human.c daemon/keeper/record.c tests/unit/scripted_provider.c tests/unit/scripted_provider.h
tests_daemon_test_daemon_webhook_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/daemon
tests_daemon_test_daemon_webhook_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
tests_daemon_test_daemon_webhook_LDADD = $(LDADD) $(MHD_LIBS)
