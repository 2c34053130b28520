/*
 * The YAML settings file.
 *
 * libyaml's event API feeds a small tree of provauth_setting nodes, which
 * validation then turns into the typed sections of internal.h. Events rather
 * than libyaml's document API so that the limits (size, depth, node count)
 * and the refusals (aliases, tags, a second document) act while reading,
 * before an attacker-sized tree exists.
 *
 * Typing follows YAML: an unquoted 300 is a number, "300" a string, so
 * integers and booleans must be unquoted and a string key rejects an unquoted
 * number or boolean. A value that uses ${NAME} takes the type of the key that
 * reads it, since the environment has no types. Null (~, null or nothing)
 * means "use the default".
 *
 * Secrets: an error message quotes a value only when it came from the file
 * itself and its key does not look like it holds a secret.
 *
 * Settings never change after loading, so sharing them between threads needs
 * only the atomic reference count.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include <yaml.h>
#include "internal.h"

#define MAX_BYTES   ((size_t)1 << 20)   /* a settings file is small; refuse anything larger */
#define MAX_DEPTH   32
#define MAX_NODES   65536
#define MAX_SHOWN   60                  /* bytes of a key or value quoted in a message */
#define MAX_KEYLEN  64                  /* longer keys get no "did you mean" */
#define MSG_MAX     768

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
	pa_provider_settings *providers;
	size_t provider_count;
	char **warnings;
	size_t warning_count;
};

const char *const pa_common_provider_keys[] = {
	"auto_reauth_enabled",
	"global_password",
	"reauth_cooldown",
	"login_cooldown",
	"refresh_ahead",
	"cookie_refresh",
	NULL
};

static const char *const top_keys[] = {
	"plugin_dir", "store", "log", "http", "session", "providers", NULL
};
static const char *const store_keys[] = {
	"backend", "path", "key_file", "busy_timeout_ms", NULL
};
static const char *const log_keys[] = { "level", "format", NULL };
static const char *const http_keys[] = {
	"ca_file", "connect_timeout_ms", "timeout_ms", "max_reply_bytes", NULL
};
static const char *const session_keys[] = { "recovery_wait_ms", "lease_ttl_ms", NULL };

#define SECONDS "an integer number of seconds"
#define MILLIS  "an integer number of milliseconds"

/* ------------------------------------------------------------------------ */
/* Messages                                                                 */
/* ------------------------------------------------------------------------ */

static const char *env_get(const char *name)
{
#ifdef HAVE_SECURE_GETENV
	return secure_getenv(name);
#else
	return getenv(name);
#endif
}

/*
 * Copies text for a message: control bytes escaped, cut after `max` bytes
 * (on a UTF-8 boundary) with "..." so one bad line cannot flood a log.
 */
