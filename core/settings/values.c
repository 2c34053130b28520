/*
 * Typed values: what a key of the tree holds, judged by the key that reads
 * it. Typing follows YAML: an unquoted 300 is a number, "300" a string, so
 * integers and booleans must be unquoted and a string key rejects an
 * unquoted number or boolean. A value that uses ${NAME} takes the type of
 * the key that reads it, since the environment has no types.
 *
 * Unknown keys are refused with the nearest known one ("did you mean").
 */
#include "config.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "settings/settings_private.h"

#define MAX_KEYLEN 64   /* longer keys get no "did you mean" */

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

int pa_check_known_keys(const provauth_setting *map, const char *const *a, const char *const *b)
{
	char known[PA_SETTINGS_MSG_MAX / 2];
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
		if (!(path = pa_node_child_path(map->path, e->key)))
			return pa_error_oom();
		if ((near = closest_key(e->key, a, b))) {
			rc = pa_settings_fail_at(map->file, e->line, e->col, path,
			                         "unknown key; did you mean '%s'?", near);
		} else {
			list_keys(known, sizeof(known), a, b);
			rc = pa_settings_fail_at(map->file, e->line, e->col, path,
			                         "unknown key (expected one of: %s)", known);
		}
		free(path);
		return rc;
	}
	return 0;
}

int pa_looks_bool(const char *v)
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
int pa_looks_number(const char *v)
{
	const char *s = v;
	size_t digits = 0;

	if (*s == '+' || *s == '-')
		s++;
	if (strcasecmp(s, ".inf") == 0 || strcasecmp(s, ".nan") == 0)
		return 1;
	if (s[0] == '0' && s[1] && strchr("xXoObB", s[1])) {
		/* Each base takes only its own digits: 0b1010 is a number, 0ba4c5 (a hash) is text. */
		const char *base_digits = strchr("xX", s[1]) ? "0123456789abcdefABCDEF" :
		                          strchr("oO", s[1]) ? "01234567" : "01";
		if (!s[2] || !strchr(base_digits, s[2]))
			return 0;
		for (s += 2; *s && (strchr(base_digits, *s) || *s == '_'); s++)
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

int pa_read_string(const provauth_setting *map, const char *key, const char *def,
                   const char *what, const char **out)
{
	const provauth_setting *v = pa_map_value(map, key);
	char buf[PA_SETTINGS_MSG_MAX / 2];

	*out = def;
	if (!v)
		return 0;
	if (v->kind != NODE_SCALAR)
		return node_fail(v, "expected %s, got %s", what, pa_node_kind_name(v));
	if (v->plain && !v->from_env) {
		const char *as = pa_looks_bool(v->value) >= 0 ? "boolean" :
		                 pa_looks_number(v->value) ? "number" : NULL;
		if (as)
			return node_fail(v, "expected %s, got %s, which YAML reads as a %s; "
			                 "write it in quotes if it is meant as text", what,
			                 pa_node_shown(buf, sizeof(buf), v, pa_key_is_secret(key)), as);
	}
	*out = v->value;
	return 0;
}

int pa_read_int(const provauth_setting *map, const char *key, int64_t def, int64_t min,
                int64_t max, const char *what, int64_t *out)
{
	const provauth_setting *v = pa_map_value(map, key);
	char buf[PA_SETTINGS_MSG_MAX / 2];
	int64_t n;
	int rc;

	*out = def;
	if (!v)
		return 0;
	if (v->kind != NODE_SCALAR)
		return node_fail(v, "expected %s, got %s", what, pa_node_kind_name(v));
	pa_node_shown(buf, sizeof(buf), v, pa_key_is_secret(key));
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

int pa_read_bool(const provauth_setting *map, const char *key, int def, int *out)
{
	const provauth_setting *v = pa_map_value(map, key);
	char buf[PA_SETTINGS_MSG_MAX / 2];
	int b;

	*out = def;
	if (!v)
		return 0;
	if (v->kind != NODE_SCALAR)
		return node_fail(v, "expected true or false, got %s", pa_node_kind_name(v));
	pa_node_shown(buf, sizeof(buf), v, pa_key_is_secret(key));
	if (!v->plain && !v->from_env)
		return node_fail(v, "expected true or false, got %s; write booleans without quotes", buf);
	if ((b = pa_looks_bool(v->value)) < 0)
		return node_fail(v, "expected true or false, got %s", buf);
	*out = b;
	return 0;
}

/* A section such as store: absent or null means every default. */
int pa_read_section(const provauth_setting *root, const char *key, const char *const *keys,
                    const provauth_setting **out)
{
	const provauth_setting *v = pa_map_value(root, key);

	*out = NULL;
	if (!v)
		return 0;
	if (v->kind != NODE_MAP)
		return node_fail(v, "expected a mapping of settings (indented 'key: value' lines), got %s",
		                 pa_node_kind_name(v));
	*out = v;
	return pa_check_known_keys(v, keys, NULL);
}

/* One of a fixed set of words; `*index` is its position in `words`. */
int pa_read_choice(const provauth_setting *map, const char *key, const char *const *words,
                   size_t def, size_t *index)
{
	const char *v;
	char buf[PA_SETTINGS_MSG_MAX / 2], known[PA_SETTINGS_MSG_MAX / 2];
	size_t i;
	int rc;

	*index = def;
	if ((rc = pa_read_string(map, key, NULL, "a string", &v)) || !v)
		return rc;
	for (i = 0; words[i]; i++)
		if (strcmp(v, words[i]) == 0) {
			*index = i;
			return 0;
		}
	list_keys(known, sizeof(known), words, NULL);
	return node_fail(pa_map_value(map, key), "expected one of %s, got %s", known,
	                 pa_node_shown(buf, sizeof(buf), pa_map_value(map, key), 0));
}

