/*
 * <provauth/store.h>: where accounts live. A host may implement this over its
 * own database and hand it to provauth_manager_new through the options; the
 * library ships "sqlite" (the default, secrets sealed with AES-256-GCM),
 * "postgres" (one store shared by many hosts, sealed the same way) and
 * "memory".
 *
 * Contract for implementers
 *  - Every function may be called from several threads at once; the store
 *    serialises as it needs.
 *  - Accounts passed in are borrowed; accounts handed out are new copies the
 *    caller frees with provauth_account_free / provauth_account_list_free.
 *  - Revisions make writes safe between threads and processes: put with
 *    account->revision == 0 inserts (PROVAUTH_ECONFLICT if the id exists);
 *    otherwise it replaces only when the stored revision equals
 *    account->revision, else PROVAUTH_ECONFLICT and nothing changes. On
 *    success the store sets account->revision to the new value (strictly
 *    greater) and account->updated_at to the write time.
 *  - A successful put is durable when it returns: a crash afterwards cannot
 *    lose it. This is what lets a rotated refresh token be used safely.
 *  - put_many (version 2) writes n accounts in one durable transaction: all
 *    of them or none, also across a crash. Each account follows put's
 *    revision rules, checked against the store as it was before the batch.
 *    An id may appear only once in a batch (PROVAUTH_EINVAL naming it
 *    otherwise: the second copy's expected revision could not be known).
 *    On any failure (ECONFLICT, ENOTFOUND, EINVAL, I/O) nothing is written,
 *    no account passed in is changed, and the message names the first
 *    account at fault by id. On success every account gets its new revision
 *    and updated_at, as put would set them. n == 0 succeeds without touching
 *    the store (accounts may then be NULL).
 *  - list_checked (version 3, may be NULL) lists like list, except that an
 *    account whose stored record cannot be used (changed outside provauth,
 *    damaged) does not fail the listing: its id goes to *damaged instead.
 *  - Leases coordinate recoveries across processes: lease_acquire succeeds
 *    when no other owner holds an unexpired lease on the account, and then
 *    holds it for ttl_ms. It returns PROVAUTH_EBUSY (not an error to log)
 *    when someone else holds it. lease_release by a non-owner is a no-op.
 *  - lease_wait (version 4, may be NULL) lets a waiter sleep instead of
 *    polling: it returns 0 as soon as the lease on id may have become free
 *    or the account may have changed (a put or remove of it, a release of its
 *    lease, the death of its holder), PROVAUTH_EBUSY when timeout_ms ran out
 *    first. Waking early or for nothing is allowed; the caller re-reads the
 *    account and tries the lease again either way.
 *  - put_verbatim (version 4, may be NULL) writes n accounts exactly as
 *    given, revision (>= 1) and updated_at kept, into a store holding none
 *    of their ids: all or nothing, as put_many. It is how a store is copied
 *    to another (provauth store migrate). PROVAUTH_ECONFLICT names the first
 *    id already there; PROVAUTH_EINVAL a revision of 0 or an id given twice.
 *  - find_email (version 6, may be NULL) reads the account of `provider`
 *    whose email equals `email`, compared case-insensitively in ASCII (as
 *    strcasecmp), the lowest id (byte order) when several have it;
 *    PROVAUTH_ENOTFOUND when none. Only that row is read and unsealed: an
 *    import finds its account by email without listing the provider's.
 *  - Errors: PROVAUTH_ENOTFOUND for a missing id, PROVAUTH_ECONFLICT,
 *    PROVAUTH_EBUSY as above, PROVAUTH_EIO / ESTORE / ECRYPTO with a message
 *    naming the store (its file, or its server and database) for the rest.
 *    Messages never include secrets, nor a database password.
 */
#ifndef PROVAUTH_STORE_H
#define PROVAUTH_STORE_H

#include <provauth/provauth.h>
#include <provauth/pool.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * 2 added put_many, 3 list_checked, 4 lease_wait and put_verbatim, 5 the
 * account pool, 6 find_email. A manager accepts a host store of version 1
 * (it has no put_many member: provauth_account_put_many then refuses
 * batches of more than one account rather than write them non-atomically),
 * 2 (no list_checked: provauth_account_list_checked then lists with list,
 * where any damaged record fails the whole listing), 3 (no lease_wait:
 * waiters poll), 4 (no pool: the provauth_pool_* functions answer
 * PROVAUTH_EUNSUPPORTED), 5 (no find_email: an import lists the provider's
 * accounts to find one by email) or 6.
 */
