# Store: the provauth_store backends (memory, sqlite), sealing of secrets at
# rest and the encoding of the sealed account record.
core_libprovauth_core_la_SOURCES += \
	core/store_private.h \
	core/store.c \
	core/store_memory.c \
	core/store_sqlite.c \
	core/store_key.c \
	core/store_perm.c \
	core/store_holder.c \
	core/seal.h \
	core/seal.c \
	core/record.h \
	core/record.c

check_PROGRAMS += tests/unit/test_store tests/unit/test_seal tests/unit/test_store_hardening tests/unit/test_store_integrity
TESTS += tests/unit/test_store tests/unit/test_seal tests/unit/test_store_hardening tests/unit/test_store_integrity

tests_unit_test_store_SOURCES = tests/unit/test_store.c
tests_unit_test_store_CFLAGS = $(PA_TEST_CF)
tests_unit_test_store_LDADD = $(PA_TEST_LIBS)

tests_unit_test_seal_SOURCES = tests/unit/test_seal.c
tests_unit_test_seal_CFLAGS = $(PA_TEST_CF)
tests_unit_test_seal_LDADD = $(PA_TEST_LIBS)

tests_unit_test_store_hardening_SOURCES = tests/unit/test_store_hardening.c
tests_unit_test_store_hardening_CFLAGS = $(PA_TEST_CF)
tests_unit_test_store_hardening_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS)

tests_unit_test_store_integrity_SOURCES = tests/unit/test_store_integrity.c
tests_unit_test_store_integrity_CFLAGS = $(PA_TEST_CF)
tests_unit_test_store_integrity_LDADD = tests/support/libtestsupport.la $(PA_TEST_LIBS)
