# The provauth command-line tool. It links libprovauth.so and uses only the
# public API, as an outside program would. Its tests are in tests/cli; the
# demo it runs (./dev demo) is tools/demo.sh.
bin_PROGRAMS += provauth
provauth_SOURCES = \
	tools/cli.h \
	tools/provauth.c \
	tools/cli_output.c \
	tools/cli_env.c \
	tools/json_writer.c \
	tools/cli_input.c \
	tools/cli_progress.c \
	tools/cli_account.c \
	tools/cmd_plugins.c \
	tools/cmd_config.c \
	tools/cmd_accounts.c \
	tools/cmd_api_key.c \
	tools/cmd_status.c \
	tools/cli_store_spec.c \
	tools/cmd_store.c \
	tools/cmd_generate.c \
	tools/cmd_jobs.c \
	tools/cmd_pool.c
provauth_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/core/include
# json-c reads metadata and operation results, as any program using the library could.
# libpq parses the connection strings given to `store migrate`, to refuse
# one holding a password exactly as libpq would read it.
provauth_CFLAGS = $(AM_CFLAGS) $(JSONC_CFLAGS) $(LIBPQ_CFLAGS)
provauth_LDADD = libprovauth.la $(JSONC_LIBS) $(LIBPQ_LIBS)