#define PROVAUTH_STORE_VERSION 6

/*
 * ---- The account pool (version 5) ----
 *
 * The store keeps, per account, its pool state (provauth_pool_account:
 * status, priority, max slots, effective cap, slots in use, cooldown,
 * credits by kind, last use) and the reservations. An account never
 * touched by the pool has the defaults: status active, priority 0, max
 * slots the query's default_slots, no cap, nothing in use, no cooldown, no
 * credits known (credits_at 0). Pool state is not secret and not sealed;
 * it goes when its account is removed.
 *
 * pool_reserve, in one transaction (sqlite: BEGIN IMMEDIATE; postgres: the
 * candidate row locked FOR UPDATE SKIP LOCKED, so concurrent reservers
 * take different accounts instead of queueing on one):
 *  1. an account of q->provider whose cap probe is due (cap_probe_at <= now)
 *     gets effective_cap + 1 (no cap once that reaches max slots) and, if
 *     still capped, cap_probe_at = now + q->probe_interval;
 *  2. candidates: accounts of q->provider (only q->account_id when set)
 *     whose session health is not "invalid", status "active", cooldown_until
 *     0 or <= now, in_use < the cap (effective_cap when set, else max_slots,
 *     else q->default_slots), and, when q->credit_kind is set and not pinned,
 *     credits of that kind >= q->cost (an account whose credits were never
 *     learnt passes: credits_at 0);
 *  3. the first by priority descending, then credits of q->credit_kind
 *     ascending (descending with most_credits_first; never learnt counts as
 *     0), then last_used ascending (never used first), then id;
 *  4. its in_use + 1, last_used = now, credits of the kind minus cost (never
 *     below 0) when learnt; a reservation row (q->reservation_id, holder
 *     this process, cost, kind, label, created_at = now) is inserted.
 * PROVAUTH_ENOACCOUNT (no message needed: the manager explains) when there
 * is no candidate; ENOTFOUND when q->account_id names no account of the
 * provider. A backend may make new accounts' pool rows and run step 1 less
 * often than every reservation (postgres: once a second per store and
 * provider, to save a round trip), but always before answering ENOACCOUNT:
 * a new account or a due probe is then seen at most that late.
 *
 * pool_release, in one transaction: removes the reservation (found by id,
 * else by account and job id), its account's in_use - 1 (never below 0),
 * then applies the args: refund (the cost back to the kind), cooldown,
 * lower_cap (effective_cap = max(1, in_use before this release - 1) and
 * cap_probe_at), status. ENOTFOUND when there is no such reservation (it
 * was released or reclaimed): then nothing changes.
 *
 * pool_reclaim: removes reservations without a job whose holder is dead
 * (the lease rules: this host's dead process; postgres: the holder's
 * connection is gone) and reservations older than ttl seconds; then sets
 * every account's in_use of the provider to its count of reservations,
 * counting the accounts it changed.
 */
typedef struct provauth_pool_query {
	unsigned int version;
	const char *reservation_id;   /* the new reservation's id (the manager makes it) */
	const char *provider;
	const char *account_id;       /* pinned, or NULL */
	const char *credit_kind;      /* NULL: no credit check or charge */
	int64_t cost;
	int most_credits_first;
	int64_t now;                  /* unix seconds, the manager's clock */
	int default_slots;            /* max slots of an account whose plan is not known */
	int64_t probe_interval;       /* seconds between upward probes of a learnt cap */
	const char *holder;           /* the manager's owner id (the store adds its process identity) */
	const char *label;            /* NULL allowed */
} provauth_pool_query;

#define PROVAUTH_POOL_QUERY_VERSION 1

typedef struct provauth_pool_release_args {
	unsigned int version;
	const char *reservation_id;   /* or NULL and: */
	const char *account_id;
	const char *job_id;
	int refund;                   /* 1: give the reservation's cost back */
	int64_t cooldown_until;       /* > 0: set it (and cooldown_reason) unless a later one is set */
	const char *cooldown_reason;
	int lower_cap;
	int64_t cap_probe_at;
	const char *status;           /* NULL: unchanged; "exhausted", "banned" */
} provauth_pool_release_args;

