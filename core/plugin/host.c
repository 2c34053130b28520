/* The provauth_host table: every service a plugin gets from the core. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "internal.h"

#define CTX(h) ((const pa_host_ctx *)(h)->host_data)

int64_t pa_host_now(const pa_host_ctx *ctx)
{
	if (ctx && ctx->clock)
		return ctx->clock(ctx->clock_payload);
	return (int64_t)time(NULL);
}

static int host_set_error(const provauth_host *h, int code, const char *fmt, ...) PROVAUTH_PRINTF(3, 4);

/*
 * The services below are called by plugins, which the core does not trust
 * to be bug-free: a NULL where a pointer is needed is refused with
 * PROVAUTH_EINVAL (and a message naming the service) instead of crashing
 * the host process.
 */
static int plugin_null(const char *service, const char *what)
{
	return pa_error_set(PROVAUTH_EINVAL, "plugin called host->%s with %s NULL", service, what);
}

static int host_set_error(const provauth_host *h, int code, const char *fmt, ...)
{
	va_list ap;
	PA_UNUSED(h);
	if (!fmt)
		return plugin_null("set_error", "the format");
	va_start(ap, fmt);
	pa_error_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

static void host_log(const provauth_host *h, provauth_log_level level, const char *event,
                     const provauth_log_field *fields, size_t nfields)
{
	size_t i;

	/* log returns nothing: a bad event is dropped, and the reason left as the last error. */
	if (!event) {
		plugin_null("log", "the event");
		return;
	}
	if (nfields && !fields) {
		plugin_null("log", "the fields");
		return;
	}
	for (i = 0; i < nfields; i++)
		if (!fields[i].key) {
			plugin_null("log", "a field key");
			return;
		}
	pa_log(CTX(h)->logger, level, event, fields, nfields);
}

static int host_setting_string(const provauth_host *h, const provauth_setting *s, const char *key,
                               const char *def, const char **out)
{
	PA_UNUSED(h);
	return pa_setting_string(s, key, def, out);
}

static int host_setting_int(const provauth_host *h, const provauth_setting *s, const char *key,
                            int64_t def, int64_t min, int64_t max, int64_t *out)
{
	PA_UNUSED(h);
	return pa_setting_int(s, key, def, min, max, out);
}

static int host_setting_bool(const provauth_host *h, const provauth_setting *s, const char *key,
                             int def, int *out)
{
	PA_UNUSED(h);
	return pa_setting_bool(s, key, def, out);
}

/*
 * The allocator behind everything a plugin and the host hand each other.
 * It is the C library's, so the core frees plugin-made session strings and
 * operation results with free() / pa_secret_free() as it frees its own;
 * the services exist so that a plugin never needs to know that.
 */
static void *host_alloc(const provauth_host *h, size_t n)
{
	PA_UNUSED(h);
	return malloc(n ? n : 1);
}

static void host_free(const provauth_host *h, void *p)
{
	PA_UNUSED(h);
	free(p);
}

static void host_secret_free(const provauth_host *h, char *s)
{
	PA_UNUSED(h);
	pa_secret_free(s);
}

static int64_t host_now(const provauth_host *h)
{
	return pa_host_now(CTX(h));
}

static int host_random_bytes(const provauth_host *h, unsigned char *buf, size_t len)
{
	PA_UNUSED(h);
	if (!buf)
		return len ? plugin_null("random_bytes", "the buffer") : 0;
	return pa_random_bytes(buf, len);
}

static int host_uuid4(const provauth_host *h, char out[37])
{
	PA_UNUSED(h);
	if (!out)
		return plugin_null("uuid4", "the output");
	return pa_uuid4(out);
}

static int host_base64_decode(const provauth_host *h, const char *in, size_t len,
                              unsigned char **out, size_t *out_len)
{
	PA_UNUSED(h);
	if (!out || !out_len)
		return plugin_null("base64_decode", "an output");
	if (!in) {
		*out = NULL;
		*out_len = 0;
		return plugin_null("base64_decode", "the input");
	}
	return pa_base64_decode(in, len, out, out_len);
}

static int host_digest_hex(const provauth_host *h, const char *alg, const void *data, size_t len,
                           char *out, size_t out_size)
{
	PA_UNUSED(h);
	if (!out)
		return plugin_null("digest_hex", "the output");
	if (!data && len)
		return plugin_null("digest_hex", "the data");
	return pa_digest_hex(alg, data, len, out, out_size);
}

static char *host_url_escape(const provauth_host *h, const char *s)
{
	PA_UNUSED(h);
	return s ? pa_url_escape(s) : NULL;
}

static int host_http_request(const provauth_host *h, const provauth_http_request *req,
                             provauth_http_response **out)
{
	if (!CTX(h)->http) {
		*out = NULL;
		return pa_error_set(PROVAUTH_EUNSUPPORTED, "http: this host has no HTTP service");
	}
	return pa_http_request(CTX(h)->http, req, out);
}

/*
 * json_parse as plugin.h defines it: exactly RFC 8259 (the strict checker
 * first), so that what a plugin can parse does not depend on the
 * extensions of the parser underneath.
 */
static provauth_json *host_json_parse(const char *text, size_t len)
{
	if (!text || !pa_json_valid(text, len))
		return NULL;
	return pa_json_parse(text, len);
}

/* json_format's output, grown by copy: it may hold secrets, so no old block is freed unwiped. */
typedef struct json_out {
	char *p;
	size_t len, cap;
	int oom;
} json_out;

static void out_add(json_out *o, const char *s, size_t n)
{
	char *grown;
	size_t cap;

	if (o->oom)
		return;
	if (o->len + n + 1 > o->cap) {
		cap = (o->len + n + 1) * 2;
		if (!(grown = malloc(cap))) {
			o->oom = 1;
			return;
		}
		if (o->p) {
			memcpy(grown, o->p, o->len);
			pa_wipe(o->p, o->cap);
			free(o->p);
		}
		o->p = grown;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
}

static void out_str(json_out *o, const char *s)
{
	out_add(o, s, strlen(s));
}

/* A C string as a JSON string, escaped as json_serialize escapes strings. */
static void out_quoted(json_out *o, const char *s)
{
	provauth_json *v;
	char *text;

	if (!s) {
		out_str(o, "null");
		return;
	}
	if (!(v = pa_json_from_string(s)) || !(text = pa_json_serialize(v))) {
		pa_json_free(v);
		o->oom = 1;
		return;
	}
	pa_json_free(v);
	out_str(o, text);
	pa_secret_free(text);
}

static char *host_json_format(const provauth_host *h, const char *fmt, ...)
{
	json_out o = { NULL, 0, 0, 0 };
	const char *p, *lit;
	char num[32];
	va_list ap;
	int bad = 0;   /* the unknown conversion character, or 0 */

	PA_UNUSED(h);
	if (!fmt) {
		plugin_null("json_format", "the format");
		return NULL;
	}
	va_start(ap, fmt);
	for (p = lit = fmt; !bad && *p; p++) {
		if (*p != '%')
			continue;
		out_add(&o, lit, (size_t)(p - lit));
		switch (*++p) {
		case 's':
			out_quoted(&o, va_arg(ap, const char *));
			break;
		case 'i':
			snprintf(num, sizeof(num), "%lld", (long long)va_arg(ap, int64_t));
			out_str(&o, num);
			break;
		case 'b':
			out_str(&o, va_arg(ap, int) ? "true" : "false");
			break;
		case 'j': {
			const char *j = va_arg(ap, const char *);
			out_str(&o, j ? j : "null");
			break;
		}
		case '%':
			out_str(&o, "%");
			break;
		default:
			bad = *p ? *p : '?';
			continue;
		}
		lit = p + 1;
	}
	va_end(ap);
	if (!bad)
		out_str(&o, lit);
	if (o.oom) {
		pa_secret_free(o.p);
		pa_error_oom();
		return NULL;
	}
	if (bad || !o.p || !pa_json_valid(o.p, o.len)) {
		pa_secret_free(o.p);
		if (bad)
			pa_error_set(PROVAUTH_EINVAL, "plugin called host->json_format with an unknown conversion %%%c", bad);
		else
			pa_error_set(PROVAUTH_EINVAL, "plugin called host->json_format with a format that makes no JSON value");
		return NULL;
	}
	return o.p;
}

static const char *host_last_error(const provauth_host *h)
{
	PA_UNUSED(h);
	return provauth_last_error();
}

static int host_setting_error(const provauth_host *h, const provauth_setting *s, const char *key,
                              const char *fmt, ...) PROVAUTH_PRINTF(4, 5);

static int host_setting_error(const provauth_host *h, const provauth_setting *s, const char *key,
                              const char *fmt, ...)
{
	va_list ap;
	int rc;

	PA_UNUSED(h);
	va_start(ap, fmt);
	rc = pa_setting_errorv(s, key, fmt, ap);
	va_end(ap);
	return rc;
}

static int host_text_excerpt(const provauth_host *h, char *out, size_t size, const char *text, size_t len,
                             const char *const *secrets, size_t nsecrets)
{
	PA_UNUSED(h);
	if (!out || !size)
		return PROVAUTH_EINVAL;
	return pa_text_excerpt(out, size, text, text ? len : 0, secrets, secrets ? nsecrets : 0);
}

void pa_host_init(provauth_host *h, pa_host_ctx *ctx)
{
	memset(h, 0, sizeof(*h));
	h->abi_major = PROVAUTH_PLUGIN_ABI_MAJOR;
	h->abi_minor = PROVAUTH_PLUGIN_ABI_MINOR;
	h->size = sizeof(*h);
	h->host_data = ctx;

	h->alloc = host_alloc;
	h->free = host_free;
	h->secret_free = host_secret_free;

	h->set_error = host_set_error;
	h->log = host_log;
	h->setting_string = host_setting_string;
	h->setting_int = host_setting_int;
	h->setting_bool = host_setting_bool;
	h->now = host_now;
	h->random_bytes = host_random_bytes;
	h->uuid4 = host_uuid4;
	h->base64_decode = host_base64_decode;
	h->digest_hex = host_digest_hex;
	h->url_escape = host_url_escape;
	h->http_request = host_http_request;
	h->http_response_free = pa_http_response_free;
	h->http_header = pa_http_header;

	h->json_parse = host_json_parse;
	h->json_free = pa_json_free;
	h->json_type = pa_json_type;
	h->json_get = pa_json_get;
	h->json_string = pa_json_string;
	h->json_int = pa_json_int;
	h->json_bool = pa_json_bool;
	h->json_array_len = pa_json_array_len;
	h->json_array_at = pa_json_array_at;
	h->json_serialize = pa_json_serialize;
	h->json_format = host_json_format;

	h->update_set_email = pa_update_set_email;
	h->update_set_credential = pa_update_set_credential;
	h->update_clear_credentials = pa_update_clear_credentials;
	h->update_set_metadata = pa_update_set_metadata;

	h->failure_set_message = provauth_failure_set_message;
	h->failure_set_http = provauth_failure_set_http;
	h->failure_set_transport = provauth_failure_set_transport;

	h->json_valid = pa_json_valid;

	h->last_error = host_last_error;
	h->setting_error = host_setting_error;

	h->text_excerpt = host_text_excerpt;

	h->account_credential = provauth_account_credential;
	h->account_credential_expires = provauth_account_credential_expires;
	h->account_credential_count = provauth_account_credential_count;
	h->account_credential_at = provauth_account_credential_at;
	h->update_set_auth_method = pa_update_set_auth_method;
	h->session_credential = provauth_session_credential;
	h->session_credential_expires = provauth_session_credential_expires;
	h->session_set_credential = pa_session_set_credential;
}
