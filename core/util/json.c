/* The host's JSON services: a thin, NULL-safe layer over json-c. */
#include "config.h"
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "internal.h"

#define J(v) ((struct json_object *)(v))
#define PJ(v) ((provauth_json *)(v))

/* Deeply nested input is refused rather than recursed into. */
#define PA_JSON_MAX_DEPTH 64

/*
 * Whether the text holds a NUL character: a raw byte, or the escape
 * \u0000 (a 'u' after an odd run of backslashes, wherever it is: outside a
 * string a backslash is no JSON anyway, and json-c's comments and single
 * quotes would make tracking strings unreliable).
 */
static int has_nul(const char *text, size_t len)
{
	size_t i, run = 0;

	if (memchr(text, '\0', len))
		return 1;
	for (i = 0; i < len; i++) {
		if (text[i] == '\\') {
			run++;
			continue;
		}
		if (text[i] == 'u' && run % 2 == 1 && len - i > 4 && memcmp(text + i + 1, "0000", 4) == 0)
			return 1;
		run = 0;
	}
	return 0;
}

provauth_json *pa_json_parse(const char *text, size_t len)
{
	struct json_tokener *tok;
	struct json_object *obj;

	if (!text || len > INT_MAX)
		return NULL;
	/*
	 * json-c keeps a NUL inside a string, but every reader of a string here
	 * takes it as a C string: "tok\u0000junk" would be read as "tok", a
	 * token or an email silently cut short, and a key with a NUL would
	 * stand for another key. Such a document is refused as a whole.
	 */
	if (has_nul(text, len)) {
		pa_error_set(PROVAUTH_EPROTOCOL, "JSON: a string holds a NUL character (\\u0000), which would "
		             "cut the value short; the document is refused");
		return NULL;
	}
	if (!(tok = json_tokener_new_ex(PA_JSON_MAX_DEPTH)))
		return NULL;
	obj = json_tokener_parse_ex(tok, text, (int)len);
	/*
	 * json-c cannot know that a top-level number or literal ("123", "true")
	 * has ended until it sees a delimiter, so it asks for more input: give
	 * it one blank. A truncated document still fails, since a blank
	 * completes nothing else.
	 */
	if (!obj && json_tokener_get_error(tok) == json_tokener_continue &&
	    (size_t)json_tokener_get_parse_end(tok) == len) {
		obj = json_tokener_parse_ex(tok, " ", 1);
		if (obj && json_tokener_get_error(tok) == json_tokener_success) {
			json_tokener_free(tok);
			return PJ(obj);
		}
		json_object_put(obj);
		json_tokener_free(tok);
		return NULL;
	}
	/* Trailing garbage or an incomplete document is not JSON. */
	if (json_tokener_get_error(tok) != json_tokener_success ||
	    (size_t)json_tokener_get_parse_end(tok) != len) {
		size_t end = json_tokener_get_parse_end(tok);
		int only_space = json_tokener_get_error(tok) == json_tokener_success;
		for (; only_space && end < len; end++)
			if (!strchr(" \t\r\n", text[end]))
				only_space = 0;
		if (!only_space) {
			json_object_put(obj);
			obj = NULL;
		}
	}
	json_tokener_free(tok);
	return PJ(obj);
}

provauth_json *pa_json_new_object(void) { return PJ(json_object_new_object()); }
provauth_json *pa_json_new_array(void) { return PJ(json_object_new_array()); }
void pa_json_free(provauth_json *v) { json_object_put(J(v)); }

provauth_json_type pa_json_type(const provauth_json *v)
{
	switch (json_object_get_type(J(v))) {
	case json_type_boolean: return PROVAUTH_JSON_BOOL;
	case json_type_int:     return PROVAUTH_JSON_INT;
	case json_type_double:  return PROVAUTH_JSON_DOUBLE;
	case json_type_string:  return PROVAUTH_JSON_STRING;
	case json_type_object:  return PROVAUTH_JSON_OBJECT;
	case json_type_array:   return PROVAUTH_JSON_ARRAY;
	default:                return PROVAUTH_JSON_NULL;
	}
}