static void sanitize(char *dst, size_t size, const char *src, size_t len, size_t max)
{
	size_t o = 0, i;

	if (!size)
		return;
	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		if (i >= max && (c & 0xC0) != 0x80) {
			if (o + 4 < size)
				memcpy(dst + o, "...", 3), o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

static int fail_atv(const char *file, unsigned line, unsigned col, const char *path,
                    const char *fmt, va_list ap) PROVAUTH_PRINTF(5, 0);

/*
 * "FILE:LINE:COL: PATH: what is wrong", the form of every settings error.
 * Line 0 means the text is not in the file (a default): "FILE: PATH: ...".
 */
static int fail_atv(const char *file, unsigned line, unsigned col, const char *path,
                    const char *fmt, va_list ap)
{
	char msg[MSG_MAX], where[MSG_MAX / 2];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line)
		snprintf(where, sizeof(where), "%s:%u:%u", file, line, col);
	else
		snprintf(where, sizeof(where), "%s", file);
	if (path && *path)
		return pa_error_set(PROVAUTH_ECONFIG, "%s: %s: %s", where, path, msg);
	return pa_error_set(PROVAUTH_ECONFIG, "%s: %s", where, msg);
}

static int fail_at(const char *file, unsigned line, unsigned col, const char *path,
                   const char *fmt, ...) PROVAUTH_PRINTF(5, 6);

static int fail_at(const char *file, unsigned line, unsigned col, const char *path,
                   const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = fail_atv(file, line, col, path, fmt, ap);
	va_end(ap);
	return rc;
}

#define node_fail(n, ...) fail_at((n)->file, (n)->line, (n)->col, (n)->path, __VA_ARGS__)

static const char *kind_name(const provauth_setting *n)
{
	switch (n->kind) {
	case NODE_MAP: return "a mapping";
	case NODE_SEQ: return "a sequence";
	case NODE_NULL: return "nothing";
	default: return "a string";
	}
}

/*
 * Keys whose values a message must not quote. Plugins' keys are unknown
 * here, so the test is by name and errs towards hiding.
 */
static int key_is_secret(const char *key)
{
	static const char *const words[] = {
		"password", "secret", "token", "cookie", "api_key", "apikey",
		"credential", "private", NULL
	};
	size_t n = strlen(key), i;

	if (n > 4 && strcmp(key + n - 4, "_url") == 0)
		return 0;
	for (i = 0; words[i]; i++)
		if (strcasestr(key, words[i]))
			return 1;
	return 0;
}

/* How a message refers to a scalar value: quoted when that is safe. */
static const char *shown(char *buf, size_t size, const provauth_setting *n, int secret)
{
	char text[MAX_SHOWN * 4 + 8];

	if (n->from_env) {
		snprintf(buf, size, "a value from the environment (not shown)");
	} else if (secret) {
		snprintf(buf, size, "a value that is not shown (the key may hold a secret)");
	} else {
		sanitize(text, sizeof(text), n->value, strlen(n->value), MAX_SHOWN);
		snprintf(buf, size, "%s'%s'", n->plain ? "" : "the quoted string ", text);
	}
	return buf;
}

/* Optimal string alignment distance, case-insensitive; bounded key lengths. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j;
	size_t rows[3][MAX_KEYLEN + 1];
	size_t *pp = rows[0], *p = rows[1], *c = rows[2], *t;

	if (la > MAX_KEYLEN || lb > MAX_KEYLEN)
		return (size_t)-1;
	for (j = 0; j <= lb; j++)
		p[j] = j;
	for (i = 1; i <= la; i++) {
		c[0] = i;
		for (j = 1; j <= lb; j++) {
			int ca = tolower((unsigned char)a[i - 1]), cb = tolower((unsigned char)b[j - 1]);
			size_t best = p[j - 1] + (ca != cb);
			if (p[j] + 1 < best)
				best = p[j] + 1;
			if (c[j - 1] + 1 < best)
				best = c[j - 1] + 1;
			if (i > 1 && j > 1 && ca == tolower((unsigned char)b[j - 2]) &&
			    tolower((unsigned char)a[i - 2]) == cb && pp[j - 2] + 1 < best)
				best = pp[j - 2] + 1;
			c[j] = best;
		}
		t = pp, pp = p, p = c, c = t;
	}
	return p[lb];
}

/* The known key closest to `key`, if it is close enough to be a typo. */
static const char *closest_key(const char *key, const char *const *a, const char *const *b)
{
	const char *const *lists[2] = { a, b };
	const char *best = NULL;
	size_t best_d = (size_t)-1, l, i;

	for (l = 0; l < 2; l++) {
		for (i = 0; lists[l] && lists[l][i]; i++) {
			size_t d = edit_distance(key, lists[l][i]);
			size_t longest = strlen(key) > strlen(lists[l][i]) ? strlen(key) : strlen(lists[l][i]);
			size_t limit = (longest + 2) / 4;
			if (limit < 1)
				limit = 1;
			if (d <= limit && d < best_d)
				best = lists[l][i], best_d = d;
		}
	}
	return best;
}

static void list_keys(char *buf, size_t size, const char *const *a, const char *const *b)
{
	const char *const *lists[2] = { a, b };
	size_t o = 0, l, i;

	buf[0] = '\0';
	for (l = 0; l < 2; l++)
		for (i = 0; lists[l] && lists[l][i] && o < size; i++)
			o += (size_t)snprintf(buf + o, size - o, "%s%s", o ? ", " : "", lists[l][i]);
}

static int in_list(const char *key, const char *const *list)
{
	size_t i;
	for (i = 0; list && list[i]; i++)
		if (strcmp(key, list[i]) == 0)
			return 1;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Nodes                                                                    */
/* ------------------------------------------------------------------------ */

static void node_free(provauth_setting *n)
{
	size_t i;

	if (!n)
		return;
	if (n->value)
		pa_secret_free(n->value);
	for (i = 0; n->entries && i < n->count; i++) {
		free(n->entries[i].key);
		node_free(n->entries[i].value);
	}
	for (i = 0; n->items && i < n->count; i++)
		node_free(n->items[i]);
	free(n->entries);
	free(n->items);
	free(n->path);
	free(n);
}

static provauth_setting *node_new(node_kind kind, const char *file, const char *path,
                                  unsigned line, unsigned col)
{
	provauth_setting *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (!(n->path = strdup(path))) {
		free(n);
		return NULL;
	}
	n->kind = kind;
	n->file = file;
	n->line = line;
	n->col = col;
	return n;
}

/* Path of a child for messages: "parent.key", with the key made printable. */
static char *child_path(const char *parent, const char *key)
{
	char clean[MAX_SHOWN * 4 + 8];

	sanitize(clean, sizeof(clean), key, strlen(key), MAX_SHOWN);
	return *parent ? pa_sprintf("%s.%s", parent, clean) : pa_strdup(clean);
}

static const pa_entry *map_entry(const provauth_setting *map, const char *key)
{
	size_t i;

	if (!map || map->kind != NODE_MAP)
		return NULL;
	for (i = 0; i < map->count; i++)
		if (strcmp(map->entries[i].key, key) == 0)
			return &map->entries[i];
	return NULL;
}

/* The value of `key`, or NULL when it is absent or null (use the default). */
static const provauth_setting *map_value(const provauth_setting *map, const char *key)
{
	const pa_entry *e = map_entry(map, key);
	return e && e->value->kind != NODE_NULL ? e->value : NULL;
}

static int check_keys(const provauth_setting *map, const char *const *a, const char *const *b)
{
	char known[MSG_MAX / 2];
	size_t i;

	if (!map || map->kind != NODE_MAP)
		return 0;
	for (i = 0; i < map->count; i++) {
		const pa_entry *e = &map->entries[i];
		const char *near;
		char *path;
		int rc;

		if (in_list(e->key, a) || in_list(e->key, b))
			continue;
		if (!(path = child_path(map->path, e->key)))
			return pa_error_oom();
		if ((near = closest_key(e->key, a, b))) {
			rc = fail_at(map->file, e->line, e->col, path,
			             "unknown key; did you mean '%s'?", near);
		} else {
			list_keys(known, sizeof(known), a, b);
			rc = fail_at(map->file, e->line, e->col, path,
			             "unknown key (expected one of: %s)", known);
		}
		free(path);
		return rc;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Typed values                                                             */
/* ------------------------------------------------------------------------ */

static int looks_bool(const char *v)
{
	static const char *const words[] = { "true", "false", "yes", "no", "on", "off", NULL };
	size_t i;
	for (i = 0; words[i]; i++)
		if (strcasecmp(v, words[i]) == 0)
			return strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 ||
			       strcasecmp(v, "on") == 0 ? 1 : 0;
	return -1;
}

/* What YAML would read an unquoted value as, beyond a string. */
static int looks_number(const char *v)
{
	const char *s = v;
	size_t digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, ".nan") == 0)
		return 1;
	if (s[0] == '0' && strchr("xXoObB", s[1]) && s[1] && isxdigit((unsigned char)s[2])) {
		for (s += 2; isxdigit((unsigned char)*s) || *s == '_'; s++)
			;
		return *s == '\0';
	}
	for (; isdigit((unsigned char)*s) || (*s == '_' && digits); s++)
		digits++;
	if (*s == '.')
		for (s++; isdigit((unsigned char)*s); s++)
			digits++;
	if (!digits)
		return 0;
	if (*s == 'e' || *s == 'E') {
		s++;
		if (*s == '+' || *s == '-')
			s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	return *s == '\0';
}

/* Decimal only: 0 ok, -1 not an integer, -2 out of int64_t's range. */
static int parse_int(const char *s, int64_t *out)
{
	int neg = 0;
	uint64_t v = 0, limit;

	if (*s == '-')
		neg = 1, s++;
	if (!isdigit((unsigned char)*s) || (s[0] == '0' && s[1]))
		return -1;
	limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	for (; *s; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		if (v > (limit - (uint64_t)(*s - '0')) / 10) {
			while (isdigit((unsigned char)*s))
				s++;
			return *s ? -1 : -2;
		}
		v = v * 10 + (uint64_t)(*s - '0');
	}
	*out = neg ? (int64_t)(0 - v) : (int64_t)v;
	return 0;
}

static int get_string(const provauth_setting *map, const char *key, const char *def,
                      const char *what, const char **out)
{
	const provauth_setting *v = map_value(map, key);
	char buf[MSG_MAX / 2];

	*out = def;
	if (!v)
		return 0;
	if (v->kind != NODE_SCALAR)
		return node_fail(v, "expected %s, got %s", what, kind_name(v));
	if (v->plain && !v->from_env) {
		const char *as = looks_bool(v->value) >= 0 ? "boolean" :
		                 looks_number(v->value) ? "number" : NULL;
		if (as)
			return node_fail(v, "expected %s, got %s, which YAML reads as a %s; "
			                 "write it in quotes if it is meant as text", what,
			                 shown(buf, sizeof(buf), v, key_is_secret(key)), as);
	}
	*out = v->value;
	return 0;
}

static int get_int(const provauth_setting *map, const char *key, int64_t def, int64_t min,
                   int64_t max, const char *what, int64_t *out)
{
	const provauth_setting *v = map_value(map, key);
	char buf[MSG_MAX / 2];
	int64_t n;
	int rc;

	*out = def;
	if (!v)
		return 0;
	if (v->kind != NODE_SCALAR)
		return node_fail(v, "expected %s, got %s", what, kind_name(v));
	shown(buf, sizeof(buf), v, key_is_secret(key));
	if (!v->plain && !v->from_env)
		return node_fail(v, "expected %s, got %s; write numbers without quotes", what, buf);
	rc = parse_int(v->value, &n);
	if (rc == -1)
		return node_fail(v, "expected %s, got %s", what, buf);
	if (rc == -2 || n < min || n > max)
		return node_fail(v, "must be between %lld and %lld, got %s",
		                 (long long)min, (long long)max, buf);
	*out = n;
	return 0;
}

static int get_bool(const provauth_setting *map, const char *key, int def, int *out)
{
	const provauth_setting *v = map_value(map, key);
	char buf[MSG_MAX / 2];
	int b;

	*out = def;
	if (!v)
		return 0;
	if (v->kind != NODE_SCALAR)
		return node_fail(v, "expected true or false, got %s", kind_name(v));
	shown(buf, sizeof(buf), v, key_is_secret(key));
	if (!v->plain && !v->from_env)
		return node_fail(v, "expected true or false, got %s; write booleans without quotes", buf);
	if ((b = looks_bool(v->value)) < 0)
		return node_fail(v, "expected true or false, got %s", buf);
	*out = b;
	return 0;
}

/* A section such as store: absent or null means every default. */
static int get_section(const provauth_setting *root, const char *key, const char *const *keys,
                       const provauth_setting **out)
{
	const provauth_setting *v = map_value(root, key);

	*out = NULL;
	if (!v)
		return 0;
	if (v->kind != NODE_MAP)
		return node_fail(v, "expected a mapping of settings (indented 'key: value' lines), got %s",
		                 kind_name(v));
	*out = v;
	return check_keys(v, keys, NULL);
}

/* One of a fixed set of words; `*index` is its position in `words`. */
static int get_choice(const provauth_setting *map, const char *key, const char *const *words,
                      size_t def, size_t *index)
{
	const char *v;
	char buf[MSG_MAX / 2], known[MSG_MAX / 2];
	size_t i;
	int rc;

	*index = def;
	if ((rc = get_string(map, key, NULL, "a string", &v)) || !v)
		return rc;
	for (i = 0; words[i]; i++)
		if (strcmp(v, words[i]) == 0) {
			*index = i;
			return 0;
		}
	list_keys(known, sizeof(known), words, NULL);
	return node_fail(map_value(map, key), "expected one of %s, got %s", known,
	                 shown(buf, sizeof(buf), map_value(map, key), 0));
}

/* ------------------------------------------------------------------------ */
/* Reading the YAML                                                         */
/* ------------------------------------------------------------------------ */

typedef struct parser {
	yaml_parser_t yp;
	const char *file;
	const char *text;
	size_t len;
	size_t nodes;
	size_t expanded;  /* bytes of all values so far, after ${NAME} expansion */
} parser;

/* Byte offset of a 0-based line and character column (libyaml counts characters). */
static size_t position_offset(const char *text, size_t len, size_t line, size_t col)
{
	size_t i = 0;

	for (; line && i < len; i++)
		if (text[i] == '\n')
			line--;
	for (; col && i < len; col--)
		for (i++; i < len && ((unsigned char)text[i] & 0xC0) == 0x80; i++)
			;
	return i;
}

/* libyaml's reader errors give a byte offset only. */
static void offset_position(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1, *col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n')
			++*line, *col = 1;
		else if (((unsigned char)text[i] & 0xC0) != 0x80)
			++*col;
	}
}

static int yaml_failure(parser *p)
{
	const yaml_parser_t *yp = &p->yp;
	const char *problem = yp->problem ? yp->problem : "syntax error";
	unsigned line = (unsigned)yp->problem_mark.line + 1, col = (unsigned)yp->problem_mark.column + 1;
	size_t at = position_offset(p->text, p->len, yp->problem_mark.line, yp->problem_mark.column);

	if (yp->error == YAML_MEMORY_ERROR)
		return pa_error_oom();
	if (yp->error == YAML_READER_ERROR) {
		offset_position(p->text, p->len, yp->problem_offset, &line, &col);
		return fail_at(p->file, line, col, NULL,
		               "not a text settings file: %s (settings must be UTF-8 text; is this a binary file?)",
		               problem);
	}
	if (yp->context && strstr(yp->context, "quoted scalar") &&
	    (strstr(problem, "end of stream") || strstr(problem, "document indicator")))
		return fail_at(p->file, (unsigned)yp->context_mark.line + 1,
		               (unsigned)yp->context_mark.column + 1, NULL,
		               "unterminated quoted string: the quote opened here is never closed");
	if (strstr(problem, "tab") || (at < p->len && p->text[at] == '\t'))
		return fail_at(p->file, line, col, NULL,
		               "invalid YAML: %s%s%s; tabs cannot be used for indentation in YAML, "
		               "indent with spaces", problem, yp->context ? " " : "",
		               yp->context ? yp->context : "");
	if (yp->context)
		return fail_at(p->file, line, col, NULL, "invalid YAML: %s %s (started at line %u, column %u)",
		               problem, yp->context, (unsigned)yp->context_mark.line + 1,
		               (unsigned)yp->context_mark.column + 1);
	return fail_at(p->file, line, col, NULL, "invalid YAML: %s", problem);
}

static int next_event(parser *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->yp, ev)) {
		memset(ev, 0, sizeof(*ev));
		return yaml_failure(p);
	}
	return 0;
}

