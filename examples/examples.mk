# examples/: programs for outside users, built with their own plain Makefiles
# against an installed provauth (pkg-config), never by this build. The test
# installs the build and builds them the way a user would.
EXTRA_DIST += \
	examples/embed/Makefile \
	examples/embed/embed_jobs.c \
	examples/plugin/Makefile \
	examples/plugin/bearer.c \
	tests/install/test_installed.sh

# The loopback API the example plugin is tested against.
check_PROGRAMS += tests/fake/fake-bearer
tests_fake_fake_bearer_SOURCES = tests/fake/fake_bearer_main.c
tests_fake_fake_bearer_CPPFLAGS = -I$(top_builddir) -I$(top_srcdir)/tests/fake
tests_fake_fake_bearer_CFLAGS = $(PA_FAKE_CF)
tests_fake_fake_bearer_LDADD = tests/fake/libfakeprov.la $(PA_FAKE_LIBS)

# Where things were installed, and how this build compiles (the examples
# must be built the same way, e.g. with the sanitizers of an ASan build).
PA_INSTALL_TEST_ENV = \
	PA_SRCDIR='$(abs_top_srcdir)' PA_BUILDDIR='$(abs_top_builddir)' PA_MAKE='$(MAKE)' \
	PA_CC='$(CC)' PA_CFLAGS='$(CFLAGS)' PA_LDFLAGS='$(LDFLAGS)' \
	PA_BINDIR='$(bindir)' PA_LIBDIR='$(libdir)' PA_INCLUDEDIR='$(includedir)' \
	PA_PLUGINDIR='$(plugindir)' PA_MANDIR='$(mandir)' PA_PKGDATADIR='$(pkgdatadir)'

# make check: into a DESTDIR under a temp dir.
TESTS += tests/install/test_installed.sh
AM_TESTS_ENVIRONMENT += export $(PA_INSTALL_TEST_ENV);

# make install runs ldconfig for a real install by root (install-exec-hook).
TESTS += tests/install/test_ldconfig_hook.sh
EXTRA_DIST += tests/install/test_ldconfig_hook.sh

# configure refuses the source tree; ./dev names an in-place configured tree.
TESTS += tests/install/test_in_tree.sh
EXTRA_DIST += tests/install/test_in_tree.sh

# make installcheck (and so make distcheck): the real installation.
installcheck-local: tests/fake/fake-bearer$(EXEEXT) tests/fake/fake-pixverse$(EXEEXT)
	export $(PA_INSTALL_TEST_ENV) PA_INSTALLED=1; \
	  bash $(srcdir)/tests/install/test_installed.sh
