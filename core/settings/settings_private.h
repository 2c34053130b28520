/*
 * What the files of core/settings share and nothing else uses: the loaded
 * settings object, the typed readers over the YAML tree (values.c), and the
 * steps of building the settings (schema.c, providers.c, file.c).
 */
#ifndef PA_SETTINGS_PRIVATE_H
#define PA_SETTINGS_PRIVATE_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/types.h>
#include "settings/yaml_tree.h"

#define SECONDS "an integer number of seconds"
#define MILLIS  "an integer number of milliseconds"

/*
 * Settings never change after loading, so sharing them between threads
 * needs only the atomic reference count.
 */
struct provauth_settings {
	atomic_uint refs;
	char *source;
	provauth_setting *root;         /* NULL for provauth_settings_default */
	char **plugin_dirs;             /* NULL-terminated */
	size_t plugin_dir_count;
	pa_store_settings store;
	pa_log_settings log;
	pa_http_settings http;
	pa_session_settings session;
	pa_pool_settings pool;
	pa_provider_settings *providers;
	size_t provider_count;
	char **warnings;
	size_t warning_count;
};

/* ---- values.c: typed readers; each leaves its default in *out when the key is absent or null ---- */

/* 1 or 0 for YAML's boolean words (true, no, on, ...), -1 for anything else. */
int pa_looks_bool(const char *v);
/* 1 when YAML would read an unquoted v as a number. */
int pa_looks_number(const char *v);
/* `what` says in messages what the key wants ("a file name"). */
int pa_read_string(const provauth_setting *map, const char *key, const char *def,
                   const char *what, const char **out);
int pa_read_int(const provauth_setting *map, const char *key, int64_t def, int64_t min,
                int64_t max, const char *what, int64_t *out);
int pa_read_bool(const provauth_setting *map, const char *key, int def, int *out);
/* A section such as store: absent or null means every default (*out NULL); its keys checked. */
int pa_read_section(const provauth_setting *root, const char *key, const char *const *keys,
                    const provauth_setting **out);
/* One of a fixed set of words; `*index` is its position in `words`. */
int pa_read_choice(const provauth_setting *map, const char *key, const char *const *words,
                   size_t def, size_t *index);
/* Fails naming the first key of `map` in neither list, with the nearest known one. */
int pa_check_known_keys(const provauth_setting *map, const char *const *a, const char *const *b);

/* ---- schema.c: provauth's sections ---- */

/*
 * Builds settings named `name` from text[0, len) (`text` NULL: defaults
 * only). mode_known/mode: the file's mode, for the warning about a password
 * others can read. `unsafe`: why other users can change the file, or NULL.
 */
int pa_settings_build(provauth_settings **out, const char *text, size_t len, const char *name,
                      int mode_known, mode_t mode, const char *unsafe);
/* Takes msg (malloc()ed; NULL: out of memory). */
int pa_settings_add_warning(provauth_settings *s, char *msg);

/* ---- providers.c: the providers.<id> blocks ---- */

int pa_settings_load_providers(provauth_settings *s, int mode_known, mode_t mode);

/* ---- file.c: settings others can change ---- */

/* A warning, or a refusal when the file also holds a literal secret; unsafe NULL: nothing. */
int pa_settings_check_place(provauth_settings *s, const char *unsafe);

#endif /* PA_SETTINGS_PRIVATE_H */
