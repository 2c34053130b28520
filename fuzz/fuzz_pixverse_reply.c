/*
 * Pixverse reply handling (plugins/pixverse client.c, ops.c, auth.c,
 * classify.c): the {ErrCode, ErrMsg, Resp} envelope, credits / user info /
 * task parsing, the refresh and login replies with their Set-Cookie and
 * token headers, and classify_error on whatever failure came out.
 *
 * Input: byte 0 picks the call, byte 1 the HTTP status, the rest is the
 * reply: "Header: value" lines, a blank line, the body (or only a body
 * when there is no blank line).
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "fuzz.h"
#include "pixverse.h"

#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJFeHBpcmVUaW1lIjoxfQ.FzSecretSignature77"
#define COOKIE_VALUE "FzCookieValue-0912"
#define OPENAPI_KEY "sk-FZ-openapi-4410"
#define PASSWORD "Fz-password-7731"

static const long statuses[16] = { 200, 200, 200, 200, 400, 401, 403, 404, 429, 500, 502, 503, 302, 204, 0, 999 };

enum { CALL_OPS = PV_OPERATION_COUNT, CALL_REFRESH = CALL_OPS, CALL_LOGIN, CALL_MESSAGE, CALL_COUNT };

static void check_secrets(const char *text, const uint8_t *data, size_t size)
{
	pa_fuzz_no_secret(JWT, text, data, size);
	pa_fuzz_no_secret(COOKIE_VALUE, text, data, size);
	pa_fuzz_no_secret(OPENAPI_KEY, text, data, size);
	pa_fuzz_no_secret(PASSWORD, text, data, size);
}

static void classify(pv_state *st, const provauth_failure *f)
{
	provauth_outcome o;

	pa_fuzz_outcome_init(&o, f);
	PA_FUZZ_CHECK(pv_classify_error(st, f, &o) == 0);
	pa_fuzz_check_outcome(&o);
	if (f->kind == PROVAUTH_FAILURE_HTTP && f->http_status == 429)
		PA_FUZZ_CHECK(o.result == PROVAUTH_ERATELIMIT);
}

/*
 * What each operation is given: the generation operations (issue 16) take
 * arguments, enough to reach the reply; upload's file does not exist, so it
 * is refused before any request, as an argument error (set_error, no
 * failure to classify).
 */
static const provauth_op_arg generate_args[] = { { "prompt", "fuzz" } };
static const provauth_op_arg job_args[] = { { "ids", "12,image:34" } };
static const provauth_op_arg upload_args[] = { { "file", "/nonexistent/provauth-fuzz.png" } };

static const provauth_op_arg *op_args(const char *name, size_t *n)
{
	*n = 1;
	if (strcmp(name, "generate") == 0)
		return generate_args;
	if (strcmp(name, "jobs") == 0 || strcmp(name, "delete") == 0)
		return job_args;
	if (strcmp(name, "upload") == 0)
		return upload_args;
	*n = 0;
	return NULL;
}

static void run_op(pv_state *st, unsigned which, int with_key, const uint8_t *data, size_t size)
{
	const provauth_op_arg *args;
	size_t nargs;
	const provauth_host *h = st->host;
	const provauth_credential creds[] = {
		{ PROVAUTH_CRED_JWT, "", JWT, 0 },
		{ PROVAUTH_CRED_COOKIE, "_ai_token", JWT, 0 },
		{ PROVAUTH_CRED_COOKIE, "sid", COOKIE_VALUE, 0 },
		{ PROVAUTH_CRED_API_KEY, "openapi", OPENAPI_KEY, 0 },
	};
	pv_session_data sd = { { "5d0c9a7e-1b2f-4c3d-8e9f-0a1b2c3d4e5f", "0b6f2c8e-3a41-4f5e-9a7d-1c2b3d4e5f60" },
	                       "account" };
	provauth_session s;
	provauth_failure f;
	char *out = NULL;
	int rc;

	memset(&s, 0, sizeof(s));
	memset(&f, 0, sizeof(f));
	f.retry_after = -1;
	s.account_id = "acct-fuzz";
	s.provider = PV_ID;
	s.credentials = creds;
	s.credential_count = with_key ? 4 : 3;  /* the OpenAPI key comes last */
	s.metadata = "{}";
	s.provider_data = &sd;
	args = op_args(pv_operations[which].name, &nargs);
	rc = pv_operations[which].run(st, &s, args, nargs, &out, &f);
	if (args == upload_args) {
		PA_FUZZ_CHECK(rc == PROVAUTH_EINVAL && out == NULL && f.kind == PROVAUTH_FAILURE_NONE);
		check_secrets(NULL, data, size);
		return;
	}
	if (rc == 0) {
		provauth_json *j;
		PA_FUZZ_CHECK(out != NULL);
		j = h->json_parse(out, strlen(out));
		PA_FUZZ_CHECK(j != NULL || strcmp(out, "null") == 0);
		if (j)
			h->json_free(j);
	} else {
		PA_FUZZ_CHECK(pa_fuzz_known_code(rc));
		PA_FUZZ_CHECK(out == NULL);
		PA_FUZZ_CHECK(f.kind != PROVAUTH_FAILURE_NONE);
		check_secrets(f.message, data, size);
		classify(st, &f);
	}
	check_secrets(NULL, data, size);
	free(out);
	provauth_failure_clear(&f);
}