#define PROVAUTH_POOL_RELEASE_ARGS_VERSION 1

/* Changes to one account's pool state; unset members leave it alone. */
typedef struct provauth_pool_update {
	unsigned int version;
	const char *account_id;
	int64_t now;
	int set_max_slots;  int max_slots;          /* also drops a learnt cap at or above it */
	int set_credits;                           /* replace every kind; credits_at = now */
	const provauth_pool_credit *credits;
	size_t credit_count;
	const char *status;                        /* NULL: unchanged */
	int set_priority;   int priority;
	int clear_cooldown;
} provauth_pool_update;

#define PROVAUTH_POOL_UPDATE_VERSION 1

typedef struct provauth_pool_reclaim_counts {
	size_t dead;
	size_t expired;
	size_t counters_fixed;
} provauth_pool_reclaim_counts;

struct provauth_store {
	unsigned int version;   /* the PROVAUTH_STORE_VERSION the store was written against */
	const char *name;       /* "sqlite", "memory", or the host's */

	int (*get)(provauth_store *s, provauth_account **out, const char *id);
	/* provider NULL: all accounts. Ordered by id. */
	int (*list)(provauth_store *s, provauth_account ***out, size_t *count, const char *provider);
	int (*put)(provauth_store *s, provauth_account *account);
	/* expected_revision 0 removes whatever is there. */
	int (*remove)(provauth_store *s, const char *id, uint64_t expected_revision);
	int (*lease_acquire)(provauth_store *s, const char *id, const char *owner, int64_t ttl_ms);
	int (*lease_release)(provauth_store *s, const char *id, const char *owner);
	void (*free)(provauth_store *s);
	/* From version 2 (absent from a version 1 struct): all-or-nothing put of accounts[0..n-1]. */
	int (*put_many)(provauth_store *s, provauth_account *const *accounts, size_t n);
	/*
	 * From version 3 (absent before; may be NULL): list, naming the accounts
	 * whose records cannot be used in *damaged (ids, ordered; freed with
	 * provauth_damaged_list_free) instead of failing.
	 */
	int (*list_checked)(provauth_store *s, provauth_account ***out, size_t *count, char ***damaged,
	                    size_t *damaged_count, const char *provider);
	/* From version 4 (absent before; either may be NULL): see the contract above. */
	int (*lease_wait)(provauth_store *s, const char *id, int64_t timeout_ms);
	int (*put_verbatim)(provauth_store *s, provauth_account *const *accounts, size_t n);
	/* From version 5 (absent before; all NULL or all set): the account pool, see above. */
	int (*pool_reserve)(provauth_store *s, provauth_pool_reservation **out, const provauth_pool_query *q);
	int (*pool_attach)(provauth_store *s, const char *reservation_id, const char *job_id);
	int (*pool_release)(provauth_store *s, const provauth_pool_release_args *a);
	int (*pool_update)(provauth_store *s, const provauth_pool_update *u);
	/*
	 * provider NULL: every provider; account_id, when set, that account alone.
	 * Accounts ordered by id, reservations by id; either out may be NULL.
	 */
	int (*pool_list)(provauth_store *s, provauth_pool_account ***out, size_t *count,
	                 provauth_pool_reservation ***reservations, size_t *reservation_count,
	                 const char *provider, const char *account_id);
	int (*pool_reclaim)(provauth_store *s, provauth_pool_reclaim_counts *out, const char *provider, int64_t now,
	                    int64_t ttl);
	/* From version 6 (absent before; may be NULL): see the contract above. */
	int (*find_email)(provauth_store *s, provauth_account **out, const char *provider, const char *email);
};

/* Frees any store through its free member. NULL is allowed. */
PROVAUTH_EXTERN(void) provauth_store_free(provauth_store *store);

/* An in-process store: fast, not durable, no sealing. For tests and caches. */
PROVAUTH_EXTERN(int) provauth_store_memory_new(provauth_store **out);

typedef struct provauth_sqlite_options {
	unsigned int version;
	const char *key_file;     /* 32-byte key; created 0600 from a CSPRNG if absent */
	const unsigned char *key; /* or the key itself (32 bytes); wins over key_file */
	int busy_timeout_ms;      /* 0: 5000 */
} provauth_sqlite_options;

