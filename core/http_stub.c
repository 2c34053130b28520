/*
 * TEMPORARY stand-in for core/http.c until it is merged: host.c needs these
 * three symbols to link. Requests fail with PROVAUTH_EUNSUPPORTED. Delete this
 * file (and its line in loader.mk) when http.c lands.
 */
#include "config.h"
#include <stdlib.h>
#include "internal.h"

int pa_http_request(pa_http *h, const provauth_http_request *req, provauth_http_response **out)
{
	PA_UNUSED(h);
	PA_UNUSED(req);
	if (out)
		*out = NULL;
	return pa_error_set(PROVAUTH_EUNSUPPORTED, "http: not available in this build");
}

void pa_http_response_free(provauth_http_response *resp)
{
	size_t i;

	if (!resp)
		return;
	for (i = 0; i < resp->header_count; i++) {
		free(resp->headers[i].name);
		free(resp->headers[i].value);
	}
	free(resp->headers);
	free(resp->body);
	free(resp);
}

const char *pa_http_header(const provauth_http_response *resp, const char *name)
{
	PA_UNUSED(resp);
	PA_UNUSED(name);
	return NULL;
}
