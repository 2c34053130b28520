# Settings: the YAML file (libyaml), its typed sections and provider blocks.
core_libprovauth_core_la_SOURCES += core/settings.c

check_PROGRAMS += tests/unit/test_settings
TESTS += tests/unit/test_settings
tests_unit_test_settings_SOURCES = tests/unit/test_settings.c
tests_unit_test_settings_CFLAGS = $(PA_TEST_CF)
tests_unit_test_settings_LDADD = $(PA_TEST_LIBS)

# The commented sample; docs/docs.mk installs it as provauth.yaml.sample.
EXTRA_DIST += etc/provauth.yaml
