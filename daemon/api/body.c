/*
 * Request bodies and query arguments: every bad input is a 400 that names
 * the field, so a client in another language can tell what to fix without
 * reading our source. And the one JSON read of the other side: a member of
 * a provider operation's answer (jobs.c, job_images.c).
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "api.h"

/* A 400 naming the field; 1: the reply is written (the handler returns 0). */
static int refuse(pad_reply *rep, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int refuse(pad_reply *rep, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	pad_reply_error(rep, 400, "invalid", "%s", msg);
	return 1;
}

int pad_api_body_keys(pad_request *req, pad_reply *rep, const char *const *allowed, int empty_ok)
{
	size_t i;

	if (!req->json) {
		if (empty_ok)
			return 0;
		return refuse(rep, "the request needs a JSON object body");
	}
	json_object_object_foreach(req->json, key, val) {
		(void)val;
		for (i = 0; allowed[i]; i++)
			if (strcmp(key, allowed[i]) == 0)
				break;
		if (!allowed[i])
			/* The key is the client's text but not a secret: a name, shown so it can be fixed. */
			return refuse(rep, "unknown field '%.64s' in the request body", key);
	}
	return 0;
}

int pad_api_body_string(pad_request *req, pad_reply *rep, json_object *obj, const char *field, int required,
                        const char **out)
{
	json_object *v = NULL;

	(void)req;
	*out = NULL;
	if (!obj || !json_object_object_get_ex(obj, field, &v) || !v) {
		if (required)
			return refuse(rep, "field '%s' is required", field);
		return 0;
	}
	if (!json_object_is_type(v, json_type_string))
		return refuse(rep, "field '%s' must be a string", field);
	if (json_object_get_string_len(v) == 0)
		return refuse(rep, "field '%s' must not be empty", field);
	*out = json_object_get_string(v);
	return 0;
}

int pad_api_body_bool(pad_request *req, pad_reply *rep, json_object *obj, const char *field, int def, int *out)
{
	json_object *v = NULL;

	(void)req;
	*out = def;
	if (!obj || !json_object_object_get_ex(obj, field, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return refuse(rep, "field '%s' must be true or false", field);
	*out = json_object_get_boolean(v);
	return 0;
}

int pad_api_query_bool(pad_request *req, pad_reply *rep, const char *name, int def, int *out)
{
	const char *v = pad_request_query(req, name);

	*out = def;
	if (!v)
		return 0;
	if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)
		*out = 1;
	else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0 || !*v)
		*out = 0;
	else
		return refuse(rep, "query argument '%s' must be true or false", name);
	return 0;
}

char *pad_api_answer_member(const char *json, const char *key, int numbers_too)
{
	json_object *o = json_tokener_parse(json), *v;
	char *s = NULL;

	if (o && json_object_object_get_ex(o, key, &v) && v &&
	    (json_object_is_type(v, json_type_string) || (numbers_too && json_object_is_type(v, json_type_int))))
		s = strdup(json_object_get_string(v));
	json_object_put(o);
	return s;
}