#define EV_LINE(ev) ((unsigned)(ev)->start_mark.line + 1)
#define EV_COL(ev)  ((unsigned)(ev)->start_mark.column + 1)

/* A growable buffer that never leaves copies of its contents behind. */
typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *q = malloc(cap);
		if (!q)
			return pa_error_oom();
		if (b->p) {
			memcpy(q, b->p, b->len);
			pa_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = q, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static void sbuf_wipe(sbuf *b)
{
	if (b->p) {
		pa_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL, b->len = b->cap = 0;
}

/*
 * ${NAME} expansion. "$${" stands for a literal "${"; any other '$' is
 * itself. Messages never quote the value: it may be a password that
 * happens to contain "${".
 *
 * The values of a whole file together are bounded like the file itself
 * (MAX_BYTES): without that, a small file naming a big variable thousands
 * of times expands into gigabytes before anything looks at it.
 */
static int expand(parser *p, provauth_setting *n, const char *raw, size_t len)
{
	sbuf b = { NULL, 0, 0 };
	size_t i = 0;
	int rc = 0;

	while (i < len && !rc) {
		const char *end, *val;
		char name[256];
		size_t nlen, k, vlen;

		if (raw[i] == '$' && i + 2 < len && raw[i + 1] == '$' && raw[i + 2] == '{') {
			rc = sbuf_add(&b, "${", 2);
			n->literal = 1;
			i += 3;
			continue;
		}
		if (!(raw[i] == '$' && i + 1 < len && raw[i + 1] == '{')) {
			rc = sbuf_add(&b, raw + i, 1);
			n->literal = 1;
			i++;
			continue;
		}
		if (!(end = memchr(raw + i + 2, '}', len - i - 2))) {
			rc = node_fail(n, "unterminated '${' in the value (close it with '}', "
			               "or write '$${' for a literal '${')");
			break;
		}
		nlen = (size_t)(end - (raw + i + 2));
		for (k = 0; k < nlen; k++) {
			char c = raw[i + 2 + k];
			if (!(c == '_' || isalpha((unsigned char)c) || (k && isdigit((unsigned char)c))))
				break;
		}
		if (!nlen || k < nlen || nlen >= sizeof(name)) {
			rc = node_fail(n, "'${...}' must hold an environment variable name (letters, "
			               "digits and '_'); write '$${' for a literal '${'");
			break;
		}
		memcpy(name, raw + i + 2, nlen);
		name[nlen] = '\0';
		if (!(val = env_get(name))) {
			rc = node_fail(n, "environment variable %s is not set", name);
			break;
		}
		vlen = strlen(val);
		/* Literal text may have brought the sum past the bound already. */
		if (p->expanded + b.len > MAX_BYTES || vlen > MAX_BYTES - p->expanded - b.len) {
			rc = node_fail(n, "the values expanded from ${...} exceed 1 MiB in all (here from "
			               "environment variable %s); settings are bounded like the file", name);
			break;
		}
		rc = sbuf_add(&b, val, vlen);
		n->from_env = 1;
		i += nlen + 3;
	}
	if (!rc && !b.p)
		rc = sbuf_add(&b, "", 0);
	if (rc) {
		sbuf_wipe(&b);
		return rc;
	}
	p->expanded += b.len;
	n->value = b.p;
	return 0;
}

static int count_node(parser *p, const yaml_event_t *ev)
{
	if (++p->nodes > MAX_NODES)
		return fail_at(p->file, EV_LINE(ev), EV_COL(ev), NULL,
		               "more than %d values; this is too large for a settings file", MAX_NODES);
	return 0;
}

static int no_anchor_or_tag(parser *p, const yaml_event_t *ev, const char *path,
                            const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor)
		return fail_at(p->file, EV_LINE(ev), EV_COL(ev), path,
		               "anchors and aliases are not supported");
	if (tag)
		return fail_at(p->file, EV_LINE(ev), EV_COL(ev), path, "YAML tags (!...) are not supported");
	return 0;
}

static int parse_node(parser *p, const yaml_event_t *ev, const char *path, int depth,
                      provauth_setting **out);

static int parse_scalar(parser *p, const yaml_event_t *ev, const char *path, provauth_setting **out)
{
	const char *raw = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	provauth_setting *n;
	int rc;

	if ((rc = no_anchor_or_tag(p, ev, path, ev->data.scalar.anchor, ev->data.scalar.tag)))
		return rc;
	if (memchr(raw, '\0', len))
		return fail_at(p->file, EV_LINE(ev), EV_COL(ev), path, "NUL characters are not allowed");
	if (plain && (!len || strcmp(raw, "~") == 0 || strcmp(raw, "null") == 0 ||
	              strcmp(raw, "Null") == 0 || strcmp(raw, "NULL") == 0)) {
		*out = node_new(NODE_NULL, p->file, path, EV_LINE(ev), EV_COL(ev));
		return *out ? 0 : pa_error_oom();
	}
	if (!(n = node_new(NODE_SCALAR, p->file, path, EV_LINE(ev), EV_COL(ev))))
		return pa_error_oom();
	n->plain = plain;
	if ((rc = expand(p, n, raw, len))) {
		node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* Reports the earliest key that repeats one before it, naming both lines. */
static int compare_entries(const void *a, const void *b)
{
	const pa_entry *x = *(const pa_entry *const *)a, *y = *(const pa_entry *const *)b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x < y ? -1 : x > y);
}

static int check_duplicates(const provauth_setting *map)
{
	const pa_entry **sorted, *first = NULL, *again = NULL;
	size_t i;
	char *path;
	int rc;

	if (map->count < 2)
		return 0;
	if (!(sorted = malloc(map->count * sizeof(*sorted))))
		return pa_error_oom();
	for (i = 0; i < map->count; i++)
		sorted[i] = &map->entries[i];
	qsort(sorted, map->count, sizeof(*sorted), compare_entries);
	for (i = 1; i < map->count; i++)
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0 && (!again || sorted[i] < again) &&
		    (i < 2 || strcmp(sorted[i - 2]->key, sorted[i]->key) != 0))
			first = sorted[i - 1], again = sorted[i];
	free(sorted);
	if (!again)
		return 0;
	if (!(path = child_path(map->path, again->key)))
		return pa_error_oom();
	rc = fail_at(map->file, again->line, again->col, path,
	             "duplicate key: first defined at line %u, again at line %u", first->line, again->line);
	free(path);
	return rc;
}

static int parse_entry(parser *p, provauth_setting *map, const yaml_event_t *kev, int depth)
{
	const char *key = (const char *)kev->data.scalar.value;
	yaml_event_t vev;
	pa_entry *e;
	char *path;
	int rc;

	if (kev->type == YAML_ALIAS_EVENT)
		return fail_at(p->file, EV_LINE(kev), EV_COL(kev), map->path,
		               "anchors and aliases are not supported");
	if (kev->type != YAML_SCALAR_EVENT)
		return fail_at(p->file, EV_LINE(kev), EV_COL(kev), map->path,
		               "a key must be a plain name, not a %s",
		               kev->type == YAML_MAPPING_START_EVENT ? "mapping" : "sequence");
	if ((rc = no_anchor_or_tag(p, kev, map->path, kev->data.scalar.anchor, kev->data.scalar.tag)))
		return rc;
	if (memchr(key, '\0', kev->data.scalar.length))
		return fail_at(p->file, EV_LINE(kev), EV_COL(kev), map->path,
		               "NUL characters are not allowed in keys");
	if (map->count % 8 == 0) {
		pa_entry *grown = realloc(map->entries, (map->count + 8) * sizeof(*grown));
		if (!grown)
			return pa_error_oom();
		map->entries = grown;
	}
	e = &map->entries[map->count];
	memset(e, 0, sizeof(*e));
	if (!(e->key = strdup(key)) || !(path = child_path(map->path, key))) {
		free(e->key);
		return pa_error_oom();
	}
	e->line = EV_LINE(kev);
	e->col = EV_COL(kev);
	if (!(rc = next_event(p, &vev))) {
		rc = parse_node(p, &vev, path, depth, &e->value);
		yaml_event_delete(&vev);
	}
	free(path);
	if (rc) {
		free(e->key);
		return rc;
	}
	map->count++;
	return 0;
}

static int parse_collection(parser *p, provauth_setting *n, int is_map, int depth)
{
	for (;;) {
		yaml_event_t ev;
		int rc;

		if ((rc = next_event(p, &ev)))
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return is_map ? check_duplicates(n) : 0;
		}
		if (is_map) {
			rc = parse_entry(p, n, &ev, depth + 1);
		} else {
			char *path = pa_sprintf("%s[%zu]", n->path, n->count);
			if (n->count % 8 == 0) {
				provauth_setting **grown = realloc(n->items, (n->count + 8) * sizeof(*grown));
				if (grown)
					n->items = grown;
				else
					free(path), path = NULL;
			}
			if (!path)
				rc = pa_error_oom();
			else if (!(rc = parse_node(p, &ev, path, depth + 1, &n->items[n->count])))
				n->count++;
			free(path);
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
	}
}

static int parse_node(parser *p, const yaml_event_t *ev, const char *path, int depth,
                      provauth_setting **out)
{
	provauth_setting *n;
	int is_map, rc;

	*out = NULL;
	if ((rc = count_node(p, ev)))
		return rc;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return parse_scalar(p, ev, path, out);
	case YAML_ALIAS_EVENT:
		return fail_at(p->file, EV_LINE(ev), EV_COL(ev), path, "anchors and aliases are not supported");
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		break;
	default:
		return fail_at(p->file, EV_LINE(ev), EV_COL(ev), path, "unexpected YAML structure");
	}
	is_map = ev->type == YAML_MAPPING_START_EVENT;
	if (is_map)
		rc = no_anchor_or_tag(p, ev, path, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
	else
		rc = no_anchor_or_tag(p, ev, path, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
	if (rc)
		return rc;
	if (depth > MAX_DEPTH)
		return fail_at(p->file, EV_LINE(ev), EV_COL(ev), path,
		               "nesting is deeper than %d levels", MAX_DEPTH);
	if (!(n = node_new(is_map ? NODE_MAP : NODE_SEQ, p->file, path, EV_LINE(ev), EV_COL(ev))))
		return pa_error_oom();
	if ((rc = parse_collection(p, n, is_map, depth))) {
		node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* The one document of the stream; *root is NULL for an empty stream. */
static int parse_stream(parser *p, provauth_setting **root)
{
	yaml_event_t ev;
	int rc, type;

	*root = NULL;
	if ((rc = next_event(p, &ev)))          /* stream start */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(p, &ev)))
		return rc;
	type = ev.type;
	yaml_event_delete(&ev);
	if (type == YAML_STREAM_END_EVENT)
		return 0;
	if ((rc = next_event(p, &ev)))
		return rc;
	rc = parse_node(p, &ev, "", 1, root);
	yaml_event_delete(&ev);
	if (!rc && !(rc = next_event(p, &ev))) {  /* document end */
		yaml_event_delete(&ev);
		if (!(rc = next_event(p, &ev))) {
			if (ev.type == YAML_DOCUMENT_START_EVENT)
				rc = fail_at(p->file, EV_LINE(&ev), EV_COL(&ev), NULL,
				             "a second YAML document starts here; a settings file holds "
				             "exactly one (multiple documents are not supported)");
			yaml_event_delete(&ev);
		}
	}
	if (rc) {
		node_free(*root);
		*root = NULL;
	}
	return rc;
}

static int parse_tree(provauth_setting **root, const char *text, size_t len, const char *file)
{
	parser p;
	const char *nul;
	unsigned line, col;
	int rc;

	*root = NULL;
	if (len > MAX_BYTES)
		return pa_error_set(PROVAUTH_ECONFIG, "%s: settings file is too large (%zu bytes; "
		                    "the limit is 1 MiB)", file, len);
	if ((nul = memchr(text, '\0', len))) {
		offset_position(text, len, (size_t)(nul - text), &line, &col);
		return fail_at(file, line, col, NULL, "the file contains a NUL byte; settings must "
		               "be UTF-8 text (is this a binary file?)");
	}
	memset(&p, 0, sizeof(p));
	if (!yaml_parser_initialize(&p.yp))
		return pa_error_oom();
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&p.yp, YAML_UTF8_ENCODING);
	p.file = file;
	p.text = text;
	p.len = len;
	rc = parse_stream(&p, root);
	yaml_parser_delete(&p.yp);
	if (rc)
		return rc;
	if (!*root || (*root)->kind == NODE_NULL) {
		node_free(*root);
		*root = NULL;
		return pa_error_set(PROVAUTH_ECONFIG, "%s: empty settings file", file);
	}
	if ((*root)->kind != NODE_MAP) {
		/* Not quoted: a wrong file given as settings may be a key file. */
		rc = fail_at(file, (*root)->line, (*root)->col, NULL,
		             "the top level must be a mapping of settings ('key: value' lines), got %s",
		             kind_name(*root));
		node_free(*root);
		*root = NULL;
	}
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Validation into the typed sections                                       */
/* ------------------------------------------------------------------------ */

static int add_warning(provauth_settings *s, char *msg)
{
	char **grown;

	if (!msg)
		return pa_error_oom();
	if (!(grown = realloc(s->warnings, (s->warning_count + 1) * sizeof(*grown)))) {
		free(msg);
		return pa_error_oom();
	}
	s->warnings = grown;
	s->warnings[s->warning_count++] = msg;
	return 0;
}

static int load_plugin_dirs(provauth_settings *s)
{
	const provauth_setting *v = map_value(s->root, "plugin_dir");
	const provauth_setting *const *items = &v;
	size_t count = 1, i;

	if (!(s->plugin_dirs = calloc(1, sizeof(char *))))
		return pa_error_oom();
	if (!v)
		return 0;
	if (v->kind == NODE_SEQ) {
		items = (const provauth_setting *const *)v->items;
		count = v->count;
	} else if (v->kind != NODE_SCALAR) {
		return node_fail(v, "expected a directory or a list of directories, got %s", kind_name(v));
	}
	free(s->plugin_dirs);
	if (!(s->plugin_dirs = calloc(count + 1, sizeof(char *))))
		return pa_error_oom();
	for (i = 0; i < count; i++) {
		const provauth_setting *it = items[i];
		char buf[MSG_MAX / 2];

		if (it->kind != NODE_SCALAR)
			return node_fail(it, "expected a directory, got %s", kind_name(it));
		if (it->plain && !it->from_env && (looks_number(it->value) || looks_bool(it->value) >= 0))
			return node_fail(it, "expected a directory, got %s, which YAML does not read as "
			                 "text; write it in quotes if it is a directory name",
			                 shown(buf, sizeof(buf), it, 0));
		if (!it->value[0])
			return node_fail(it, "a directory name must not be empty");
		if (!(s->plugin_dirs[i] = strdup(it->value)))
			return pa_error_oom();
		s->plugin_dir_count++;
	}
	return 0;
}

/* $XDG_DATA_HOME/provauth/accounts.db, with the XDG fallbacks. */
static int default_store_path(char **out)
{
	const char *xdg = env_get("XDG_DATA_HOME"), *home = env_get("HOME");
	struct passwd pw, *found = NULL;
	char buf[4096];
	size_t n;

	*out = NULL;
	/* The XDG spec says to ignore a relative XDG_DATA_HOME. */
	if (xdg && xdg[0] == '/') {
		for (n = strlen(xdg); n > 1 && xdg[n - 1] == '/'; n--)
			;
		*out = pa_sprintf("%.*s/provauth/accounts.db", (int)n, xdg);
		return *out ? 0 : pa_error_oom();
	}
	if (!home || home[0] != '/') {
		if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) != 0 || !found ||
		    !found->pw_dir || found->pw_dir[0] != '/')
			return 0;
		home = found->pw_dir;
	}
	for (n = strlen(home); n > 1 && home[n - 1] == '/'; n--)
		;
	*out = pa_sprintf("%.*s/.local/share/provauth/accounts.db", (int)n, home);
	return *out ? 0 : pa_error_oom();
}

