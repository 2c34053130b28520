# The session lifecycle demo (`./dev demo`) and its test: make check runs the
# demo against the build tree and holds it to its claims.
EXTRA_DIST += tools/demo.sh

TESTS += tests/cli/test_demo.sh
EXTRA_DIST += tests/cli/test_demo.sh
CLEANFILES += demo-events.log
