/*
 * Replies: what a handler fills in and the server sends. Every error is the
 * same JSON shape, built with json-c so that nothing a client sent can break
 * out of a string; the request id is added by the server (which knows it)
 * when it sends the reply.
 */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "daemon.h"

static int set_body(pad_reply *rep, int status, const char *type, const char *text, size_t len)
{
	char *copy = malloc(len + 1);

	if (!copy)
		return PROVAUTH_ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	free(rep->body);
	rep->body = copy;
	rep->len = len;
	rep->status = status;
	rep->content_type = type;
	return 0;
}

int pad_reply_json(pad_reply *rep, int status, json_object *obj)
{
	const char *text;
	size_t len = 0;
	int rc;

	if (!obj)
		return PROVAUTH_ENOMEM;
	text = json_object_to_json_string_length(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
	                                         &len);
	rc = text ? set_body(rep, status, "application/json", text, len) : PROVAUTH_ENOMEM;
	json_object_put(obj);
	return rc;
}

/* The request id goes in at send time (the server's pad_reply_finish_error), not here. */
static int error_json(pad_reply *rep, int status, const char *code, const char *message)
{
	json_object *root = json_object_new_object(), *err = json_object_new_object();

	if (!root || !err) {
		json_object_put(root);
		json_object_put(err);
		return PROVAUTH_ENOMEM;
	}
	json_object_object_add(err, "code", json_object_new_string(code));
	json_object_object_add(err, "message", json_object_new_string(message ? message : ""));
	json_object_object_add(root, "error", err);
	return pad_reply_json(rep, status, root);
}

int pad_reply_error(pad_reply *rep, int status, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_json(rep, status, code, msg);
}

int pad_reply_provauth(pad_reply *rep, int rc)
{
	const char *msg = provauth_last_error();
	int status = 500;
	const char *code = "internal";

	switch (rc) {
	case PROVAUTH_ENOTFOUND: status = 404; code = "not_found"; break;
	case PROVAUTH_EINVAL: status = 400; code = "invalid"; break;
	case PROVAUTH_ECONFLICT: status = 409; code = "conflict"; break;
	case PROVAUTH_EBUSY: status = 409; code = "busy"; break;
	case PROVAUTH_ETIMEOUT: status = 504; code = "timeout"; break;
	case PROVAUTH_ENETWORK:
	case PROVAUTH_EHTTP:
	case PROVAUTH_EPROTOCOL: status = 502; code = "provider_unreachable"; break;
	case PROVAUTH_ESESSION: status = 502; code = "session_lost"; break;
	case PROVAUTH_EAUTH: status = 502; code = "login_failed"; break;
	case PROVAUTH_ERATELIMIT: status = 429; code = "rate_limited"; break;
	case PROVAUTH_ECOOLDOWN: status = 429; code = "cooldown"; break;
	case PROVAUTH_EUNSUPPORTED: status = 400; code = "unsupported"; break;
	case PROVAUTH_EBANNED: status = 403; code = "banned"; break;
	case PROVAUTH_ECONCURRENCY: status = 503; code = "concurrency"; break;
	case PROVAUTH_ENOACCOUNT: status = 503; code = "no_account"; break;
	case PROVAUTH_ENOEMAIL: status = 422; code = "email_missing"; break;
	case PROVAUTH_ECREDITS: status = 402; code = "no_credits"; break;
	default: break;
	}
	return error_json(rep, status, code, msg && *msg ? msg : provauth_strerror(rc));
}

int pad_reply_text(pad_reply *rep, int status, const char *content_type, const char *text, size_t len)
{
	return set_body(rep, status, content_type, text, len);
}

int pad_reply_header(pad_reply *rep, const char *name, const char *value)
{
	char *n, *v;

	if (rep->nheaders >= PAD_REPLY_MAX_HEADERS)
		return PROVAUTH_EINVAL;
	/* A header must not smuggle a second one in. */
	if (strpbrk(name, "\r\n:") || strpbrk(value, "\r\n"))
		return PROVAUTH_EINVAL;
	n = strdup(name);
	v = strdup(value);
	if (!n || !v) {
		free(n);
		free(v);
		return PROVAUTH_ENOMEM;
	}
	rep->header_name[rep->nheaders] = n;
	rep->header_value[rep->nheaders] = v;
	rep->nheaders++;
	return 0;
}

void pad_reply_clear(pad_reply *rep)
{
	size_t i;

	free(rep->body);
	for (i = 0; i < rep->nheaders; i++) {
		free(rep->header_name[i]);
		free(rep->header_value[i]);
	}
	memset(rep, 0, sizeof(*rep));
}
