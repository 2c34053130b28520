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
plugins_pixverse_la_CFLAGS = $(PA_BASE_CFLAGS)
plugins_pixverse_la_LDFLAGS = $(PA_PLUGIN_LINK)
EXTRA_DIST += plugins/pixverse/README.md

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
plugins_pixiv_la_CFLAGS = $(PA_BASE_CFLAGS)
plugins_pixiv_la_LDFLAGS = $(PA_PLUGIN_LINK)
EXTRA_DIST += plugins/pixiv/README.md
# ---- pixiv (end) ----

