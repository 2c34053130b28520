# tests/daemon, the keeper and the webhooks on the real provauthd binary
# (harness.h) against the fakes and the real plugins: refresh ahead with no
# traffic, an idle account touched within max_idle, two daemons on one
# PostgreSQL store keeping 100 accounts, signed webhooks with a retry.
check_PROGRAMS += tests/daemon/test_daemon_fleet
TESTS += tests/daemon/test_daemon_fleet
tests_daemon_test_daemon_fleet_SOURCES = tests/daemon/test_daemon_fleet.c $(PA_DAEMON_HARNESS) \
	tests/fake/fake_pixiv.c tests/fake/fake_pixiv.h
tests_daemon_test_daemon_fleet_CPPFLAGS = $(PA_DAEMON_TEST_CPPFLAGS)
tests_daemon_test_daemon_fleet_CFLAGS = $(PA_DAEMON_TEST_CFLAGS)
tests_daemon_test_daemon_fleet_LDADD = $(PA_DAEMON_TEST_LIBS)
EXTRA_tests_daemon_test_daemon_fleet_DEPENDENCIES = $(PA_DAEMON_TEST_DEPS) plugins/pixiv.la
