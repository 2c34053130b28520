# Importing credentials into a named account (provauth_account_import_ext)
# and the CLI's `accounts import` / --account.
check_PROGRAMS += tests/unit/test_import
TESTS += tests/unit/test_import
tests_unit_test_import_SOURCES = tests/unit/test_import.c
tests_unit_test_import_CFLAGS = $(PA_TEST_CF)
tests_unit_test_import_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS)

TESTS += tests/cli/test_cli_reimport.sh
EXTRA_DIST += tests/cli/test_cli_reimport.sh