static int nonempty_path(const provauth_setting *map, const char *key, const char **out)
{
	int rc = get_string(map, key, NULL, "a file name", out);
	if (!rc && *out && !**out)
		return node_fail(map_value(map, key), "a file name must not be empty");
	return rc;
}

static int load_store(provauth_settings *s)
{
	static const char *const backends[] = { "sqlite", "memory", NULL };
	const provauth_setting *sec;
	const char *path, *key_file;
	size_t backend;
	int rc;

	if ((rc = get_section(s->root, "store", store_keys, &sec)) ||
	    (rc = get_choice(sec, "backend", backends, 0, &backend)) ||
	    (rc = nonempty_path(sec, "path", &path)) ||
	    (rc = nonempty_path(sec, "key_file", &key_file)) ||
	    (rc = get_int(sec, "busy_timeout_ms", 5000, 0, 600000, MILLIS, &s->store.busy_timeout_ms)))
		return rc;
	if (!(s->store.backend = strdup(backends[backend])))
		return pa_error_oom();
	if (path)
		s->store.path = strdup(path);
	else if ((rc = default_store_path(&s->store.path)))
		return rc;
	if (!s->store.path) {
		if (backend == 0)
			return pa_error_set(PROVAUTH_ECONFIG, "%s: store.path: no default location for "
			                    "the store (neither XDG_DATA_HOME nor HOME is set); set "
			                    "store.path", s->source);
		return 0;
	}
	/* Unset stays NULL: the store then tries PROVAUTH_STORE_KEY before "<path>.key". */
	if (key_file && !(s->store.key_file = strdup(key_file)))
		return pa_error_oom();
	return 0;
}