#define PROVAUTH_SQLITE_OPTIONS_VERSION 1
#define PROVAUTH_SQLITE_OPTIONS_INIT { PROVAUTH_SQLITE_OPTIONS_VERSION, NULL, NULL, 0 }

/*
 * Opens (creating 0600 if needed) the sqlite store at `path`: WAL journal,
 * durable commits (a write returns once its commit is on disk; threads that
 * write at the same moment share one fdatasync; leases are not synced),
 * busy timeout, schema migrations. When neither
 * key nor key_file is given, PROVAUTH_STORE_KEY (64 hex digits) is used, else
 * "<path>.key". A wrong key, a corrupt file or a newer schema fail with a
 * clear message and change nothing on disk (neither the database nor its
 * -wal). Refused as well: a store directory (or any directory above it, up
 * to /), database, -wal, -shm or key file owned by another user than the
 * caller or root, or writable by group or others (sticky directories such as
 * /tmp excepted); a 0-byte database this call did not create. A store that
 * holds accounts never gets a new key.
 */
PROVAUTH_EXTERN(int) provauth_store_sqlite_open(provauth_store **out, const char *path,
                                                const provauth_sqlite_options *opts);

typedef struct provauth_postgres_options {
	unsigned int version;
	const char *key_file;      /* 32-byte key; created 0600 only for a store with no sealed data yet */
	const unsigned char *key;  /* or the key itself (32 bytes); wins over key_file */
	int pool_size;             /* connections for reads and writes; 0: 4 */
	int connect_timeout_ms;    /* 0: 5000 */
	int statement_timeout_ms;  /* 0: 30000 */
	int no_create;             /* 1: a database without provauth's tables is PROVAUTH_ENOTFOUND */
} provauth_postgres_options;

#define PROVAUTH_POSTGRES_OPTIONS_VERSION 1
#define PROVAUTH_POSTGRES_OPTIONS_INIT { PROVAUTH_POSTGRES_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0 }

/*
 * Opens the "postgres" store in the database `conninfo` names (a libpq
 * connection string or URI; the password comes from it, PGPASSWORD, a libpq
 * passfile or a service file). Creates provauth's tables on first use
 * (unless no_create), migrates an older schema, and refuses a newer one or a
 * wrong key without changing anything. When neither key nor key_file is
 * given, PROVAUTH_STORE_KEY (64 hex digits) is used; there is no default
 * key file, since every host sharing the database needs the same key.
 * Secrets are sealed exactly as in the sqlite store. Leases are PostgreSQL
 * session advisory locks held on a connection of their own: the server
 * frees them when the holder's connection ends, so a dead holder's lease
 * frees itself at once; waiters are woken by LISTEN/NOTIFY. Connections
 * come from a thread-safe pool and are re-established after a loss; a call
 * that meets a lost connection fails with PROVAUTH_EIO naming the server,
 * and writes nothing. Messages name host, port, database and user, never
 * a password.
 */
PROVAUTH_EXTERN(int) provauth_store_postgres_open(provauth_store **out, const char *conninfo,
                                                  const provauth_postgres_options *opts);

/* What and where a manager's store is: for tools, status pages and checks. */
typedef struct provauth_store_info {
	unsigned int version;
	char *backend;            /* "sqlite", "postgres", "memory", or a host store's name */
	char *location;           /* the sqlite file, or postgres "USER@HOST:PORT/DBNAME" (never a
	                             password); NULL for memory and host stores */
	char *key_file;           /* the sealing key's file; NULL when the key comes from elsewhere */
	int64_t schema_version;   /* the store's schema version; 0 when it has none */
} provauth_store_info;

#define PROVAUTH_STORE_INFO_VERSION 1

/*
 * Describes a store, or the store of m. A store the library did not make
 * (a host's, whatever its name) is described by its name alone. *out is
 * freed with provauth_store_info_free.
 */
PROVAUTH_EXTERN(int) provauth_store_info_get(provauth_store_info **out, provauth_store *store);
PROVAUTH_EXTERN(int) provauth_manager_store_info(provauth_store_info **out, provauth_manager *m);
PROVAUTH_EXTERN(void) provauth_store_info_free(provauth_store_info *info);

#ifdef __cplusplus
}
#endif
#endif /* PROVAUTH_STORE_H */
