/*
 * The manager as the other rooms see it: a narrow set of accessors.
 *
 * Dependency direction
 *
 *     public API (provauth.h)
 *        core/account/ (accounts, import)    core/session/ (run_with_session)
 *                  \                          /
 *                   +--> manager.h (this) <--+      accessors only
 *                           ^
 *                       manager.c  --> session/session.h: pa_sessions_new,
 *                                      pa_sessions_free, pa_sessions_evict only
 *
 * manager.c owns the manager's lifetime (settings, logging, HTTP, store,
 * plugins, the session table) and nothing else. The account and session
 * rooms never see struct provauth_manager: they ask for what they need
 * here, so the manager can change without them, and manager.c never
 * reaches into the session room's cache, entries or recovery state.
 */
#ifndef PA_MANAGER_H
#define PA_MANAGER_H

#include <stdatomic.h>
#include "internal.h"

/* One per loaded provider: state the session room keeps across accounts. */
typedef struct pa_provider_state {
	_Atomic int64_t login_cooldown_until;  /* clock seconds; provider-wide password logins stop */
} pa_provider_state;

typedef struct pa_session_table pa_session_table;

/* The manager's clock (the caller's test clock if it gave one), in seconds. */
int64_t pa_manager_now(const provauth_manager *m);
provauth_store *pa_manager_store(const provauth_manager *m);
/* The loaded provider `id`, or NULL. */
pa_plugin *pa_manager_plugin(const provauth_manager *m, const char *id);
const pa_logger *pa_manager_logger(const provauth_manager *m);
const pa_session_settings *pa_manager_session_settings(const provauth_manager *m);
const pa_pool_settings *pa_manager_pool_settings(const provauth_manager *m);

/* ---- core/pool: what the manager keeps for the pool room (pool/pool.h has the rest) ---- */

typedef struct pa_pool_waker pa_pool_waker;
int pa_pool_waker_new(pa_pool_waker **out);
void pa_pool_waker_free(pa_pool_waker *w);
pa_pool_waker *pa_manager_pool_waker(const provauth_manager *m);
/* A host store of version 5 has every pool member or none (PROVAUTH_EINVAL naming the store). */
int pa_pool_check_store(const provauth_store *s);
/* This manager's owner id for the store's cross-process recovery lease. */
const char *pa_manager_owner(const provauth_manager *m);
/* The provider state for plugin `p` (NULL if unknown). */
pa_provider_state *pa_manager_provider_state(provauth_manager *m, const pa_plugin *p);
/* The manager's session table (the session room's own). */
pa_session_table *pa_manager_sessions(const provauth_manager *m);
/* Drops the account's cached session, after the account room changed it in the store. */
void pa_manager_forget_session(provauth_manager *m, const char *account_id);

#endif /* PA_MANAGER_H */
