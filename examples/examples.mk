# examples/: programs for outside users, built with their own plain Makefiles
# against an installed provauth (pkg-config), never by this build.
# tests/install/test_installed.sh installs the build and builds them the way
# a user would.
EXTRA_DIST += \
	examples/embed/Makefile \
	examples/embed/embed_jobs.c \
	examples/plugin/Makefile \
	examples/plugin/bearer.c
