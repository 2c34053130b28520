/*
 * The validator behind every daemon test's "the answer is what the
 * document says". Deliberately small: it knows the keywords
 * docs/api/openapi.json uses, and refuses a schema keyword it does not
 * know rather than pass a value it did not check.
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "openapi_check.h"

struct pad_openapi {
	json_object *root;
};

pad_openapi *pad_openapi_load(const char *path)
{
	pad_openapi *doc;
	json_object *root = json_object_from_file(path);

	if (!root || !json_object_is_type(root, json_type_object)) {
		fprintf(stderr, "openapi: %s: not a JSON object (%s)\n", path, json_util_get_last_err());
		json_object_put(root);
		return NULL;
	}
	if (!(doc = calloc(1, sizeof(*doc)))) {
		json_object_put(root);
		return NULL;
	}
	doc->root = root;
	return doc;
}

void pad_openapi_free(pad_openapi *doc)
{
	if (!doc)
		return;
	json_object_put(doc->root);
	free(doc);
}

static json_object *member(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

json_object *pad_openapi_schema(const pad_openapi *doc, const char *name)
{
	return member(member(member(doc->root, "components"), "schemas"), name);
}

static int fail(char *err, size_t size, const char *path, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t size, const char *path, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	snprintf(err, size, "%s: %s", path, what);
	return -1;
}

static const char *type_of(json_object *v)
{
	switch (json_object_get_type(v)) {
	case json_type_null: return "null";
	case json_type_boolean: return "boolean";
	case json_type_double: return "number";
	case json_type_int: return "integer";
	case json_type_object: return "object";
	case json_type_array: return "array";
	case json_type_string: return "string";
	}
	return "unknown";
}

static int type_ok(const char *want, json_object *v)
{
	json_type t = json_object_get_type(v);

	if (strcmp(want, "number") == 0)
		return t == json_type_int || t == json_type_double;
	return strcmp(want, type_of(v)) == 0;
}

static int is_true(json_object *v)
{
	return v && json_object_is_type(v, json_type_boolean) && json_object_get_boolean(v);
}

/* The keywords checked here, and those that only describe. Anything else is refused. */
static int known_keyword(const char *k)
{
	static const char *const known[] = { "type", "nullable", "enum", "properties", "required",
		                                 "additionalProperties", "items", "$ref", "oneOf", "allOf",
		                                 "description", "format", "example", "title", NULL };
	size_t i;

	for (i = 0; known[i]; i++)
		if (strcmp(k, known[i]) == 0)
			return 1;
	return 0;
}

static int check(const pad_openapi *doc, json_object *schema, json_object *v, const char *path, char *err,
                 size_t size, int depth);

