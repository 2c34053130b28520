# tests/support: what the CUnit test programs share (runner, log capture,
# forwarding store, temp-dir removal, an account for store tests, a private
# PostgreSQL server). Built for
# make check only; the top Makefile.am's LDADD (the unit test template) links it.
check_LTLIBRARIES += tests/support/libtestsupport.la
tests_support_libtestsupport_la_SOURCES = \
	tests/support/pa_test.h \
	tests/support/runner.c \
	tests/support/log_capture.c \
	tests/support/fwd_store.c \
	tests/support/rmtree.c \
	tests/support/store_account.c \
	tests/support/pg_server.h \
	tests/support/pg_server.c
tests_support_libtestsupport_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)
tests_support_libtestsupport_la_CFLAGS = $(AM_CFLAGS)
tests_support_libtestsupport_la_LIBADD = $(CUNIT_LIBS) $(LIBPQ_LIBS)
# pg_server.c runs it, from the source tree (PA_SRCDIR).
EXTRA_DIST += tests/support/pg-cluster.sh

# The loopback TCP proxy that cuts connections on demand (test_fleet).
tests_support_libtestsupport_la_SOURCES += tests/support/tcp_proxy.h tests/support/tcp_proxy.c
