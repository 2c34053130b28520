# examples/: programs for outside users, built with their own plain Makefiles
# against an installed provauth (pkg-config). tests/install/test_installed.sh
# installs the build and builds embed and plugin the way a user would. The
# worker is also built by `make check` (the build's flags, warnings as
# errors in CI, sanitizers) because tests/cli/test_cli_pool.sh runs it
# against the fake Pixverse; it uses the public headers only, like the copy
# its own Makefile builds.
EXTRA_DIST += \
	examples/embed/Makefile \
	examples/embed/embed_jobs.c \
	examples/plugin/Makefile \
	examples/plugin/bearer.c \
	examples/worker/Makefile \
	examples/worker/README.md \
	examples/worker/worker.c
check_PROGRAMS += examples/worker/worker
examples_worker_worker_SOURCES = examples/worker/worker.c
examples_worker_worker_CPPFLAGS = -I$(top_srcdir)/core/include
examples_worker_worker_CFLAGS = $(AM_CFLAGS) -pthread
examples_worker_worker_LDADD = libprovauth.la -lpthread
