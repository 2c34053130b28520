# Plugin loader: discovery, checks, init and unload of provider plugins.
core_libprovauth_core_la_SOURCES += core/plugin_loader.c core/plugin_trial.c

check_PROGRAMS += tests/unit/test_loader
TESTS += tests/unit/test_loader
tests_unit_test_loader_SOURCES = tests/unit/test_loader.c
tests_unit_test_loader_CFLAGS = $(PA_TEST_CF)
tests_unit_test_loader_LDADD = $(PA_TEST_LIBS)
