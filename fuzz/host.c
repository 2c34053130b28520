/* The fuzz targets' host: the core's real table, with HTTP replaced by a stub. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "fuzz.h"

static provauth_host host;
static pa_host_ctx host_ctx;
static pa_logger logger;
static int ready;

static char *log_buf;
static size_t log_len, log_cap;

static struct {
	long status;
	const char *headers;         /* "Name: value\n" lines */
	const char *body;
	size_t body_len;
	unsigned requests;
} stub;

/* A fixed clock: targets must be deterministic for replay. */
static int64_t fixed_clock(void *payload)
{
	(void)payload;
	return INT64_C(1800000000);
}

static void log_add(const char *s, size_t n)
{
	if (log_len + n + 1 > log_cap) {
		size_t cap = (log_len + n + 1) * 2;
		char *grown = realloc(log_buf, cap);
		if (!grown)
			pa_fuzz_fail("log capture: out of memory");
		log_buf = grown;
		log_cap = cap;
	}
	memcpy(log_buf + log_len, s, n);
	log_len += n;
	log_buf[log_len] = '\0';
}

static void capture(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                    void *payload)
{
	size_t i;

	(void)level;
	(void)payload;
	log_add(event, strlen(event));
	for (i = 0; i < n; i++) {
		log_add(" ", 1);
		log_add(f[i].key, strlen(f[i].key));
		log_add("=", 1);
		if (f[i].str)
			log_add(f[i].str, strlen(f[i].str));
	}
	log_add("\n", 1);
}

void pa_fuzz_log_reset(void)
{
	log_len = 0;
	if (log_buf)
		log_buf[0] = '\0';
}

const char *pa_fuzz_log_text(void)
{
	return log_buf ? log_buf : "";
}

static char *dup_n(const char *s, size_t n)
{
	char *c = malloc(n + 1);

	if (!c)
		pa_fuzz_fail("stub: out of memory");
	memcpy(c, s, n);
	c[n] = '\0';
	return c;
}

/* The fuzzer's reply: "Name: value" lines (those without a name are dropped) and the body. */
static int stub_request(const provauth_host *h, const provauth_http_request *req, provauth_http_response **out)
{
	pa_http_field *fields;
	const char *p, *nl, *colon;
	size_t n = 0;

	(void)h;
	(void)req;
	stub.requests++;
	for (p = stub.headers; p && *p; p = *nl ? nl + 1 : nl) {
		if (!(nl = strchr(p, '\n')))
			nl = p + strlen(p);
		n++;
	}
	if (!(fields = calloc(n + 1, sizeof(*fields))))
		pa_fuzz_fail("stub: out of memory");
	for (p = stub.headers, n = 0; p && *p; p = *nl ? nl + 1 : nl) {
		if (!(nl = strchr(p, '\n')))
			nl = p + strlen(p);
		colon = memchr(p, ':', (size_t)(nl - p));
		if (!colon || colon == p)
			continue;
		fields[n].name = p;
		fields[n].nlen = (size_t)(colon - p);
		colon++;
		while (colon < nl && *colon == ' ')
			colon++;
		fields[n].value = colon;
		fields[n].vlen = (size_t)(nl - colon);
		n++;
	}
	if (pa_http_response_new(out, stub.status, fields, n, stub.body ? stub.body : "",
	                         stub.body ? stub.body_len : 0) < 0)
		pa_fuzz_fail("stub: out of memory");
	free(fields);
	return 0;
}

const provauth_host *pa_fuzz_host(void)
{
	if (!ready) {
		logger.fn = capture;
		logger.min_level = PROVAUTH_LOG_DEBUG;
		host_ctx.logger = &logger;
		host_ctx.clock = fixed_clock;
		pa_host_init(&host, &host_ctx);
		host.http_request = stub_request;
		ready = 1;
	}
	return &host;
}

void pa_fuzz_reply(long status, const char *headers, const char *body, size_t body_len)
{
	stub.status = status;
	stub.headers = headers;
	stub.body = body;
	stub.body_len = body_len;
	stub.requests = 0;
}

