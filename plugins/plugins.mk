# plugins: one self-contained block per provider plugin.

# ---- pixverse -------------------------------------------------------------
# Built like an out-of-tree plugin: only <provauth/plugin.h> on the include
# path and only the entry symbol exported; every service comes from the host.
plugin_LTLIBRARIES += plugins/pixverse.la
PA_PIXVERSE_PURE = \
	plugins/pixverse/pixverse.h \
	plugins/pixverse/util.c \
	plugins/pixverse/jwt.c \
	plugins/pixverse/cookies.c \
	plugins/pixverse/classify.c \
	plugins/pixverse/ids.c \
	plugins/pixverse/session.c
plugins_pixverse_la_SOURCES = \
	$(PA_PIXVERSE_PURE) \
	plugins/pixverse/client.c \
	plugins/pixverse/auth.c \
	plugins/pixverse/ops.c \
	plugins/pixverse/plugin.c
plugins_pixverse_la_CPPFLAGS = -I$(top_srcdir)/core/include
plugins_pixverse_la_CFLAGS = $(AM_CFLAGS)
plugins_pixverse_la_LDFLAGS = $(PA_PLUGIN_LINK)
EXTRA_DIST += plugins/pixverse/README.md

# Unit test: the plugin's server-free parts compiled in, against the real host table.
check_PROGRAMS += tests/unit/test_pixverse_unit
TESTS += tests/unit/test_pixverse_unit
tests_unit_test_pixverse_unit_SOURCES = \
	tests/unit/test_pixverse_unit.c \
	$(PA_PIXVERSE_PURE) \
	plugins/pixverse/client.c \
	plugins/pixverse/auth.c
tests_unit_test_pixverse_unit_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/pixverse
tests_unit_test_pixverse_unit_CFLAGS = $(PA_TEST_CF)
tests_unit_test_pixverse_unit_LDADD = $(PA_TEST_LIBS)

# Integration test: the built plugin loaded by the real manager, a sqlite
# store and the fake Pixverse server (tests/fake) over loopback.
check_PROGRAMS += tests/integration/test_pixverse
TESTS += tests/integration/test_pixverse
tests_integration_test_pixverse_SOURCES = tests/integration/test_pixverse.c
tests_integration_test_pixverse_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_builddir) -I$(top_srcdir)/tests/fake
tests_integration_test_pixverse_CFLAGS = $(PA_TEST_CF) $(MHD_CFLAGS)
tests_integration_test_pixverse_LDADD = tests/fake/libfakeprov.la $(PA_TEST_LIBS) $(MHD_LIBS)
EXTRA_tests_integration_test_pixverse_DEPENDENCIES = plugins/pixverse.la
# ---- end pixverse ---------------------------------------------------------

# ---- pixiv (begin) ----
# Built like an out-of-tree plugin: only <provauth/plugin.h> on the include
# path and only the entry symbol exported.
plugin_LTLIBRARIES += plugins/pixiv.la
plugins_pixiv_la_SOURCES = \
	plugins/pixiv/pixiv.h \
	plugins/pixiv/plugin.c \
	plugins/pixiv/headers.c \
	plugins/pixiv/token.c \
	plugins/pixiv/refresh.c \
	plugins/pixiv/classify.c \
	plugins/pixiv/ops.c \
	plugins/pixiv/util.c
plugins_pixiv_la_CPPFLAGS = -I$(top_srcdir)/core/include
plugins_pixiv_la_CFLAGS = $(AM_CFLAGS)
plugins_pixiv_la_LDFLAGS = $(PA_PLUGIN_LINK)
EXTRA_DIST += plugins/pixiv/README.md
# ---- pixiv (end) ----

# ---- pixiv unit test (begin) ----
# The plugin's pure files compiled into the test, with a host from
# pa_host_init: header vectors, reply parsing, error classification.
check_PROGRAMS += tests/unit/test_pixiv_unit
TESTS += tests/unit/test_pixiv_unit
tests_unit_test_pixiv_unit_SOURCES = \
	tests/unit/test_pixiv_unit.c \
	plugins/pixiv/pixiv.h \
	plugins/pixiv/headers.c \
	plugins/pixiv/token.c \
	plugins/pixiv/refresh.c \
	plugins/pixiv/classify.c \
	plugins/pixiv/util.c
tests_unit_test_pixiv_unit_CPPFLAGS = $(AM_CPPFLAGS) -I$(top_srcdir)/plugins/pixiv
tests_unit_test_pixiv_unit_CFLAGS = $(PA_TEST_CF)
tests_unit_test_pixiv_unit_LDADD = $(PA_TEST_LIBS)
# ---- pixiv unit test (end) ----