static int load_log(provauth_settings *s)
{
	static const char *const levels[] = { "debug", "info", "warn", "error", NULL };
	static const char *const formats[] = { "json", "text", NULL };
	const provauth_setting *sec;
	size_t level, format;
	int rc;

	if ((rc = get_section(s->root, "log", log_keys, &sec)) ||
	    (rc = get_choice(sec, "level", levels, 1, &level)) ||
	    (rc = get_choice(sec, "format", formats, 0, &format)))
		return rc;
	s->log.level = (provauth_log_level)((int)PROVAUTH_LOG_DEBUG + (int)level);
	s->log.format_text = format == 1;
	return 0;
}

static int load_http(provauth_settings *s)
{
	const provauth_setting *sec;
	const char *ca;
	int rc;

	if ((rc = get_section(s->root, "http", http_keys, &sec)) ||
	    (rc = get_string(sec, "ca_file", NULL, "a file name", &ca)) ||
	    (rc = get_int(sec, "connect_timeout_ms", 10000, 1, 600000, MILLIS,
	                  &s->http.connect_timeout_ms)) ||
	    (rc = get_int(sec, "timeout_ms", 30000, 1, 3600000, MILLIS, &s->http.timeout_ms)) ||
	    (rc = get_int(sec, "max_reply_bytes", 1048576, 1024, 1073741824,
	                  "an integer number of bytes", &s->http.max_reply_bytes)))
		return rc;
	/* Empty means the system CAs, so that ca_file: ${CA_FILE} may be left unset-but-empty. */
	if (ca && *ca && !(s->http.ca_file = strdup(ca)))
		return pa_error_oom();
	return 0;
}

