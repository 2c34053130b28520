/*
 * What the rest of the core may use of the settings room (core/settings):
 * the typed sections of a loaded settings file, the providers.<id> blocks,
 * and the typed access to a block that backs the host's setting services.
 * Included by internal.h; the room's own workings are in yaml_tree.h and
 * settings_private.h.
 */
#ifndef PA_SETTINGS_H
#define PA_SETTINGS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <provauth/provauth.h>
#include <provauth/plugin.h>

/* Common keys every providers.<id> block accepts (NULL-terminated). */
extern const char *const pa_common_provider_keys[];

typedef struct pa_provider_settings {
	char *id;
	const provauth_setting *node;   /* the block; never NULL (empty map if absent) */
	int auto_reauth_enabled;        /* default 0 */
	char *global_password;          /* secret; NULL if unset */
	int64_t reauth_cooldown;        /* seconds, default 300 */
	int64_t login_cooldown;         /* seconds, default 600 */
	int64_t refresh_ahead;          /* seconds, default 300 */
	int cookie_refresh;             /* default 1: the refresh step may renew from cookies */
} pa_provider_settings;

typedef struct pa_store_settings {
	char *backend;                  /* "sqlite" (default), "memory" or "postgres" */
	char *path;                     /* default $XDG_DATA_HOME/provauth/accounts.db */
	char *key_file;                 /* NULL unless set: the store tries PROVAUTH_STORE_KEY, then <path>.key */
	int64_t busy_timeout_ms;        /* default 5000 */
	char *url;                      /* postgres: libpq connection string or URI */
	int64_t pool_size;              /* postgres: connections, default 4 */
	int64_t connect_timeout_ms;     /* postgres: default 5000 */
	int64_t statement_timeout_ms;   /* postgres: default 30000 */
} pa_store_settings;

typedef struct pa_log_settings {
	provauth_log_level level;       /* default info */
	int format_text;                /* 0: json (default), 1: text */
} pa_log_settings;

typedef struct pa_http_settings {
	char *ca_file;
	int64_t connect_timeout_ms;     /* default 10000 */
	int64_t timeout_ms;             /* default 30000 */
	int64_t max_reply_bytes;        /* default 1 MiB */
} pa_http_settings;

typedef struct pa_session_settings {
	int64_t recovery_wait_ms;       /* how long callers wait for another's recovery; default 30000 */
	int64_t lease_ttl_ms;           /* cross-process recovery lease; default 30000 */
} pa_session_settings;

typedef struct pa_pool_settings {
	int64_t default_slots;          /* jobs at once, plan unknown; 0 (default): the provider's, else 2 */
	int64_t concurrency_cooldown;   /* seconds after a concurrency refusal; default 6 */
	int64_t session_cooldown;       /* seconds after a session lost for good; default 300 */
	int64_t cap_probe_interval;     /* seconds between upward probes of a learnt cap; default 150 */
	int64_t reservation_ttl;        /* seconds a reservation may live unreleased; default 7200 */
} pa_pool_settings;

/* Read-only after load; shared by reference count between the caller and managers. */
const char *const *pa_settings_plugin_dirs(const provauth_settings *s, size_t *count);
const pa_store_settings *pa_settings_store(const provauth_settings *s);
const pa_log_settings *pa_settings_log(const provauth_settings *s);
const pa_http_settings *pa_settings_http(const provauth_settings *s);
const pa_session_settings *pa_settings_session(const provauth_settings *s);
const pa_pool_settings *pa_settings_pool(const provauth_settings *s);
/* NULL when the file has no block for that provider. */
const pa_provider_settings *pa_settings_provider(const provauth_settings *s, const char *id);
size_t pa_settings_provider_count(const provauth_settings *s);
const pa_provider_settings *pa_settings_provider_at(const provauth_settings *s, size_t i);
/*
 * An empty block for provider `id`, which the file does not mention: messages
 * about its keys name "providers.<the id>.KEY". NULL when out of memory. It
 * points into `s`, which must outlive it; free with pa_settings_empty_node_free.
 */
provauth_setting *pa_settings_empty_node_new(const provauth_settings *s, const char *id);
void pa_settings_empty_node_free(provauth_setting *node);
/* Takes a reference; provauth_settings_free drops one. */
provauth_settings *pa_settings_ref(const provauth_settings *s);

/* Typed access with "FILE:LINE:COL: path.key: ..." errors (PROVAUTH_ECONFIG). */
int pa_setting_string(const provauth_setting *s, const char *key, const char *def, const char **out);
int pa_setting_int(const provauth_setting *s, const char *key, int64_t def, int64_t min,
                   int64_t max, int64_t *out);
int pa_setting_bool(const provauth_setting *s, const char *key, int def, int *out);
/*
 * PROVAUTH_ECONFIG with the typed readers' "FILE:LINE:COL: path.key: "
 * prefix for a value the plugin itself found wrong; "FILE: path.key: " when
 * the key is not in the file (its default was judged).
 */
int pa_setting_errorv(const provauth_setting *s, const char *key, const char *fmt, va_list ap)
	PROVAUTH_PRINTF(3, 0);
/* Fails naming the first key of `s` found in neither list (lists NULL-terminated; either may be NULL). */
int pa_setting_check_keys(const provauth_setting *s, const char *const *allowed,
                          const char *const *allowed_more);

#endif /* PA_SETTINGS_H */
