# tests/daemon: provauthd's tests. The harness (harness.h) runs the real
# daemon binary as a child and talks to it with libcurl; tests that use it
# list $(PA_DAEMON_HARNESS) in their sources and take the flags below.
# Rooms append their own tests here.
PA_DAEMON_HARNESS = tests/daemon/harness.c tests/daemon/harness.h
PA_DAEMON_TEST_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/tests/fake \
	-I$(top_srcdir)/tests/daemon -I$(top_srcdir)/tests/support
PA_DAEMON_TEST_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
PA_DAEMON_TEST_LIBS = tests/fake/libfakeprov.la $(LDADD) $(MHD_LIBS)
# Every daemon test runs the binary and its plugins.
PA_DAEMON_TEST_DEPS = daemon/provauthd$(EXEEXT) plugins/pixverse.la

PA_DAEMON_TESTS =
check_PROGRAMS += $(PA_DAEMON_TESTS)
TESTS += $(PA_DAEMON_TESTS)