static int check_object(const pad_openapi *doc, json_object *schema, json_object *v, const char *path, char *err,
                        size_t size, int depth)
{
	json_object *props = member(schema, "properties"), *req = member(schema, "required");
	json_object *addl = member(schema, "additionalProperties");
	char sub[512];
	size_t i;

	for (i = 0; req && i < json_object_array_length(req); i++) {
		const char *k = json_object_get_string(json_object_array_get_idx(req, i));
		if (!member(v, k) && !json_object_object_get_ex(v, k, NULL))
			return fail(err, size, path, "required property '%s' is missing", k);
	}
	json_object_object_foreach(v, key, val) {
		json_object *ps = member(props, key);

		snprintf(sub, sizeof(sub), "%s.%s", path, key);
		if (ps) {
			if (check(doc, ps, val, sub, err, size, depth + 1) < 0)
				return -1;
		} else if (addl && json_object_is_type(addl, json_type_boolean)) {
			if (!json_object_get_boolean(addl))
				return fail(err, size, sub, "property not allowed (additionalProperties is false)");
		} else if (addl) {
			if (check(doc, addl, val, sub, err, size, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

static int check(const pad_openapi *doc, json_object *schema, json_object *v, const char *path, char *err,
                 size_t size, int depth)
{
	json_object *t, *e, *ref, *list;
	char sub[512];
	size_t i;

	if (depth > 64)
		return fail(err, size, path, "schema nested too deep (a $ref loop?)");
	if (!schema || !json_object_is_type(schema, json_type_object))
		return fail(err, size, path, "the document's schema here is not an object");
	json_object_object_foreach(schema, kw, kv) {
		(void)kv;
		if (!known_keyword(kw))
			return fail(err, size, path, "schema keyword '%s' is not supported by this validator", kw);
	}
	if ((ref = member(schema, "$ref"))) {
		const char *r = json_object_get_string(ref);
		static const char prefix[] = "#/components/schemas/";
		json_object *target;

		if (!r || strncmp(r, prefix, sizeof(prefix) - 1) != 0)
			return fail(err, size, path, "$ref '%s' is not #/components/schemas/NAME", r ? r : "");
		if (!(target = pad_openapi_schema(doc, r + sizeof(prefix) - 1)))
			return fail(err, size, path, "$ref '%s' names no schema", r);
		return check(doc, target, v, path, err, size, depth + 1);
	}
	if (!v || json_object_is_type(v, json_type_null)) {
		if (is_true(member(schema, "nullable")))
			return 0;
		/* A schema with no type and no combinators takes anything but null, unless nullable. */
		return fail(err, size, path, "null where the document does not allow it (not nullable)");
	}
	if ((list = member(schema, "allOf"))) {
		for (i = 0; i < json_object_array_length(list); i++)
			if (check(doc, json_object_array_get_idx(list, i), v, path, err, size, depth + 1) < 0)
				return -1;
	}
	if ((list = member(schema, "oneOf"))) {
		size_t matches = 0;
		char scratch[512];

		for (i = 0; i < json_object_array_length(list); i++)
			if (check(doc, json_object_array_get_idx(list, i), v, path, scratch, sizeof(scratch), depth + 1) == 0)
				matches++;
		if (matches != 1)
			return fail(err, size, path, "matches %zu of the oneOf schemas, not exactly one", matches);
	}
	if ((t = member(schema, "type")) && !type_ok(json_object_get_string(t), v))
		return fail(err, size, path, "expected %s, got %s", json_object_get_string(t), type_of(v));
	if ((e = member(schema, "enum"))) {
		int found = 0;
		for (i = 0; i < json_object_array_length(e) && !found; i++)
			found = json_object_equal(json_object_array_get_idx(e, i), v);
		if (!found)
			return fail(err, size, path, "value %s is not in the enum", json_object_to_json_string(v));
	}
	if (json_object_is_type(v, json_type_object) &&
	    (member(schema, "properties") || member(schema, "required") || member(schema, "additionalProperties")))
		return check_object(doc, schema, v, path, err, size, depth);
	if (json_object_is_type(v, json_type_array) && member(schema, "items")) {
		for (i = 0; i < json_object_array_length(v); i++) {
			snprintf(sub, sizeof(sub), "%s[%zu]", path, i);
			if (check(doc, member(schema, "items"), json_object_array_get_idx(v, i), sub, err, size, depth + 1) < 0)
				return -1;
		}
	}
	return 0;
}

int pad_openapi_check_value(const pad_openapi *doc, json_object *schema, json_object *value, const char *path,
                           char *err, size_t size)
{
	if (size)
		err[0] = '\0';
	return check(doc, schema, value, path ? path : "$", err, size, 0);
}

/* Matches a concrete path against a template segment by segment; the literal segments' count, or -1. */
static int template_match(const char *tmpl, const char *path, size_t path_len)
{
	const char *t = tmpl, *p = path, *end = path + path_len;
	int literal = 0;

	while (*t && p < end) {
		const char *tn = strchr(t + 1, '/'), *pn = memchr(p + 1, '/', (size_t)(end - p - 1));
		size_t tl, pl;

		if (*t != '/' || *p != '/')
			return -1;
		tn = tn ? tn : t + strlen(t);
		pn = pn ? pn : end;
		tl = (size_t)(tn - t - 1);
		pl = (size_t)(pn - p - 1);
		if (tl >= 2 && t[1] == '{' && t[tl] == '}') {
			if (pl == 0)
				return -1;
		} else if (tl != pl || memcmp(t + 1, p + 1, tl) != 0) {
			return -1;
		} else {
			literal++;
		}
		t = tn;
		p = pn;
	}
	return (!*t && p == end) ? literal : -1;
}

json_object *pad_openapi_operation(const pad_openapi *doc, const char *method, const char *path)
{
	json_object *paths = member(doc->root, "paths"), *best = NULL;
	size_t len = strcspn(path, "?");
	char m[16];
	int best_literal = -1;
	size_t i;

	for (i = 0; method[i] && i < sizeof(m) - 1; i++)
		m[i] = (char)(method[i] >= 'A' && method[i] <= 'Z' ? method[i] + 32 : method[i]);
	m[i] = '\0';
	json_object_object_foreach(paths, tmpl, item) {
		int lit = template_match(tmpl, path, len);
		json_object *op = member(item, m);

		if (lit > best_literal && op) {
			best = op;
			best_literal = lit;
		}
	}
	return best;
}

const char *pad_openapi_scope(const pad_openapi *doc, const char *method, const char *path)
{
	json_object *s = member(pad_openapi_operation(doc, method, path), "x-provauth-scope");

	return s ? json_object_get_string(s) : NULL;
}

int pad_openapi_check_response(const pad_openapi *doc, const char *method, const char *path, long status,
                              const char *body, char *err, size_t size)
{
	json_object *op = pad_openapi_operation(doc, method, path), *resp, *schema, *value;
	char code[16];
	int rc;

	if (!op)
		return fail(err, size, "$", "the document has no operation %s %s", method, path);
	snprintf(code, sizeof(code), "%ld", status);
	if (!(resp = member(member(op, "responses"), code)))
		return fail(err, size, "$", "%s %s: status %ld is not documented", method, path, status);
	if (!member(resp, "content")) {
		if (body && *body)
			return fail(err, size, "$", "%s %s %ld: a body where the document has none", method, path, status);
		return 0;
	}
	if (!(schema = member(member(member(resp, "content"), "application/json"), "schema")))
		return 0; /* text/html, text/plain: nothing to check here */
	if (!body || !*body)
		return fail(err, size, "$", "%s %s %ld: no body where the document has JSON", method, path, status);
	{
		json_tokener *tok = json_tokener_new();
		value = json_tokener_parse_ex(tok, body, (int)strlen(body));
		rc = json_tokener_get_error(tok) == json_tokener_success;
		json_tokener_free(tok);
	}
	if (!rc) {
		json_object_put(value);
		return fail(err, size, "$", "%s %s %ld: the body is not JSON", method, path, status);
	}
	rc = pad_openapi_check_value(doc, schema, value, "$", err, size);
	json_object_put(value);
	return rc;
}
