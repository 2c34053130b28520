# The helpers every test script sources (tests/cli/*.sh, tests/install): they
# are read from $(srcdir) at run time, so the dist must carry them.
EXTRA_DIST += tests/cli/cli_helpers.sh
