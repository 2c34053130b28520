/* Helpers shared by the built-in store backends (store.c). */
#ifndef PA_STORE_PRIVATE_H
#define PA_STORE_PRIVATE_H

#include <stdint.h>
#include <sys/stat.h>
#include <provauth/store.h>
#include "store/seal.h"

/*
 * Argument checks with the same messages in every backend. `where` names the
 * store in messages ("store memory", "store /path/accounts.db").
 */
int pa_store_check_id(const char *where, const char *id);
/* id, provider, cookie names and API key kinds present. */
int pa_store_check_account(const char *where, const provauth_account *a);
/*
 * A put_many batch: accounts given (unless n is 0), each one as
 * pa_store_check_account wants it, no id twice. Reads only.
 */
int pa_store_check_batch(const char *where, provauth_account *const *accounts, size_t n);
/* A put_verbatim batch: as pa_store_check_batch, and every revision at least 1. */
int pa_store_check_verbatim(const char *where, provauth_account *const *accounts, size_t n);
/* ttl_ms PA_STORE_NO_TTL: checks only id and owner (for release). */
#define PA_STORE_NO_TTL (-1)
int pa_store_check_lease(const char *where, const char *id, const char *owner, int64_t ttl_ms);
int pa_store_check_list(const char *where, provauth_account ***out, size_t *count);
/* Adds a copy of id to list_checked's damaged ids (*ids grows; *n counts). */
int pa_store_add_damaged(char ***ids, size_t *n, const char *id);

/* Wall-clock milliseconds: leases shared between processes need a common clock. */
int64_t pa_store_wall_ms(void);

/* mkdir -p of the file's directory; directories it creates are 0700. */
int pa_store_make_parent_dirs(const char *where, const char *file);
/* fsync of the file's directory, so a new name survives a crash. Best effort. */
void pa_store_sync_dir(const char *file);

/* ---- account_seal.c: an account's credentials sealed for its row ---- */

/* The associated data binding a sealed record to its row (*out malloc()ed; holds NULs). */
int pa_account_seal_ad(char **out, size_t *len, const char *id, const char *provider, const char *email,
                       uint64_t revision);
/* Seals a's credentials for the row it will have at `revision`; messages start with `where`. */
int pa_account_seal(unsigned char **blob, size_t *blob_len, const unsigned char key[PA_SEAL_KEY_LEN],
                    const provauth_account *a, uint64_t revision, const char *where);
/*
 * Opens a row's sealed credentials into a, whose id, provider, email and
 * revision are the row's. PROVAUTH_ECRYPTO when the row was changed outside
 * provauth (the caller has checked the key), ESTORE when undecodable.
 */
int pa_account_unseal(provauth_account *a, const unsigned char key[PA_SEAL_KEY_LEN], const unsigned char *blob,
                      size_t blob_len, const char *where);

/* The sealed known text that tells a wrong key from a right one, in every sealing backend. */
#define PA_KEY_CHECK_AD "provauth store key check"
#define PA_KEY_CHECK_TEXT "provauth store key check v1"

/* ---- pool_objects.c: the pool's data as stores hand it out ---- */

/* Copies every string given (NULL ones stay NULL). */
int pa_pool_reservation_new(provauth_pool_reservation **out, const char *id, const char *account_id,
                            const char *provider, const char *credit_kind, int64_t cost, int64_t created_at,
                            const char *job_id, const char *label);
/* healthy 1, everything else 0 / NULL but what is given; status NULL is "active". */
int pa_pool_account_new(provauth_pool_account **out, const char *account_id, const char *provider,
                        const char *email, const char *status, const char *cooldown_reason);
int pa_pool_account_add_credit(provauth_pool_account *a, const char *kind, int64_t amount);
/* Appends to a growing array of pointers (*n used of *cap). */
int pa_pool_list_append(void ***list, size_t *n, size_t *cap, void *item);
/* The arguments of pool_reserve, pool_release and pool_update, as every backend checks them. */
int pa_pool_check_query(const char *where, provauth_pool_reservation **out, const provauth_pool_query *q);
int pa_pool_check_release(const char *where, const provauth_pool_release_args *a);
int pa_pool_check_update(const char *where, const provauth_pool_update *u);

/* ---- info.c: describing a built-in store (each backend fills in its part; 1: not its store) ---- */

int pa_sql_describe(provauth_store *s, provauth_store_info *info);
int pa_pg_describe(provauth_store *s, provauth_store_info *info);

/* ---- store_perm.c: who may control the store's files ---- */

/*
 * Refuses (err, naming the path and its owner) a file or directory owned by
 * anyone but root or the caller, or writable by group or others (a sticky
 * directory excepted). check_fd judges an open descriptor, so the checked
 * file is the one used.
 */
int pa_store_check_stat(const char *where, const char *path, const struct stat *sb, int err);
int pa_store_check_fd(const char *where, const char *path, int fd, int err);
/* Every directory from the file's (resolved) directory up to / (PROVAUTH_ESTORE). */
int pa_store_check_dirs(const char *where, const char *file);

/* ---- store_holder.c: who holds a lease, and whether it still lives ---- */

typedef struct pa_lease_holder {
	int64_t pid;
	char boot_id[40];   /* /proc/sys/kernel/random/boot_id: one boot of one host */
	int64_t pidns;      /* inode of /proc/self/ns/pid: pids mean something only inside it */
	int64_t start;      /* /proc/PID/stat field 22: tells a reused pid from the holder */
} pa_lease_holder;

/* This process. Fields it cannot learn stay 0 / "": such a holder is never judged dead. */
void pa_lease_holder_self(pa_lease_holder *h);
/*
 * 1 when h is certainly a process of this boot and pid namespace that no
 * longer runs (gone, a zombie, or its pid reused by a process started at
 * another time); 0 otherwise, including every holder on another host.
 */
int pa_lease_holder_dead(const pa_lease_holder *h);

/* ---- store_key.c: the sqlite store's sealing key ---- */

typedef struct pa_store_key {
	unsigned char bytes[PA_SEAL_KEY_LEN];
	char *file;     /* the key file, when the key comes from one */
	char *source;   /* "the key in <file>", "the key in PROVAUTH_STORE_KEY", ...: for messages */
} pa_store_key;

/*
 * Picks the key: `key` (32 bytes), else `key_file`, else PROVAUTH_STORE_KEY
 * (64 hex digits), else "<db_path>.key". Touches no file: a key file is read
 * by pa_store_key_load. A malformed variable fails here (PROVAUTH_ECRYPTO,
 * naming the variable, never its value).
 */
int pa_store_key_resolve(pa_store_key *k, const char *where, const char *db_path,
                         const unsigned char *key, const char *key_file);
/*
 * Reads the key file, if the key comes from one. It must be a regular file of
 * exactly 32 bytes that group and others cannot access. A missing file is
 * created (0600, from the CSPRNG) only when may_create: a store that already
 * holds sealed data needs its old key, not a new one.
 */
int pa_store_key_load(pa_store_key *k, const char *where, int may_create);
/* Wipes the key. */
void pa_store_key_clear(pa_store_key *k);

#endif /* PA_STORE_PRIVATE_H */
