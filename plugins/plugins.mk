# plugins: filled in by its owner.

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