unsigned pa_fuzz_requests(void)
{
	return stub.requests;
}

char *pa_fuzz_cstr(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);

	return dup_n((const char *)data, nul ? (size_t)(nul - data) : size);
}

int pa_fuzz_has(const char *hay, size_t hay_len, const char *needle, size_t n)
{
	size_t i;

	if (!hay || !needle || n == 0 || n > hay_len)
		return 0;
	for (i = 0; i + n <= hay_len; i++)
		if (hay[i] == needle[0] && memcmp(hay + i, needle, n) == 0)
			return 1;
	return 0;
}

/*
 * 1 when the input spells the secret, also with other bytes between its
 * characters: plugins quote server codes after dropping such bytes, and a
 * server that sends a secret back is not a leak.
 */
static int input_spells(const uint8_t *input, size_t size, const char *secret, size_t n)
{
	char *kept;
	size_t i, k = 0;
	int found;

	if (pa_fuzz_has((const char *)input, size, secret, n))
		return 1;
	if (!(kept = malloc(size + 1)))
		pa_fuzz_fail("out of memory");
	for (i = 0; i < size; i++)
		if (strchr(secret, input[i]) && input[i])
			kept[k++] = (char)input[i];
	found = pa_fuzz_has(kept, k, secret, n);
	free(kept);
	return found;
}

void pa_fuzz_no_secret(const char *secret, const char *text, const uint8_t *input, size_t input_size)
{
	const char *err = provauth_last_error();
	const char *lg = pa_fuzz_log_text();
	size_t n;

	if (!secret || (n = strlen(secret)) < 6 || input_spells(input, input_size, secret, n))
		return;
	if (err && strstr(err, secret))
		pa_fuzz_fail("secret in the error message: %s", err);
	if (text && strstr(text, secret))
		pa_fuzz_fail("secret in produced text: %s", text);
	if (strstr(lg, secret))
		pa_fuzz_fail("secret in the log: %s", lg);
}

int pa_fuzz_known_code(int code)
{
	return code <= PROVAUTH_ERROR && code >= PROVAUTH_ERROR_MIN_;
}

void pa_fuzz_check_outcome(const provauth_outcome *o)
{
	size_t i;

	PA_FUZZ_CHECK(memchr(o->error_code, '\0', sizeof(o->error_code)));
	PA_FUZZ_CHECK(memchr(o->error_reason, '\0', sizeof(o->error_reason)));
	PA_FUZZ_CHECK(o->error_reason[0] != '\0');
	/* Reasons are identifiers that go into logs and metrics. */
	for (i = 0; o->error_reason[i]; i++)
		PA_FUZZ_CHECK((o->error_reason[i] >= 'a' && o->error_reason[i] <= 'z') || o->error_reason[i] == '_');
	for (i = 0; o->error_code[i]; i++)
		PA_FUZZ_CHECK((unsigned char)o->error_code[i] > 0x20 && (unsigned char)o->error_code[i] < 0x7f);
	PA_FUZZ_CHECK(pa_fuzz_known_code(o->result));
	/* A session error is the one thing recovery may fix; it must say so consistently. */
	if (o->is_session_error)
		PA_FUZZ_CHECK(o->result == PROVAUTH_ESESSION && o->should_invalidate_cache);
	else
		PA_FUZZ_CHECK(o->result != PROVAUTH_ESESSION && !o->should_attempt_reauth);
	if (o->result == PROVAUTH_ERATELIMIT)
		PA_FUZZ_CHECK(o->retry_after >= 0);
	/* A blocked account is never logged in again. */
	if (o->result == PROVAUTH_EBANNED)
		PA_FUZZ_CHECK(!o->should_attempt_reauth && !o->is_session_error);
}

void pa_fuzz_outcome_init(provauth_outcome *o, const provauth_failure *f)
{
	memset(o, 0, sizeof(*o));
	o->result = f->code < 0 ? f->code : PROVAUTH_ERROR;
	o->retry_after = -1;
	snprintf(o->error_reason, sizeof(o->error_reason), "non_session_error");
}

void pa_fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}
