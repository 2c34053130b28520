# tests/cli: the provauth program, its man page, sample settings and the
# demo, driven as a user would, and the house rules' checker (tools/lint.py,
# ./dev lint) fed files that break each rule. The helpers every script
# sources (cli_helpers.sh, also by tests/install) are read from $(srcdir) at
# run time.
PA_CLI_TESTS = \
	tests/cli/test_cli_plugins.sh \
	tests/cli/test_cli_accounts.sh \
	tests/cli/test_cli_recovery.sh \
	tests/cli/test_cli_output.sh \
	tests/cli/test_cli_reimport.sh \
	tests/cli/test_cli_echo.sh \
	tests/cli/test_cli_store.sh \
	tests/cli/test_cli_pool.sh \
	tests/cli/test_sample_settings.sh \
	tests/cli/test_man_page.sh \
	tests/cli/test_provauthd_unit.sh \
	tests/cli/test_demo.sh \
	tests/cli/test_lint.sh
TESTS += $(PA_CLI_TESTS)
EXTRA_DIST += $(PA_CLI_TESTS) tests/cli/cli_helpers.sh tools/demo.sh tools/lint.py
CLEANFILES += demo-events.log
