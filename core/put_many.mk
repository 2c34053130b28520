# Batched writes (store version 2's put_many, provauth_account_put_many):
# the contract on both stores and through the manager, and a crash test
# that SIGKILLs a process in the middle of a large sqlite batch.
check_PROGRAMS += tests/unit/test_put_many tests/integration/test_put_many_crash
TESTS += tests/unit/test_put_many tests/integration/test_put_many_crash

tests_unit_test_put_many_SOURCES = \
	tests/unit/test_put_many.c \
	tests/unit/scripted_provider.c \
	tests/unit/scripted_provider.h
tests_unit_test_put_many_CFLAGS = $(PA_TEST_CF)
tests_unit_test_put_many_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS)

tests_integration_test_put_many_crash_SOURCES = tests/integration/test_put_many_crash.c
tests_integration_test_put_many_crash_CFLAGS = $(PA_TEST_CF)
tests_integration_test_put_many_crash_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS)
