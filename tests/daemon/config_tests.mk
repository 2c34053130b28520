# The daemon's settings reader, tested on its own: its source compiled into
# the test against the installed-style library, as provauthd uses it.
check_PROGRAMS += tests/daemon/test_daemon_config
TESTS += tests/daemon/test_daemon_config
tests_daemon_test_daemon_config_SOURCES = tests/daemon/test_daemon_config.c daemon/config/config.c
tests_daemon_test_daemon_config_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/daemon
tests_daemon_test_daemon_config_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(OPENSSL_CFLAGS)