const provauth_json *pa_json_get(const provauth_json *v, const char *path)
{
	struct json_object *cur = J(v);
	char key[256];

	if (!cur || !path)
		return NULL;
	while (*path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);
		struct json_object *next = NULL;

		if (n == 0 || n >= sizeof(key) || !json_object_is_type(cur, json_type_object))
			return NULL;
		memcpy(key, path, n);
		key[n] = '\0';
		if (!json_object_object_get_ex(cur, key, &next))
			return NULL;
		cur = next;
		path += n + (dot ? 1 : 0);
		/* "a." names no member: an empty last key, not "a". */
		if (dot && !*path)
			return NULL;
	}
	return PJ(cur);
}

const char *pa_json_string(const provauth_json *v)
{
	return json_object_is_type(J(v), json_type_string) ? json_object_get_string(J(v)) : NULL;
}

int pa_json_int(const provauth_json *v, int64_t *out)
{
	const char *s;
	char *end;
	long long n;

	if (json_object_is_type(J(v), json_type_int)) {
		*out = json_object_get_int64(J(v));
		return 0;
	}
	if (json_object_is_type(J(v), json_type_double)) {
		double d = json_object_get_double(J(v));
		if (d >= -9e18 && d <= 9e18 && d == (double)(int64_t)d) {
			*out = (int64_t)d;
			return 0;
		}
		return PROVAUTH_EINVAL;
	}
	if ((s = pa_json_string(v)) && *s) {
		errno = 0;
		n = strtoll(s, &end, 10);
		if (!errno && *end == '\0') {
			*out = n;
			return 0;
		}
	}
	return PROVAUTH_EINVAL;
}

int pa_json_bool(const provauth_json *v, int *out)
{
	if (!json_object_is_type(J(v), json_type_boolean))
		return PROVAUTH_EINVAL;
	*out = json_object_get_boolean(J(v)) ? 1 : 0;
	return 0;
}

size_t pa_json_array_len(const provauth_json *v)
{
	return json_object_is_type(J(v), json_type_array) ? json_object_array_length(J(v)) : 0;
}

const provauth_json *pa_json_array_at(const provauth_json *v, size_t i)
{
	if (i >= pa_json_array_len(v))
		return NULL;
	return PJ(json_object_array_get_idx(J(v), i));
}

int pa_json_set(provauth_json *obj, const char *key, provauth_json *val)
{
	if (!json_object_is_type(J(obj), json_type_object) || !key) {
		json_object_put(J(val));
		return PROVAUTH_EINVAL;
	}
	if (json_object_object_add(J(obj), key, J(val)) != 0) {
		json_object_put(J(val));
		return PROVAUTH_ENOMEM;
	}
	return 0;
}

int pa_json_append(provauth_json *arr, provauth_json *val)
{
	if (!json_object_is_type(J(arr), json_type_array) ||
	    json_object_array_add(J(arr), J(val)) != 0) {
		json_object_put(J(val));
		return PROVAUTH_EINVAL;
	}
	return 0;
}

provauth_json *pa_json_from_string(const char *s) { return PJ(s ? json_object_new_string(s) : NULL); }
provauth_json *pa_json_from_int(int64_t n) { return PJ(json_object_new_int64(n)); }
provauth_json *pa_json_from_bool(int b) { return PJ(json_object_new_boolean(b ? 1 : 0)); }

char *pa_json_serialize(const provauth_json *v)
{
	const char *s = json_object_to_json_string_ext(J(v), JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	return pa_strdup(s ? s : "null");
}

/*
 * Stored metadata has always been read with json-c's default parser (text
 * after the first value ignored, nesting up to 32): metadata a caller put
 * by hand reads as it did. Input from the network goes through
 * pa_json_parse instead.
 */
provauth_json *pa_json_parse_loose(const char *text)
{
	return text ? PJ(json_tokener_parse(text)) : NULL;
}

int pa_json_remove(provauth_json *obj, const char *key)
{
	if (!json_object_is_type(J(obj), json_type_object) || !key)
		return PROVAUTH_EINVAL;
	json_object_object_del(J(obj), key);
	return 0;
}

const char *pa_json_text(const provauth_json *v)
{
	return v ? json_object_get_string(J(v)) : NULL;
}

int pa_json_each_member(const provauth_json *v, int (*fn)(const char *key, const provauth_json *value,
                                                           void *payload), void *payload)
{
	int rc;

	if (!v || !json_object_is_type(J(v), json_type_object))
		return 0;
	json_object_object_foreach(J(v), key, value) {
		if ((rc = fn(key, PJ(value), payload)) != 0)
			return rc;
	}
	return 0;
}
