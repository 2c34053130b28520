# Core: errors, helpers, accounts, logging, JSON, encodings, the session
# manager and the host services table.
core_libprovauth_core_la_SOURCES += \
	core/error.c \
	core/util.c \
	core/account.c \
	core/encoding.c \
	core/failure.c \
	core/harden.c \
	core/host.c \
	core/json.c \
	core/log.c \
	core/manager.c \
	core/manager.h \
	core/refresh_refused.c \
	core/session.c \
	core/update.c

check_PROGRAMS += tests/unit/test_session
TESTS += tests/unit/test_session
tests_unit_test_session_SOURCES = \
	tests/unit/test_session.c \
	tests/unit/scripted_provider.c \
	tests/unit/scripted_provider.h
tests_unit_test_session_CFLAGS = $(PA_TEST_CF)
tests_unit_test_session_LDADD = $(PA_TEST_LIBS)
