# core/store: the provauth_store backends (memory, sqlite, postgres), who may own the
# store's files, the sealing key, sealing of secrets at rest (AES-256-GCM)
# and the encoding of the sealed account record. The rest of the core uses
# the store only through <provauth/store.h>, so the room has no header for
# it; the tests and fuzzers also reach seal.h and record.h.
#  - private.h: what the backends share; sqlite_private.h: what the sqlite
#    backend's files (open, files, schema, rows, state columns, leases,
#    statements, group commit) share; pg_private.h: what the postgres backend's files
#    (open, connections, schema, rows, leases) share.
core_libprovauth_core_la_SOURCES += \
	core/store/private.h \
	core/store/store.c \
	core/store/info.c \
	core/store/memory.c \
	core/store/memory_private.h \
	core/store/memory_pool.c \
	core/store/pool_objects.c \
	core/store/sqlite_private.h \
	core/store/sqlite.c \
	core/store/sqlite_sql.c \
	core/store/sqlite_files.c \
	core/store/sqlite_schema.c \
	core/store/sqlite_rows.c \
	core/store/sqlite_state.c \
	core/store/sqlite_lease.c \
	core/store/sqlite_sync.c \
	core/store/sqlite_pool.c \
	core/store/pg_private.h \
	core/store/postgres.c \
	core/store/pg_conn.c \
	core/store/pg_schema.c \
	core/store/pg_rows.c \
	core/store/pg_lease.c \
	core/store/pg_pool.c \
	core/store/key.c \
	core/store/perm.c \
	core/store/trusted_file.c \
	core/store/holder.c \
	core/store/seal.h \
	core/store/seal.c \
	core/store/account_seal.c \
	core/store/record.h \
	core/store/record.c
