# Declared import kinds (provider->import_kinds, ABI 1.3): checked by the
# loader, listed by provauth_provider_import_kinds and `provauth plugins`,
# enforced before import. The fixture below is refused at load for a kind
# name nobody could type; tests are in test_loader, test_import and the CLI
# scripts.
check_LTLIBRARIES += tests/fixtures/bad_kinds.la
tests_fixtures_bad_kinds_la_SOURCES = tests/fixtures/bad_kinds.c tests/fixtures/fixture.h
tests_fixtures_bad_kinds_la_CPPFLAGS = $(PA_FIXTURE_CPPFLAGS)
tests_fixtures_bad_kinds_la_CFLAGS = $(AM_CFLAGS)
tests_fixtures_bad_kinds_la_LDFLAGS = $(PA_FIXTURE_LINK)
