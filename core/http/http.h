/*
 * What the rest of the core may use of the HTTP room (core/http): one
 * libcurl service per manager, which backs the host's http service, and
 * replies made without the network for test and fuzz stubs. Included by
 * internal.h; the room's own workings are in http_private.h.
 */
#ifndef PA_HTTP_H
#define PA_HTTP_H

#include <stddef.h>
#include <provauth/plugin.h>

struct pa_logger;

typedef struct pa_http pa_http;

typedef struct pa_http_config {
	const char *ca_file;        /* NULL: system CAs */
	long connect_timeout_ms;
	long timeout_ms;
	size_t max_reply_bytes;
	const struct pa_logger *logger; /* may be NULL */
} pa_http_config;

int pa_http_new(pa_http **out, const pa_http_config *cfg);
void pa_http_free(pa_http *h);
int pa_http_request(pa_http *h, const provauth_http_request *req, provauth_http_response **out);
void pa_http_response_free(provauth_http_response *resp);
const char *pa_http_header(const provauth_http_response *resp, const char *name);

/* A header field given by pointer and length (it need not be NUL-terminated). */
typedef struct pa_http_field {
	const char *name;
	size_t nlen;
	const char *value;
	size_t vlen;
} pa_http_field;

/*
 * A reply in the layout pa_http_response_free expects, for services that
 * answer without the network (test and fuzz stubs): copies of the fields
 * and of body[0, body_len). 0, or PROVAUTH_ENOMEM.
 */
int pa_http_response_new(provauth_http_response **out, long status, const pa_http_field *fields, size_t nfields,
                         const char *body, size_t body_len);

#endif /* PA_HTTP_H */
