/* The manager's private state, shared by manager.c and session.c. */
#ifndef PA_MANAGER_H
#define PA_MANAGER_H

#include <pthread.h>
#include <stdatomic.h>
#include "internal.h"

/* One per loaded provider, parallel to plugins.plugins[]. */
typedef struct pa_provider_state {
	_Atomic int64_t login_cooldown_until;  /* clock seconds; provider-wide password logins stop */
} pa_provider_state;

typedef struct pa_session_table pa_session_table;

struct provauth_manager {
	provauth_settings *settings;           /* a reference */
	pa_logger logger;
	pa_http *http;
	pa_host_ctx host_ctx;
	provauth_host host;
	provauth_store *store;
	int own_store;
	pa_plugin_set plugins;
	pa_provider_state *provider_state;     /* plugins.count entries */
	size_t provider_state_cap;
	pa_session_table *sessions;
	char owner[64];                        /* this manager's lease owner id */
};

int64_t pa_manager_now(const provauth_manager *m);
/* The provider state for plugin `p` (NULL if unknown). */
pa_provider_state *pa_manager_provider_state(provauth_manager *m, const pa_plugin *p);
/* Grows provider_state to cover every loaded plugin. */
int pa_manager_sync_provider_state(provauth_manager *m);

/* session.c */
int pa_sessions_new(pa_session_table **out);
void pa_sessions_free(pa_session_table *t);
/* Drops the account's cached session (after a put or remove). */
void pa_sessions_evict(provauth_manager *m, const char *account_id);

#endif /* PA_MANAGER_H */
