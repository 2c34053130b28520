# plugins/pixverse: the Pixverse provider plugin.
#
# Its objects are built once, into the convenience library libpixverse.la,
# built like an out-of-tree plugin: only <provauth/plugin.h> on the include
# path, every service from the host. The module (entry.c, the one exported
# symbol, plus the library), its unit test (tests/unit/unit.mk) and the fuzz
# targets (fuzz/fuzz.mk) all link that library.
noinst_LTLIBRARIES += plugins/pixverse/libpixverse.la
plugins_pixverse_libpixverse_la_SOURCES = \
	plugins/pixverse/pixverse.h \
	plugins/pixverse/util.c \
	plugins/pixverse/jwt.c \
	plugins/pixverse/cookies.c \
	plugins/pixverse/classify.c \
	plugins/pixverse/ids.c \
	plugins/pixverse/session.c \
	plugins/pixverse/client.c \
	plugins/pixverse/auth.c \
	plugins/pixverse/web.c \
	plugins/pixverse/jsonbuf.c \
	plugins/pixverse/params.c \
	plugins/pixverse/generate.c \
	plugins/pixverse/jobs.c \
	plugins/pixverse/upload.c \
	plugins/pixverse/plan.c \
	plugins/pixverse/pool.c \
	plugins/pixverse/ops.c \
	plugins/pixverse/plugin.c
plugins_pixverse_libpixverse_la_CPPFLAGS = -I$(top_srcdir)/core/include
plugins_pixverse_libpixverse_la_CFLAGS = $(PA_BASE_CFLAGS)

plugin_LTLIBRARIES += plugins/pixverse.la
plugins_pixverse_la_SOURCES = plugins/pixverse/entry.c
plugins_pixverse_la_CPPFLAGS = -I$(top_srcdir)/core/include
plugins_pixverse_la_CFLAGS = $(PA_BASE_CFLAGS)
plugins_pixverse_la_LIBADD = plugins/pixverse/libpixverse.la plugins/support/libprovauth_plugin.la
plugins_pixverse_la_LDFLAGS = $(PA_PLUGIN_LINK)
EXTRA_DIST += plugins/pixverse/README.md