/* The account a refresh or login starts from: a token and two cookies, a client's ids. */
static provauth_account *fuzz_account(void)
{
	provauth_account *a = NULL;

	if (provauth_account_new(&a, "acct-fuzz", PV_ID) < 0 || provauth_account_set(&a->email, "fuzz@example.com") < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, JWT, 0) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token", JWT, 0) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_COOKIE, "sid", COOKIE_VALUE, 0) < 0 ||
	    provauth_account_set(&a->metadata, "{\"trace_id\":\"5d0c9a7e-1b2f-4c3d-8e9f-0a1b2c3d4e5f\","
	                         "\"anonymous_id\":\"0b6f2c8e-3a41-4f5e-9a7d-1c2b3d4e5f60\"}") < 0)
		pa_fuzz_fail("out of memory");
	return a;
}

static void run_auth(pv_state *st, int login, const uint8_t *data, size_t size)
{
	provauth_account *a = fuzz_account();
	provauth_update *u;
	const char *tok;
	int rc;

	if (pa_update_new(&u) < 0)
		pa_fuzz_fail("out of memory");
	provauth_error_clear();
	rc = login ? pv_try_reauth(st, a, PASSWORD, u) : pv_refresh(st, a, u);
	PA_FUZZ_CHECK(rc == 0 || pa_fuzz_known_code(rc));
	tok = pa_update_credential(u, PROVAUTH_CRED_JWT, NULL);
	if (rc == 0) {
		/* A success always yields a token that can go into the token header and the cookie. */
		PA_FUZZ_CHECK(tok && *tok && pv_cookie_value_ok(tok) && !strchr(tok, ' '));
		if (!login)
			PA_FUZZ_CHECK(strcmp(tok, JWT) != 0);
	} else if (login) {
		/*
		 * A refused login quotes the server's ErrMsg, which may spell
		 * anything in JSON escapes; the plugin only promises never to
		 * repeat the password it sent.
		 */
		pa_fuzz_no_secret(PASSWORD, NULL, data, size);
	} else {
		check_secrets(NULL, data, size);
	}
	pa_update_free(u);
	provauth_account_free(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const provauth_host *h = pa_fuzz_host();
	pv_state st;
	char *text, *sep, *headers = NULL, *body;
	unsigned call;
	long status;

	if (size < 2)
		return 0;
	call = data[0] % CALL_COUNT;
	status = statuses[data[1] % 16];
	text = pa_fuzz_cstr(data + 2, size - 2);
	body = text;
	if ((sep = strstr(text, "\n\n"))) {
		*sep = '\0';
		headers = text;
		body = sep + 2;
	}
	memset(&st, 0, sizeof(st));
	st.host = h;
	st.base_url = "https://app-api.pixverse.invalid";
	st.web_origin = "https://app.pixverse.invalid";
	st.openapi_base_url = "https://openapi.pixverse.invalid";
	st.user_agent = "provauth-fuzz";
	st.jwt_refresh_threshold = 43200;
	pa_fuzz_reply(status, headers, body, strlen(body));
	/* The secret checks read the last error: none may be left from the previous input. */
	pa_fuzz_log_reset();
	provauth_error_clear();

	if (call < CALL_OPS) {
		run_op(&st, call, data[1] & 0x10, data, size);
	} else if (call == CALL_REFRESH || call == CALL_LOGIN) {
		run_auth(&st, call == CALL_LOGIN, data, size);
	} else {
		provauth_failure f;
		memset(&f, 0, sizeof(f));
		PA_FUZZ_CHECK(provauth_failure_set_message(&f, PROVAUTH_EPROVIDER, "%s", body) == 0);
		classify(&st, &f);
		provauth_failure_clear(&f);
		PA_FUZZ_CHECK(provauth_failure_set_http(&f, status, body, strlen(body), -1) == 0);
		classify(&st, &f);
		provauth_failure_clear(&f);
	}
	free(text);
	return 0;
}
