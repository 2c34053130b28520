# tests/integration: the real plugins (loaded from plugins/.libs) through the
# real manager and stores against the fake servers on loopback.
#
#   test_pixverse, test_pixiv  each provider end to end
#   test_pixverse_gen          Pixverse generation jobs against the fake's job lifecycle
#   test_faults                the fault matrix (docs/RELIABILITY.md); -v prints it
#   test_crash                 children SIGKILLed while they renew credentials
#   test_store_batch_crash     SIGKILL in the middle of a large sqlite batch
#   test_fleet                 processes sharing one account through one store:
#                              one login per dead session, SIGKILL of the
#                              lease holder, the hot path without the store
#   test_store_full            a store that cannot be written: unsaved
#                              credentials are never handed out
PA_INTEGRATION_TESTS = \
	tests/integration/test_pixverse \
	tests/integration/test_pixverse_gen \
	tests/integration/test_pixiv \
	tests/integration/test_faults \
	tests/integration/test_crash \
	tests/integration/test_store_batch_crash \
	tests/integration/test_store_full \
	tests/integration/test_fleet
check_PROGRAMS += $(PA_INTEGRATION_TESTS)
TESTS += $(PA_INTEGRATION_TESTS)

# What the tests that run a fake in-process add to the unit template.
PA_INTEGRATION_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/tests/fake
PA_INTEGRATION_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
PA_INTEGRATION_LDADD = tests/fake/libfakeprov.la $(LDADD) $(MHD_LIBS)
PA_FAKE_PIXIV_SOURCES = tests/fake/fake_pixiv.c tests/fake/fake_pixiv.h

tests_integration_test_pixverse_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS)
tests_integration_test_pixverse_CFLAGS = $(PA_INTEGRATION_CFLAGS)
tests_integration_test_pixverse_LDADD = $(PA_INTEGRATION_LDADD)
EXTRA_tests_integration_test_pixverse_DEPENDENCIES = plugins/pixverse.la
tests_integration_test_pixverse_gen_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS)
tests_integration_test_pixverse_gen_CFLAGS = $(PA_INTEGRATION_CFLAGS)
tests_integration_test_pixverse_gen_LDADD = $(PA_INTEGRATION_LDADD)
EXTRA_tests_integration_test_pixverse_gen_DEPENDENCIES = plugins/pixverse.la

# Needs the standalone fake-pixiv program for its one standalone-binary case.
tests_integration_test_pixiv_SOURCES = tests/integration/test_pixiv.c $(PA_FAKE_PIXIV_SOURCES)
tests_integration_test_pixiv_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS)
tests_integration_test_pixiv_CFLAGS = $(PA_INTEGRATION_CFLAGS)
tests_integration_test_pixiv_LDADD = $(PA_INTEGRATION_LDADD)
EXTRA_tests_integration_test_pixiv_DEPENDENCIES = plugins/pixiv.la tests/fake/fake-pixiv$(EXEEXT)

tests_integration_test_faults_SOURCES = tests/integration/test_faults.c $(PA_FAKE_PIXIV_SOURCES)
tests_integration_test_faults_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS)
tests_integration_test_faults_CFLAGS = $(PA_INTEGRATION_CFLAGS)
tests_integration_test_faults_LDADD = $(PA_INTEGRATION_LDADD)
EXTRA_tests_integration_test_faults_DEPENDENCIES = plugins/pixverse.la plugins/pixiv.la

tests_integration_test_crash_SOURCES = tests/integration/test_crash.c $(PA_FAKE_PIXIV_SOURCES)
tests_integration_test_crash_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS)
tests_integration_test_crash_CFLAGS = $(PA_INTEGRATION_CFLAGS)
tests_integration_test_crash_LDADD = $(PA_INTEGRATION_LDADD)
EXTRA_tests_integration_test_crash_DEPENDENCIES = plugins/pixiv.la plugins/pixverse.la

tests_integration_test_store_full_SOURCES = tests/integration/test_store_full.c $(PA_FAKE_PIXIV_SOURCES)
tests_integration_test_store_full_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS)
tests_integration_test_store_full_CFLAGS = $(PA_INTEGRATION_CFLAGS)
tests_integration_test_store_full_LDADD = $(PA_INTEGRATION_LDADD)
EXTRA_tests_integration_test_store_full_DEPENDENCIES = plugins/pixiv.la plugins/pixverse.la

tests_integration_test_fleet_SOURCES = tests/integration/test_fleet.c $(PA_FAKE_PIXIV_SOURCES)
tests_integration_test_fleet_CPPFLAGS = $(PA_INTEGRATION_CPPFLAGS)
tests_integration_test_fleet_CFLAGS = $(PA_INTEGRATION_CFLAGS)
tests_integration_test_fleet_LDADD = $(PA_INTEGRATION_LDADD)
EXTRA_tests_integration_test_fleet_DEPENDENCIES = plugins/pixiv.la plugins/pixverse.la
