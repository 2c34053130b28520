/* Setters for provauth_failure, the description of a failed operation. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

void provauth_failure_clear(provauth_failure *f)
{
	if (!f)
		return;
	free(f->message);
	free(f->body);
	memset(f, 0, sizeof(*f));
	f->retry_after = -1;
}

int provauth_failure_set_message(provauth_failure *f, int code, const char *fmt, ...)
{
	va_list ap;
	char *msg = NULL;

	if (!f || !fmt)
		return PROVAUTH_EINVAL;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return pa_error_oom();
	free(f->message);
	f->message = msg;
	f->kind = PROVAUTH_FAILURE_MESSAGE;
	f->code = code < 0 ? code : PROVAUTH_ERROR;
	return 0;
}

int provauth_failure_set_http(provauth_failure *f, long status, const char *body, size_t body_len,
                              long retry_after)
{
	char *copy = NULL;

	if (!f)
		return PROVAUTH_EINVAL;
	if (body) {
		if (!(copy = malloc(body_len + 1)))
			return pa_error_oom();
		memcpy(copy, body, body_len);
		copy[body_len] = '\0';
	}
	free(f->body);
	f->body = copy;
	f->body_len = copy ? body_len : 0;
	f->kind = PROVAUTH_FAILURE_HTTP;
	f->http_status = status;
	f->retry_after = retry_after;
	/*
	 * A code the operation chose (set_message) is kept; one derived from an
	 * earlier reply is recomputed, or a 500 followed by a 429 would still
	 * say EHTTP.
	 */
	if (f->code >= 0 || f->code == PROVAUTH_EHTTP || f->code == PROVAUTH_ERATELIMIT)
		f->code = status == 429 ? PROVAUTH_ERATELIMIT : PROVAUTH_EHTTP;
	return 0;
}

int provauth_failure_set_transport(provauth_failure *f, int code, const char *message)
{
	char *copy = NULL;

	if (!f)
		return PROVAUTH_EINVAL;
	if (message && !(copy = strdup(message)))
		return pa_error_oom();
	free(f->message);
	f->message = copy;
	f->kind = PROVAUTH_FAILURE_TRANSPORT;
	f->code = code < 0 ? code : PROVAUTH_ENETWORK;
	return 0;
}
