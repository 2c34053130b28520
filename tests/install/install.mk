# tests/install: the build installed the way users install it.
#   test_installed.sh     into a DESTDIR (make check) or for real (installcheck);
#                         builds examples/ against it with pkg-config only
#   test_ldconfig_hook.sh make install runs ldconfig for a real install by root
#   test_in_tree.sh       configure refuses the source tree; ./dev names it

# Where things were installed, and how this build compiles (the examples
# must be built the same way, e.g. with the sanitizers of an ASan build).
PA_INSTALL_TEST_ENV = \
	PA_SRCDIR='$(abs_top_srcdir)' PA_BUILDDIR='$(abs_top_builddir)' PA_MAKE='$(MAKE)' \
	PA_CC='$(CC)' PA_CFLAGS='$(CFLAGS)' PA_LDFLAGS='$(LDFLAGS)' \
	PA_BINDIR='$(bindir)' PA_LIBDIR='$(libdir)' PA_INCLUDEDIR='$(includedir)' \
	PA_PLUGINDIR='$(plugindir)' PA_MANDIR='$(mandir)' PA_PKGDATADIR='$(pkgdatadir)'
AM_TESTS_ENVIRONMENT += export $(PA_INSTALL_TEST_ENV);

PA_INSTALL_TESTS = \
	tests/install/test_installed.sh \
	tests/install/test_ldconfig_hook.sh \
	tests/install/test_in_tree.sh
TESTS += $(PA_INSTALL_TESTS)
EXTRA_DIST += $(PA_INSTALL_TESTS)

installcheck-local: tests/fake/fake-bearer$(EXEEXT) tests/fake/fake-pixverse$(EXEEXT)
	export $(PA_INSTALL_TEST_ENV) PA_INSTALLED=1; \
	  bash $(srcdir)/tests/install/test_installed.sh
