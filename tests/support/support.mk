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

tests_unit_test_json_check_LDADD += tests/support/libtestsupport.la
tests_unit_test_services_LDADD += tests/support/libtestsupport.la
tests_unit_test_loader_LDADD += tests/support/libtestsupport.la
tests_unit_test_pixiv_unit_LDADD += tests/support/libtestsupport.la
tests_unit_test_pixverse_unit_LDADD += tests/support/libtestsupport.la
tests_unit_test_seal_LDADD += tests/support/libtestsupport.la
tests_unit_test_session_LDADD += tests/support/libtestsupport.la
tests_unit_test_settings_LDADD += tests/support/libtestsupport.la
tests_unit_test_store_LDADD += tests/support/libtestsupport.la
tests_integration_test_pixverse_LDADD += tests/support/libtestsupport.la
