/*
 * The settings room's YAML reader, private to core/settings: libyaml's
 * events become a small tree of provauth_setting nodes, bounded in size,
 * depth and node count while reading, with ${NAME} taken from the
 * environment. It knows nothing of provauth's keys: schema.c and
 * providers.c give the tree its meaning.
 *
 * Every message about the file has the form "FILE:LINE:COL: path.key: ..."
 * (message.c); tests compare them byte for byte.
 */
#ifndef PA_SETTINGS_YAML_TREE_H
#define PA_SETTINGS_YAML_TREE_H

#include <stdarg.h>
#include <stddef.h>
#include "internal.h"

#define PA_YAML_MAX_BYTES ((size_t)1 << 20) /* a settings file is small; refuse anything larger */
#define PA_YAML_MAX_DEPTH 32
#define PA_YAML_MAX_NODES 65536
#define PA_SHOWN_MAX 60                     /* bytes of a key or value quoted in a message */
#define PA_SETTINGS_MSG_MAX 768

typedef enum node_kind {
	NODE_NULL,
	NODE_SCALAR,
	NODE_SEQ,
	NODE_MAP
} node_kind;

typedef struct pa_entry {
	char *key;
	unsigned line, col;
	provauth_setting *value;
} pa_entry;

struct provauth_setting {
	node_kind kind;
	const char *file;       /* the owning settings' source name */
	char *path;             /* "providers.pixiv.token_url"; "" for the top level */
	unsigned line, col;     /* 1-based */
	char *value;            /* NODE_SCALAR, after ${NAME} expansion */
	unsigned plain : 1;     /* unquoted, so YAML gives it a type */
	unsigned from_env : 1;  /* used ${NAME}: never shown; typed by its key */
	unsigned literal : 1;   /* has characters that came from the file itself */
	pa_entry *entries;      /* NODE_MAP */
	provauth_setting **items; /* NODE_SEQ */
	size_t count;
};

/* ---- yaml_tree.c: the tree ---- */

/*
 * Reads text[0, len) (at most PA_YAML_MAX_BYTES) into *root, a NODE_MAP;
 * `file` names it in messages and must outlive the tree. An empty file, or
 * one whose top level is not a mapping, is refused (PROVAUTH_ECONFIG).
 */
int pa_yaml_tree_parse(provauth_setting **root, const char *text, size_t len, const char *file);
provauth_setting *pa_node_new(node_kind kind, const char *file, const char *path,
                              unsigned line, unsigned col);
void pa_node_free(provauth_setting *n);
/* Path of a child for messages: "parent.key", with the key made printable. */
char *pa_node_child_path(const char *parent, const char *key);
/* The entry of `key` in a mapping; NULL when absent or `map` is no mapping. */
const pa_entry *pa_map_entry(const provauth_setting *map, const char *key);
/* The value of `key`, or NULL when it is absent or null (use the default). */
const provauth_setting *pa_map_value(const provauth_setting *map, const char *key);

/* ---- env.c: ${NAME} ---- */

/* secure_getenv where there is one: settings must not obey a setuid caller's environment. */
const char *pa_settings_getenv(const char *name);
/*
 * Sets n->value to raw[0, len) with every ${NAME} replaced (and n->from_env,
 * n->literal). *expanded counts the bytes of all values of the file so far,
 * which together stay within PA_YAML_MAX_BYTES.
 */
int pa_expand_env(provauth_setting *n, const char *raw, size_t len, size_t *expanded);

/* ---- message.c: messages that name a place in the file ---- */

/* Copies text for a message: control bytes escaped, cut after `max` bytes with "...". */
void pa_settings_sanitize(char *dst, size_t size, const char *src, size_t len, size_t max);
/* PROVAUTH_ECONFIG with "FILE:LINE:COL: PATH: what is wrong" (line 0: "FILE: PATH: ..."). */
int pa_settings_fail_atv(const char *file, unsigned line, unsigned col, const char *path,
                         const char *fmt, va_list ap) PROVAUTH_PRINTF(5, 0);
int pa_settings_fail_at(const char *file, unsigned line, unsigned col, const char *path,
                        const char *fmt, ...) PROVAUTH_PRINTF(5, 6);
/* The same at node n's place. */
#define node_fail(n, ...) pa_settings_fail_at((n)->file, (n)->line, (n)->col, (n)->path, __VA_ARGS__)
/* "a mapping", "a sequence", "nothing", "a string". */
const char *pa_node_kind_name(const provauth_setting *n);
/* 1 for a key whose value a message must not quote (by its name: errs towards hiding). */
int pa_key_is_secret(const char *key);
/* How a message refers to scalar n: quoted only when that is safe. Returns buf. */
const char *pa_node_shown(char *buf, size_t size, const provauth_setting *n, int secret);

#endif /* PA_SETTINGS_YAML_TREE_H */
