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
# ---- pixiv (end) ----