static int load_session(provauth_settings *s)
{
	const provauth_setting *sec;
	int rc;

	if ((rc = get_section(s->root, "session", session_keys, &sec)) ||
	    (rc = get_int(sec, "recovery_wait_ms", 30000, 0, 3600000, MILLIS,
	                  &s->session.recovery_wait_ms)) ||
	    (rc = get_int(sec, "lease_ttl_ms", 30000, 100, 3600000, MILLIS, &s->session.lease_ttl_ms)))
		return rc;
	return 0;
}

static int valid_provider_id(const char *id)
{
	size_t n = strlen(id), i;

	if (!n || n > 64)
		return 0;
	for (i = 0; i < n; i++)
		if (!((id[i] >= 'a' && id[i] <= 'z') || isdigit((unsigned char)id[i]) ||
		      id[i] == '_' || id[i] == '-'))
			return 0;
	return 1;
}

static int load_provider(provauth_settings *s, const pa_entry *e, int mode_known, mode_t mode)
{
	pa_provider_settings *ps = &s->providers[s->provider_count];
	provauth_setting *block = e->value;
	const char *pw;
	int rc;

	if (!valid_provider_id(e->key))
		return fail_at(s->source, e->line, e->col, block->path,
		               "invalid provider id (use 1 to 64 lowercase letters, digits, '_' or '-')");
	/* A null block means "this provider, with defaults": make it an empty map. */
	if (block->kind == NODE_NULL)
		block->kind = NODE_MAP;
	if (block->kind != NODE_MAP)
		return node_fail(block, "expected a mapping of provider settings, got %s", kind_name(block));
	memset(ps, 0, sizeof(*ps));
	if (!(ps->id = strdup(e->key)))
		return pa_error_oom();
	ps->node = block;
	s->provider_count++;
	if ((rc = get_bool(block, "auto_reauth_enabled", 0, &ps->auto_reauth_enabled)) ||
	    (rc = get_string(block, "global_password", NULL, "a string", &pw)) ||
	    (rc = get_int(block, "reauth_cooldown", 300, 0, 86400, SECONDS, &ps->reauth_cooldown)) ||
	    (rc = get_int(block, "login_cooldown", 600, 0, 86400, SECONDS, &ps->login_cooldown)) ||
	    (rc = get_int(block, "refresh_ahead", 300, 0, 86400, SECONDS, &ps->refresh_ahead)) ||
	    (rc = get_bool(block, "cookie_refresh", 1, &ps->cookie_refresh)))
		return rc;
	if (pw && *pw && !(ps->global_password = strdup(pw)))
		return pa_error_oom();
	if (ps->global_password && map_value(block, "global_password")->literal && mode_known &&
	    (mode & (S_IRGRP | S_IROTH)))
		return add_warning(s, pa_sprintf(
			"%s: providers.%s.global_password is written in a file that group or others "
			"can read (mode %04o); run 'chmod 600 %s' or take it from the environment "
			"with ${VAR}", s->source, ps->id, (unsigned)(mode & 07777), s->source));
	return 0;
}

