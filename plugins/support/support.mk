# plugins/support: libprovauth_plugin, the static helper library for plugin
# writers (<provauth/plugin_util.h>; pkg-config provauth-plugin).
#
# It lives beside the plugins rather than in core/: it runs inside plugins,
# is built the way a plugin is (only core/include on the path, nothing of
# the core linked: every service comes from the host table) and never goes
# into libprovauth. Installed static (-static) and compiled -fPIC, so an
# out-of-tree plugin links it into its shared object; the in-tree plugins,
# their unit tests and the fuzz targets link the same objects.
lib_LTLIBRARIES += plugins/support/libprovauth_plugin.la
plugins_support_libprovauth_plugin_la_SOURCES = \
	plugins/support/text.c \
	plugins/support/setting.c \
	plugins/support/url.c \
	plugins/support/token.c \
	plugins/support/operation.c
plugins_support_libprovauth_plugin_la_CPPFLAGS = -I$(top_srcdir)/core/include
# Hidden: linked into a plugin, the helpers must not join its exports.
plugins_support_libprovauth_plugin_la_CFLAGS = $(PA_BASE_CFLAGS) -fPIC -fvisibility=hidden
plugins_support_libprovauth_plugin_la_LDFLAGS = -static

pkgconfig_DATA += provauth-plugin.pc
