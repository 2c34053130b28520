# Quoting server text without the secrets it may echo: the one check the
# manager and (as host->text_excerpt, plugin ABI 1.4) the plugins use.
core_libprovauth_core_la_SOURCES += core/redact.c

check_PROGRAMS += tests/unit/test_redact
TESTS += tests/unit/test_redact
tests_unit_test_redact_SOURCES = tests/unit/test_redact.c
tests_unit_test_redact_CFLAGS = $(PA_TEST_CF)
tests_unit_test_redact_LDADD = $(PA_TEST_LIBS) tests/support/libtestsupport.la

# The red team's echoes through the real plugins, the fakes and the CLI.
TESTS += tests/cli/test_cli_echo.sh
EXTRA_DIST += tests/cli/test_cli_echo.sh
