# provauthd, the HTTP daemon (daemon/daemon.h has its rooms). It links
# libprovauth.so and uses only the public API, as an outside program would.
# Each room lists its files in its own fragment, included below.
sbin_PROGRAMS = daemon/provauthd
daemon_provauthd_SOURCES = \
	daemon/daemon.h \
	daemon/provauthd.c \
	daemon/world.c \
	daemon/log.c \
	daemon/config/config.c \
	daemon/needs_human.c
daemon_provauthd_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/core/include -I$(top_srcdir)/daemon \
	-DSYSCONFDIR='"$(sysconfdir)"'
daemon_provauthd_CFLAGS = $(PA_BASE_CFLAGS) $(JSONC_CFLAGS) $(MHD_CFLAGS) $(CURL_CFLAGS) $(OPENSSL_CFLAGS)
daemon_provauthd_LDADD = libprovauth.la $(JSONC_LIBS) $(MHD_LIBS) $(CURL_LIBS) $(OPENSSL_LIBS)

# The rooms.
include $(srcdir)/daemon/api/api.mk
include $(srcdir)/daemon/ops/ops.mk
include $(srcdir)/daemon/keeper/keeper.mk
include $(srcdir)/daemon/notify/notify.mk
include $(srcdir)/daemon/http/http.mk
