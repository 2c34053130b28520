/* What the memory store's files (memory.c: accounts and leases; memory_pool.c: the pool) share. */
#ifndef PA_STORE_MEMORY_PRIVATE_H
#define PA_STORE_MEMORY_PRIVATE_H

#include <pthread.h>
#include "store/private.h"

#define PA_MEM_WHERE "store memory"

typedef struct mem_lease {
	char *id;
	char *owner;
	int64_t expires_ms;   /* monotonic: leases never leave this process */
} mem_lease;

/* One account's pool state; the defaults of store.h until the pool first touches it. */
typedef struct mem_pool_row {
	char *account_id;
	char *status;
	int priority;
	int max_slots;            /* 0: not known */
	int effective_cap;        /* 0: none */
	int64_t cap_probe_at;
	int in_use;
	int64_t cooldown_until;
	char *cooldown_reason;
	provauth_pool_credit *credits;
	size_t credit_count;
	int64_t credits_at;
	int64_t last_used;
} mem_pool_row;

typedef struct mem_store {
	provauth_store base;
	pthread_mutex_t lock;
	provauth_account **accounts;   /* sorted by id (strcmp, like sqlite's BINARY collation) */
	size_t count, cap;
	mem_lease *leases;
	size_t lease_count, lease_cap;
	mem_pool_row *pool;            /* unordered */
	size_t pool_count, pool_cap;
	provauth_pool_reservation **reservations; /* unordered; holders never die before the store */
	size_t reservation_count, reservation_cap;
} mem_store;

/* memory.c: 1 when found at *pos; otherwise *pos is where the id would be inserted. Lock held. */
int pa_mem_find(const mem_store *m, const char *id, size_t *pos);

/* memory_pool.c: sets the pool members of the store's vtable. */
void pa_mem_pool_install(mem_store *m);
/* Drops an account's pool state and reservations (it was removed). Lock held. */
void pa_mem_pool_forget(mem_store *m, const char *account_id);
/* Frees all pool state. */
void pa_mem_pool_free(mem_store *m);

#endif /* PA_STORE_MEMORY_PRIVATE_H */
