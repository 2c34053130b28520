# plugins/pixiv: the pixiv provider plugin.
#
# Its objects are built once, into the convenience library libpixiv.la,
# built like an out-of-tree plugin: only <provauth/plugin.h> on the include
# path. The module (entry.c, the one exported symbol, plus the library), its
# unit test (tests/unit/unit.mk) and the fuzz targets (fuzz/fuzz.mk) all
# link that library.
noinst_LTLIBRARIES += plugins/pixiv/libpixiv.la
plugins_pixiv_libpixiv_la_SOURCES = \
	plugins/pixiv/pixiv.h \
	plugins/pixiv/plugin.c \
	plugins/pixiv/headers.c \
	plugins/pixiv/token.c \
	plugins/pixiv/refresh.c \
	plugins/pixiv/classify.c \
	plugins/pixiv/ops.c \
	plugins/pixiv/util.c
plugins_pixiv_libpixiv_la_CPPFLAGS = -I$(top_srcdir)/core/include
plugins_pixiv_libpixiv_la_CFLAGS = $(PA_BASE_CFLAGS)

plugin_LTLIBRARIES += plugins/pixiv.la
plugins_pixiv_la_SOURCES = plugins/pixiv/entry.c
plugins_pixiv_la_CPPFLAGS = -I$(top_srcdir)/core/include
plugins_pixiv_la_CFLAGS = $(PA_BASE_CFLAGS)
plugins_pixiv_la_LIBADD = plugins/pixiv/libpixiv.la plugins/support/libprovauth_plugin.la
plugins_pixiv_la_LDFLAGS = $(PA_PLUGIN_LINK)
EXTRA_DIST += plugins/pixiv/README.md
