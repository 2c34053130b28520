# core/pool: the account pool (<provauth/pool.h>): choosing and reserving an
# account for a job, giving it back with the job's outcome, learning credits
# and limits from the provider's pool hooks, and repairing the pool from what
# is in flight. Reservations themselves are the store's (store.h, version 5).
core_libprovauth_core_la_SOURCES += \
	core/pool/pool.h \
	core/pool/common.c \
	core/pool/wake.c \
	core/pool/outcome.c \
	core/pool/acquire.c \
	core/pool/release.c \
	core/pool/sync.c \
	core/pool/reconcile.c \
	core/pool/list.c
