/*
 * What the files of core/pool share: the manager's store as a pool (it must
 * have the version 5 members), the provider's pool hooks, and running a
 * hook inside run_with_session.
 *
 * Dependency direction: core/pool uses the public store contract
 * (<provauth/store.h>), manager.h's accessors and provauth_run_with_session;
 * nothing in the core below it knows the pool exists.
 */
#ifndef PA_POOL_H
#define PA_POOL_H

#include <provauth/pool.h>
#include "internal.h"
#include "manager.h"

/* The manager's store when it has an account pool; PROVAUTH_EUNSUPPORTED naming it otherwise. */
int pa_pool_store(provauth_store **out, provauth_manager *m);
/* The loaded provider (ENOTFOUND otherwise) and its pool hooks (NULL when it has none). */
int pa_pool_provider(pa_plugin **plugin, const provauth_pool_hooks **hooks, provauth_manager *m,
                     const char *provider);
/* Jobs at once of an account whose plan is not known: pool.default_slots when set, else the provider's, else 2. */
int pa_pool_default_slots(provauth_manager *m, const provauth_pool_hooks *hooks);

/* A hook that runs like an operation (status, job_status), run through run_with_session. */
typedef int (*pa_pool_hook_fn)(const pa_plugin *p, const provauth_pool_hooks *hooks,
                               const provauth_session *s, char **out_json, provauth_failure *f, void *payload);
/* *out_json parsed (free with pa_json_free); the hook's output must be JSON. */
int pa_pool_run_hook(provauth_json **out, provauth_manager *m, const char *account_id, const char *op_name,
                     pa_pool_hook_fn fn, void *payload);

/* wake.c: this process's waiters for a free slot. */
uint64_t pa_pool_waker_generation(pa_pool_waker *w);
void pa_pool_waker_signal(pa_pool_waker *w);
/* Returns when the generation moved past `seen` or timeout_ms passed. */
void pa_pool_waker_wait(pa_pool_waker *w, uint64_t seen, int64_t timeout_ms);

#endif /* PA_POOL_H */