static int load_providers(provauth_settings *s, int mode_known, mode_t mode)
{
	const provauth_setting *v = map_value(s->root, "providers");
	size_t i;
	int rc;

	if (!v)
		return 0;
	if (v->kind != NODE_MAP)
		return node_fail(v, "expected a mapping of provider ids to their settings, got %s",
		                 kind_name(v));
	if (!(s->providers = calloc(v->count ? v->count : 1, sizeof(*s->providers))))
		return pa_error_oom();
	for (i = 0; i < v->count; i++)
		if ((rc = load_provider(s, &v->entries[i], mode_known, mode)))
			return rc;
	return 0;
}

static provauth_settings *settings_new(const char *source)
{
	provauth_settings *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	atomic_init(&s->refs, 1u);
	if (!(s->source = strdup(source))) {
		free(s);
		return NULL;
	}
	return s;
}

static void settings_destroy(provauth_settings *s)
{
	size_t i;

	for (i = 0; s->plugin_dirs && s->plugin_dirs[i]; i++)
		free(s->plugin_dirs[i]);
	free(s->plugin_dirs);
	free(s->store.backend);
	free(s->store.path);
	free(s->store.key_file);
	free(s->http.ca_file);
	for (i = 0; i < s->provider_count; i++) {
		free(s->providers[i].id);
		pa_secret_free(s->providers[i].global_password);
	}
	free(s->providers);
	for (i = 0; i < s->warning_count; i++)
		free(s->warnings[i]);
	free(s->warnings);
	node_free(s->root);
	free(s->source);
	free(s);
}

/* The first secret written in the file itself (not all through ${VAR}), or NULL. */
static const provauth_setting *literal_secret(const provauth_setting *n, const char *key)
{
	const provauth_setting *hit;
	size_t i;

	if (!n)
		return NULL;
	switch (n->kind) {
	case NODE_SCALAR:
		return key && key_is_secret(key) && n->literal && n->value && *n->value ? n : NULL;
	case NODE_MAP:
		for (i = 0; i < n->count; i++)
			if ((hit = literal_secret(n->entries[i].value, n->entries[i].key)))
				return hit;
		return NULL;
	case NODE_SEQ:
		for (i = 0; i < n->count; i++)
			if ((hit = literal_secret(n->items[i], key)))
				return hit;
		return NULL;
	default:
		return NULL;
	}
}

/*
 * Settings that another user can change decide where passwords and tokens
 * are sent (a provider's base_url) and which plugins run: a warning for
 * every program that loads them, and a refusal when they also hold a
 * secret written literally, which that user could read or redirect.
 */
static int check_unsafe_place(provauth_settings *s, const char *unsafe)
{
	const provauth_setting *hit;

	if (!unsafe)
		return 0;
	if ((hit = literal_secret(s->root, NULL)))
		return node_fail(hit, "a secret is written in a settings file that other users can change (%s); "
		                 "refused: make the file and its directory writable by you only, or take the "
		                 "secret from the environment with ${VAR}", unsafe);
	return add_warning(s, pa_sprintf("%s: other users can change this settings file (%s), and with it "
	                                 "where passwords and tokens are sent; make the file and its "
	                                 "directory writable by you only", s->source, unsafe));
}

