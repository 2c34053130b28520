# tests/unit: one CUnit program per module, tests/unit/test_<module>.c.
#
# The template: a test that is one file and needs only the core (static,
# internals visible), CUnit and tests/support is listed in PA_UNIT_TESTS and
# nowhere else: automake takes tests/unit/test_<module>.c as its source, the
# top Makefile.am's AM_CFLAGS as its flags and its LDADD as its libraries.
# Tests that need more say so below the list.
PA_UNIT_TESTS = \
	tests/unit/test_services \
	tests/unit/test_credential \
	tests/unit/test_json_check \
	tests/unit/test_redact \
	tests/unit/test_settings \
	tests/unit/test_http \
	tests/unit/test_loader \
	tests/unit/test_plugin_host \
	tests/unit/test_session \
	tests/unit/test_keep \
	tests/unit/test_pool \
	tests/unit/test_lease \
	tests/unit/test_import \
	tests/unit/test_store \
	tests/unit/test_store_postgres \
	tests/unit/test_store_pool \
	tests/unit/test_pg_server \
	tests/unit/test_store_batch \
	tests/unit/test_store_sync \
	tests/unit/test_store_hardening \
	tests/unit/test_store_integrity \
	tests/unit/test_store_migrate \
	tests/unit/test_seal \
	tests/unit/test_pixverse_unit \
	tests/unit/test_pixverse_gen \
	tests/unit/test_pixiv_unit \
	tests/unit/test_fake_pixverse \
	tests/unit/test_fake_pixverse_jobs
check_PROGRAMS += $(PA_UNIT_TESTS)
TESTS += $(PA_UNIT_TESTS)

# A provider scripted step by step, for the session manager's paths.
tests_unit_test_session_SOURCES = tests/unit/test_session.c \
	tests/unit/scripted_provider.c tests/unit/scripted_provider.h
tests_unit_test_keep_SOURCES = tests/unit/test_keep.c \
	tests/unit/scripted_provider.c tests/unit/scripted_provider.h
tests_unit_test_pool_SOURCES = tests/unit/test_pool.c \
	tests/unit/scripted_provider.c tests/unit/scripted_provider.h
tests_unit_test_store_batch_SOURCES = tests/unit/test_store_batch.c \
	tests/unit/scripted_provider.c tests/unit/scripted_provider.h

# A libmicrohttpd server on loopback answers the HTTP service.
tests_unit_test_http_CFLAGS = $(AM_CFLAGS) $(MHD_CFLAGS)
tests_unit_test_http_LDADD = $(LDADD) $(MHD_LIBS)

# The host services plugins see, through both real plugins and the helper library.
EXTRA_tests_unit_test_plugin_host_DEPENDENCIES = plugins/pixiv.la plugins/pixverse.la
tests_unit_test_plugin_host_LDADD = plugins/support/libprovauth_plugin.la $(LDADD)

# Each plugin's library (the objects its module is made of), against the real host table.
tests_unit_test_pixverse_unit_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/pixverse
tests_unit_test_pixverse_unit_LDADD = plugins/pixverse/libpixverse.la plugins/support/libprovauth_plugin.la $(LDADD)
tests_unit_test_pixverse_gen_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/pixverse
tests_unit_test_pixverse_gen_LDADD = plugins/pixverse/libpixverse.la plugins/support/libprovauth_plugin.la $(LDADD)
tests_unit_test_pixiv_unit_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/pixiv
tests_unit_test_pixiv_unit_LDADD = plugins/pixiv/libpixiv.la plugins/support/libprovauth_plugin.la $(LDADD)

# The fake Pixverse server judged from outside: it never links the core.
tests_unit_test_fake_pixverse_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/tests/fake -I$(top_srcdir)/core/include
tests_unit_test_fake_pixverse_CFLAGS = $(PA_FAKE_CF) $(CURL_CFLAGS) $(CUNIT_CFLAGS)
tests_unit_test_fake_pixverse_LDADD = tests/fake/libfakeprov.la tests/support/libtestsupport.la \
	$(CURL_LIBS) $(CUNIT_LIBS) $(PA_FAKE_LIBS)
tests_unit_test_fake_pixverse_jobs_CPPFLAGS = $(tests_unit_test_fake_pixverse_CPPFLAGS)
tests_unit_test_fake_pixverse_jobs_CFLAGS = $(tests_unit_test_fake_pixverse_CFLAGS)
tests_unit_test_fake_pixverse_jobs_LDADD = $(tests_unit_test_fake_pixverse_LDADD)

# The fixture stores' accounts, shared with the generator that wrote them.
tests_unit_test_store_migrate_SOURCES = tests/unit/test_store_migrate.c tests/fixtures/stores/accounts.h
