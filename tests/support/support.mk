# tests/support: what the CUnit test programs share (runner, log capture,
# forwarding store, temp-dir removal). Built for make check only; programs
# whose rules live in other fragments get it appended to their LDADD here,
# so this fragment is included after theirs.
check_LTLIBRARIES += tests/support/libtestsupport.la
tests_support_libtestsupport_la_SOURCES = \
	tests/support/pa_test.h \
	tests/support/runner.c \
	tests/support/log_capture.c \
	tests/support/fwd_store.c \
	tests/support/rmtree.c
tests_support_libtestsupport_la_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir)
tests_support_libtestsupport_la_CFLAGS = $(PA_TEST_CF)
tests_support_libtestsupport_la_LIBADD = $(CUNIT_LIBS)
PA_TEST_SUPPORT = tests/support/libtestsupport.la

tests_unit_test_json_check_LDADD += $(PA_TEST_SUPPORT)
tests_unit_test_services_LDADD += $(PA_TEST_SUPPORT)