/* `text` NULL: defaults only. `unsafe`: why other users can change the file, or NULL. */
static int settings_build(provauth_settings **out, const char *text, size_t len, const char *name,
                          int mode_known, mode_t mode, const char *unsafe)
{
	provauth_settings *s = settings_new(name);
	int rc;

	*out = NULL;
	if (!s)
		return pa_error_oom();
	if ((text && (rc = parse_tree(&s->root, text, len, s->source))) ||
	    (rc = check_keys(s->root, top_keys, NULL)) ||
	    (rc = load_plugin_dirs(s)) ||
	    (rc = load_store(s)) ||
	    (rc = load_log(s)) ||
	    (rc = load_http(s)) ||
	    (rc = load_session(s)) ||
	    (rc = load_providers(s, mode_known, mode)) ||
	    (rc = check_unsafe_place(s, unsafe))) {
		settings_destroy(s);
		return rc;
	}
	*out = s;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

int provauth_settings_parse(provauth_settings **out, const char *text, size_t len, const char *name)
{
	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_parse: out is NULL");
	*out = NULL;
	if (!text && len)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_parse: text is NULL");
	return settings_build(out, text ? text : "", len, name ? name : "(settings)", 0, 0, NULL);
}

/* Whether `dir` is writable by every user; its mode in *mode. */
static int dir_world_writable(const char *dir, mode_t *mode)
{
	struct stat st;

	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return 0;
	*mode = st.st_mode;
	return (st.st_mode & S_IWOTH) != 0;
}

/*
 * Why other users can change the settings file at `path` (open as `st`):
 * the file itself writable by all, or its directory (that of the name
 * given, and that of the file a symlink leads to) writable by all, sticky
 * or not (in a sticky one they may have put the file there). NULL when
 * none of these holds (or memory ran out: the check is advice, not a lock).
 */
static char *unsafe_place(const char *path, const struct stat *st)
{
	char *copy, *real, *slash, *why = NULL;
	char *dirs[2];
	mode_t mode = 0;
	size_t i;

	if (st->st_mode & S_IWOTH)
		return pa_sprintf("the file is writable by every user, mode %04o", (unsigned)(st->st_mode & 07777));
	copy = pa_strdup(path);
	real = realpath(path, NULL);
	if (!copy)
		return NULL;
	dirs[0] = copy;
	dirs[1] = real;
	for (i = 0; i < 2 && !why; i++) {
		char *d = dirs[i];
		if (!d)
			continue;
		if ((slash = strrchr(d, '/')) == d)
			slash[1] = '\0';   /* "/x": the root */
		else if (slash)
			*slash = '\0';
		else
			d = (char *)".";
		if (dir_world_writable(d, &mode))
			why = pa_sprintf("its directory %s is writable by every user, mode %04o", d,
			                 (unsigned)(mode & 07777));
	}
	free(copy);
	free(real);
	return why;
}

int provauth_settings_load(provauth_settings **out, const char *path)
{
	char *unsafe = NULL;
	struct stat st;
	char *buf;
	size_t len = 0;
	int fd, rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_load: out is NULL");
	*out = NULL;
	if (!path)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_load: no settings file given (path is NULL)");
	/* O_NONBLOCK: a FIFO given by mistake must not hang the caller. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK)) < 0)
		return pa_error_set(errno == ENOENT ? PROVAUTH_ENOTFOUND : PROVAUTH_EIO,
		                    "%s: cannot open settings file: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		rc = pa_error_set(PROVAUTH_EIO, "%s: cannot stat settings file: %s", path, strerror(errno));
		close(fd);
		return rc;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		return pa_error_set(PROVAUTH_ECONFIG, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > MAX_BYTES) {
		close(fd);
		return pa_error_set(PROVAUTH_ECONFIG, "%s: settings file is too large (%lld bytes; "
		                    "the limit is 1 MiB)", path, (long long)st.st_size);
	}
	/* Read at most one byte past the limit: the file may grow after fstat. */
	if (!(buf = malloc(MAX_BYTES + 1))) {
		close(fd);
		return pa_error_oom();
	}
	for (;;) {
		ssize_t n = read(fd, buf + len, MAX_BYTES + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = pa_error_set(PROVAUTH_EIO, "%s: cannot read settings file: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0 || (len += (size_t)n) > MAX_BYTES)
			break;
	}
	unsafe = unsafe_place(path, &st);
	rc = settings_build(out, buf, len, path, 1, st.st_mode, unsafe);
done:
	free(unsafe);
	pa_wipe(buf, len);
	free(buf);
	close(fd);
	return rc;
}

int provauth_settings_default(provauth_settings **out)
{
	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_settings_default: out is NULL");
	return settings_build(out, NULL, 0, "(defaults)", 0, 0, NULL);
}

void provauth_settings_free(provauth_settings *settings)
{
	if (settings && atomic_fetch_sub_explicit(&settings->refs, 1u, memory_order_acq_rel) == 1u)
		settings_destroy(settings);
}

provauth_settings *pa_settings_ref(const provauth_settings *s)
{
	provauth_settings *m = (provauth_settings *)s;

	if (m)
		atomic_fetch_add_explicit(&m->refs, 1u, memory_order_relaxed);
	return m;
}

size_t provauth_settings_warning_count(const provauth_settings *settings)
{
	return settings ? settings->warning_count : 0;
}

const char *provauth_settings_warning(const provauth_settings *settings, size_t i)
{
	return settings && i < settings->warning_count ? settings->warnings[i] : NULL;
}

const char *provauth_settings_source(const provauth_settings *settings)
{
	return settings ? settings->source : NULL;
}

/* ------------------------------------------------------------------------ */
/* Internal accessors                                                       */
/* ------------------------------------------------------------------------ */

const char *const *pa_settings_plugin_dirs(const provauth_settings *s, size_t *count)
{
	if (count)
		*count = s ? s->plugin_dir_count : 0;
	return s ? (const char *const *)s->plugin_dirs : NULL;
}

const pa_store_settings *pa_settings_store(const provauth_settings *s)
{
	return s ? &s->store : NULL;
}

const pa_log_settings *pa_settings_log(const provauth_settings *s)
{
	return s ? &s->log : NULL;
}

const pa_http_settings *pa_settings_http(const provauth_settings *s)
{
	return s ? &s->http : NULL;
}

const pa_session_settings *pa_settings_session(const provauth_settings *s)
{
	return s ? &s->session : NULL;
}

const pa_provider_settings *pa_settings_provider(const provauth_settings *s, const char *id)
{
	size_t i;

	for (i = 0; s && id && i < s->provider_count; i++)
		if (strcmp(s->providers[i].id, id) == 0)
			return &s->providers[i];
	return NULL;
}

size_t pa_settings_provider_count(const provauth_settings *s)
{
	return s ? s->provider_count : 0;
}

const pa_provider_settings *pa_settings_provider_at(const provauth_settings *s, size_t i)
{
	return s && i < s->provider_count ? &s->providers[i] : NULL;
}

provauth_setting *pa_settings_empty_node_new(const provauth_settings *s, const char *id)
{
	provauth_setting *n;
	char *path;

	if (!s || !id)
		return NULL;
	if (!(path = child_path("providers", id)))
		return NULL;
	n = node_new(NODE_MAP, s->source, path, 1, 1);
	free(path);
	return n;
}

void pa_settings_empty_node_free(provauth_setting *node)
{
	node_free(node);
}

int pa_setting_string(const provauth_setting *s, const char *key, const char *def, const char **out)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "pa_setting_string: key or out is NULL");
	return get_string(s, key, def, "a string", out);
}

int pa_setting_int(const provauth_setting *s, const char *key, int64_t def, int64_t min,
                   int64_t max, int64_t *out)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "pa_setting_int: key or out is NULL");
	return get_int(s, key, def, min, max, "an integer", out);
}

int pa_setting_bool(const provauth_setting *s, const char *key, int def, int *out)
{
	if (!out || !key)
		return pa_error_set(PROVAUTH_EINVAL, "pa_setting_bool: key or out is NULL");
	return get_bool(s, key, def, out);
}

int pa_setting_errorv(const provauth_setting *s, const char *key, const char *fmt, va_list ap)
{
	const pa_entry *e;
	char *path;
	int rc;

	if (!s || !key || !fmt)
		return pa_error_set(PROVAUTH_ECONFIG, "a provider setting is invalid (no key given)");
	e = map_entry(s, key);
	/* A key in the file: where its value is, as the typed readers report it. */
	if (e)
		return fail_atv(e->value->file, e->value->line, e->value->col, e->value->path, fmt, ap);
	/* Not in the file, so the plugin judged its own default: no position to give. */
	if (!(path = child_path(s->path, key)))
		return pa_error_oom();
	rc = fail_atv(s->file, 0, 0, path, fmt, ap);
	free(path);
	return rc;
}

int pa_setting_check_keys(const provauth_setting *s, const char *const *allowed,
                          const char *const *allowed_more)
{
	return check_keys(s, allowed, allowed_more);
}
