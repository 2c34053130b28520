/*
 * The pixiv plugin's pure parts, compiled into the test and driven through
 * a real host table (pa_host_init): the X-Client-Time / X-Client-Hash
 * vectors, the form body, token reply parsing, token endpoint refusals,
 * app-API error classification and the retry arithmetic.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "internal.h"
#include "pixiv.h"
#include "../support/pa_test.h"

static pa_host_ctx host_ctx;
static provauth_host host;
static pixiv_state st;

#define SECRET_AT "at-SECRET-4f1c"
#define SECRET_RT "rt-SECRET-9a2b"

static void state_defaults(void)
{
	memset(&st, 0, sizeof(st));
	st.host = &host;
	st.token_url = PIXIV_DEFAULT_TOKEN_URL;
	st.api_base_url = PIXIV_DEFAULT_API_BASE_URL;
	st.client_id = PIXIV_DEFAULT_CLIENT_ID;
	st.client_secret = PIXIV_DEFAULT_CLIENT_SECRET;
	st.hash_secret = PIXIV_DEFAULT_HASH_SECRET;
	st.user_agent = PIXIV_DEFAULT_USER_AGENT;
	st.app_os = PIXIV_DEFAULT_APP_OS;
	st.app_os_version = PIXIV_DEFAULT_APP_OS_VERSION;
	st.rate_limit_wait = 300;
	st.retry_max = 3;
	st.retry_base_ms = 500;
	st.retry_max_ms = 8000;
}

/* MD5 computed here with OpenSSL directly, independently of the host's digest service. */
static void evp_md5_hex(const char *s, char out[33])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	CU_ASSERT_FATAL(EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL) == 1);
	CU_ASSERT_FATAL(n == 16);
	for (i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

/* ------------------------------------------------------------------------ */
/* Headers                                                                  */
/* ------------------------------------------------------------------------ */

static void test_client_time_vectors(void)
{
	char t[PIXIV_TIME_LEN];

	CU_ASSERT(pixiv_format_client_time(t, 1795302268) == 0);
	CU_ASSERT_STRING_EQUAL(t, "2026-11-21T23:04:28+00:00");
	CU_ASSERT(pixiv_format_client_time(t, 0) == 0);
	CU_ASSERT_STRING_EQUAL(t, "1970-01-01T00:00:00+00:00");
	/* Leap day, and the last second of a year. */
	CU_ASSERT(pixiv_format_client_time(t, 951782400) == 0);
	CU_ASSERT_STRING_EQUAL(t, "2000-02-29T00:00:00+00:00");
	CU_ASSERT(pixiv_format_client_time(t, 1767225599) == 0);
	CU_ASSERT_STRING_EQUAL(t, "2025-12-31T23:59:59+00:00");
	CU_ASSERT(pixiv_format_client_time(t, INT64_C(253402300799)) == 0);
	CU_ASSERT_STRING_EQUAL(t, "9999-12-31T23:59:59+00:00");
	/* Out of the four-digit-year range: refused, not mangled. */
	CU_ASSERT(pixiv_format_client_time(t, INT64_C(253402300800)) == PROVAUTH_EINVAL);
	CU_ASSERT_STRING_EQUAL(t, "");
	CU_ASSERT(pixiv_format_client_time(t, -1) == PROVAUTH_EINVAL);
}

static void test_client_hash_vectors(void)
{
	char hash[PIXIV_HASH_LEN], expect[33];
	size_t i;

	CU_ASSERT_FATAL(pixiv_client_hash(&host, hash, "2026-11-21T23:04:28+00:00", PIXIV_DEFAULT_HASH_SECRET) == 0);
	evp_md5_hex("2026-11-21T23:04:28+00:00" PIXIV_DEFAULT_HASH_SECRET, expect);
	CU_ASSERT_STRING_EQUAL(hash, expect);
	/* Also computed with md5sum(1) when the test was written. */
	CU_ASSERT_STRING_EQUAL(hash, "67d48c94a5ebec7e2e67d95aeea3a348");
	CU_ASSERT(strlen(hash) == 32);
	for (i = 0; i < 32; i++)
		CU_ASSERT(strchr("0123456789abcdef", hash[i]) != NULL);

	/* The secret matters, and it is appended, not prepended. */
	CU_ASSERT(pixiv_client_hash(&host, hash, "2026-11-21T23:04:28+00:00", "other") == 0);
	evp_md5_hex("2026-11-21T23:04:28+00:00other", expect);
	CU_ASSERT_STRING_EQUAL(hash, expect);
	evp_md5_hex("other2026-11-21T23:04:28+00:00", expect);
	CU_ASSERT_STRING_NOT_EQUAL(hash, expect);
}

static void test_client_hash_of_formatted_time(void)
{
	char t[PIXIV_TIME_LEN], hash[PIXIV_HASH_LEN], input[128], expect[33];

	CU_ASSERT_FATAL(pixiv_format_client_time(t, 1795302268) == 0);
	CU_ASSERT_FATAL(pixiv_client_hash(&host, hash, t, PIXIV_DEFAULT_HASH_SECRET) == 0);
	snprintf(input, sizeof(input), "%s%s", t, PIXIV_DEFAULT_HASH_SECRET);
	evp_md5_hex(input, expect);
	CU_ASSERT_STRING_EQUAL(hash, expect);
	/* The unix-timestamp form the old spec described gives another hash (pixiv refuses it). */
	evp_md5_hex("1795302268" PIXIV_DEFAULT_HASH_SECRET, expect);
	CU_ASSERT_STRING_NOT_EQUAL(hash, expect);
}

/* ------------------------------------------------------------------------ */
/* Form body                                                                */
/* ------------------------------------------------------------------------ */

static void test_form_pixiv(void)
{
	char *form = pixiv_token_form(&st, "a+b/c=d", "dev 1");

	CU_ASSERT_FATAL(form != NULL);
	CU_ASSERT_STRING_EQUAL(form, "client_id=" PIXIV_DEFAULT_CLIENT_ID "&client_secret=" PIXIV_DEFAULT_CLIENT_SECRET
	                             "&grant_type=refresh_token&refresh_token=a%2Bb%2Fc%3Dd"
	                             "&get_secure_url=1&include_policy=true&device_token=dev%201");
	free(form);
	form = pixiv_token_form(&st, "rt", NULL);
	CU_ASSERT_FATAL(form != NULL);
	CU_ASSERT(strstr(form, "device_token") == NULL);
	CU_ASSERT(strstr(form, "&get_secure_url=1&include_policy=true") != NULL);
	free(form);
}

static void test_form_standard(void)
{
	char *form;

	st.standard_oauth = 1;
	form = pixiv_token_form(&st, "rt", "dev");
	CU_ASSERT_FATAL(form != NULL);
	CU_ASSERT_STRING_EQUAL(form, "client_id=" PIXIV_DEFAULT_CLIENT_ID "&client_secret=" PIXIV_DEFAULT_CLIENT_SECRET
	                             "&grant_type=refresh_token&refresh_token=rt");
	free(form);
	st.standard_oauth = 0;
}

/* ------------------------------------------------------------------------ */
/* Token replies                                                            */
/* ------------------------------------------------------------------------ */

#define USER_JSON \
	"{\"profile_image_urls\":{\"px_16x16\":\"x\"},\"id\":\"12345678\",\"name\":\"Name\",\"account\":\"acc\"," \
	"\"mail_address\":\"u@example.com\",\"is_premium\":false,\"x_restrict\":0}"
#define GRANT_FIELDS \
	"\"access_token\":\"" SECRET_AT "\",\"expires_in\":3600,\"token_type\":\"bearer\",\"scope\":\"\"," \
	"\"refresh_token\":\"" SECRET_RT "\""

static int parse(pixiv_token *t, const char *body)
{
	return pixiv_token_parse(&host, t, "account a1", body, strlen(body));
}

static void assert_no_secret_in_error(void)
{
	CU_ASSERT(strstr(provauth_last_error(), "SECRET") == NULL);
}

static void test_parse_pixiv_reply(void)
{
	pixiv_token t;
	const char *body = "{" GRANT_FIELDS ",\"user\":" USER_JSON ",\"response\":{" GRANT_FIELDS ",\"user\":" USER_JSON "}}";

	CU_ASSERT_FATAL(parse(&t, body) == 0);
	CU_ASSERT_STRING_EQUAL(t.access_token, SECRET_AT);
	CU_ASSERT_STRING_EQUAL(t.refresh_token, SECRET_RT);
	CU_ASSERT(t.expires_in == 3600);
	CU_ASSERT_STRING_EQUAL(t.user_id, "12345678");
	CU_ASSERT_STRING_EQUAL(t.user_name, "Name");
	CU_ASSERT_STRING_EQUAL(t.account, "acc");
	CU_ASSERT_STRING_EQUAL(t.mail_address, "u@example.com");
	pixiv_token_clear(&t);
	CU_ASSERT(t.access_token == NULL && t.refresh_token == NULL);
}

static void test_parse_only_under_response(void)
{
	pixiv_token t;

	CU_ASSERT_FATAL(parse(&t, "{\"response\":{" GRANT_FIELDS ",\"user\":" USER_JSON "}}") == 0);
	CU_ASSERT_STRING_EQUAL(t.access_token, SECRET_AT);
	CU_ASSERT_STRING_EQUAL(t.refresh_token, SECRET_RT);
	CU_ASSERT_STRING_EQUAL(t.user_id, "12345678");
	pixiv_token_clear(&t);
}

static void test_parse_standard_reply(void)
{
	pixiv_token t;

	/* No user, no refresh token, "Bearer" capitalised, expires_in as a string. */
	CU_ASSERT_FATAL(parse(&t, "{\"access_token\":\"" SECRET_AT "\",\"expires_in\":\"1800\",\"token_type\":\"Bearer\"}") == 0);
	CU_ASSERT_STRING_EQUAL(t.access_token, SECRET_AT);
	CU_ASSERT(t.expires_in == 1800);
	CU_ASSERT(t.refresh_token == NULL);
	CU_ASSERT(t.user_id == NULL && t.user_name == NULL && t.mail_address == NULL);
	pixiv_token_clear(&t);

	/* refresh_token: null is "none came back", not an error. */
	CU_ASSERT_FATAL(parse(&t, "{\"access_token\":\"" SECRET_AT "\",\"expires_in\":60,\"refresh_token\":null}") == 0);
	CU_ASSERT(t.refresh_token == NULL);
	pixiv_token_clear(&t);
}

static void test_parse_user_variants(void)
{
	pixiv_token t;

	CU_ASSERT_FATAL(parse(&t, "{\"access_token\":\"a\",\"expires_in\":60,\"user\":{\"id\":42,\"name\":\"n\"}}") == 0);
	CU_ASSERT_STRING_EQUAL(t.user_id, "42");
	CU_ASSERT(t.mail_address == NULL);
	pixiv_token_clear(&t);
	/* A user block of the wrong shape labels nothing, but the tokens are still good. */
	CU_ASSERT_FATAL(parse(&t, "{\"access_token\":\"a\",\"expires_in\":60,\"user\":\"me\"}") == 0);
	CU_ASSERT(t.user_id == NULL);
	pixiv_token_clear(&t);
	CU_ASSERT_FATAL(parse(&t, "{\"access_token\":\"a\",\"expires_in\":60,\"user\":{\"id\":\"12a\",\"mail_address\":\"\"}}") == 0);
	CU_ASSERT(t.user_id == NULL);
	CU_ASSERT(t.mail_address == NULL);
	pixiv_token_clear(&t);
}

static void expect_protocol(const char *body, const char *needle)
{
	pixiv_token t;

	provauth_error_clear();
	CU_ASSERT(parse(&t, body) == PROVAUTH_EPROTOCOL);
	CU_ASSERT(t.access_token == NULL && t.refresh_token == NULL);
	CU_ASSERT(strstr(provauth_last_error(), "account a1") != NULL);
	if (!strstr(provauth_last_error(), needle))
		fprintf(stderr, "\n  message \"%s\" lacks \"%s\"\n", provauth_last_error(), needle);
	CU_ASSERT(strstr(provauth_last_error(), needle) != NULL);
	assert_no_secret_in_error();
}

static void test_parse_malformed(void)
{
	expect_protocol("", "not JSON");
	expect_protocol("<html>502</html>", "not JSON");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":36", "not JSON");
	expect_protocol("[1,2]", "not a JSON object");
	expect_protocol("{\"expires_in\":3600}", "no access_token");
	expect_protocol("{\"access_token\":12345,\"expires_in\":3600}", "access_token");
	expect_protocol("{\"access_token\":\"\",\"expires_in\":3600}", "access_token");
	expect_protocol("{\"access_token\":\"has space\",\"expires_in\":3600}", "access_token");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\"}", "no expires_in");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":0}", "expires_in");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":-5}", "expires_in");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":\"soon\"}", "expires_in");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":true}", "expires_in");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":3.5}", "expires_in");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":99999999999}", "expires_in");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":60,\"token_type\":\"mac\"}", "token_type");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":60,\"refresh_token\":7}", "refresh_token");
	expect_protocol("{\"access_token\":\"" SECRET_AT "\",\"expires_in\":60,\"refresh_token\":\"a\\nb\"}", "refresh_token");
}

/* ------------------------------------------------------------------------ */
/* Token endpoint refusals                                                  */
/* ------------------------------------------------------------------------ */

static pixiv_token_error terr(long status, const char *body, char *code)
{
	return pixiv_token_error_parse(&host, status, body, strlen(body), code, 48);
}

static void test_token_errors(void)
{
	char code[48];

	CU_ASSERT(terr(400, "{\"has_error\":true,\"errors\":{\"system\":{\"message\":\"Invalid refresh token\",\"code\":1508}},"
	                    "\"error\":\"invalid_grant\"}", code) == PIXIV_TERR_INVALID_GRANT);
	CU_ASSERT_STRING_EQUAL(code, "invalid_grant");
	/* Same refusal without the top-level key. */
	CU_ASSERT(terr(400, "{\"has_error\":true,\"errors\":{\"system\":{\"message\":\"Invalid refresh token\",\"code\":1508}}}",
	               code) == PIXIV_TERR_INVALID_GRANT);
	CU_ASSERT_STRING_EQUAL(code, "invalid_grant");
	/* access_denied shares code 1508: the code alone must not decide. */
	CU_ASSERT(terr(400, "{\"has_error\":true,\"errors\":{\"system\":{\"message\":\"access_denied\",\"code\":1508}}}",
	               code) == PIXIV_TERR_ACCESS_DENIED);
	CU_ASSERT_STRING_EQUAL(code, "access_denied");
	CU_ASSERT(terr(400, "{\"has_error\":true,\"errors\":{\"system\":{\"message\":\"Invalid client\",\"code\":1508}},"
	                    "\"error\":\"invalid_client\"}", code) == PIXIV_TERR_INVALID_CLIENT);
	CU_ASSERT(terr(401, "{\"error\":\"invalid_client\",\"error_description\":\"bad\"}", code) == PIXIV_TERR_INVALID_CLIENT);
	CU_ASSERT(terr(400, "{\"error\":\"unauthorized_client\"}", code) == PIXIV_TERR_INVALID_CLIENT);
	CU_ASSERT(terr(400, "{\"error\":\"invalid_grant\",\"error_description\":\"revoked\"}", code) == PIXIV_TERR_INVALID_GRANT);
	CU_ASSERT(terr(400, "{\"error\":\"access_denied\"}", code) == PIXIV_TERR_ACCESS_DENIED);
	/* A malformed request is told apart from a dead token and from other errors. */
	CU_ASSERT(terr(400, "{\"error\":\"invalid_request\",\"error_description\":\"Missing required parameter\"}",
	               code) == PIXIV_TERR_INVALID_REQUEST);
	CU_ASSERT_STRING_EQUAL(code, "invalid_request");
	{
		char text[128];
		const char *ok = "{\"error\":\"invalid_request\",\"error_description\":\"Missing required parameter: scope\"}";
		const char *px = "{\"has_error\":true,\"errors\":{\"system\":{\"message\":\"Missing parameter\"}}}";
		const char *odd = "{\"error\":\"invalid_request\",\"error_description\":\"line\\nbreak\"}";
		pixiv_token_error_text(&host, ok, strlen(ok), text, sizeof(text));
		CU_ASSERT_STRING_EQUAL(text, "Missing required parameter: scope");
		pixiv_token_error_text(&host, px, strlen(px), text, sizeof(text));
		CU_ASSERT_STRING_EQUAL(text, "Missing parameter");
		/* Not plain one-line text: left out whole, never filtered. */
		pixiv_token_error_text(&host, odd, strlen(odd), text, sizeof(text));
		CU_ASSERT_STRING_EQUAL(text, "");
		/* Too long for the buffer: left out whole too. */
		pixiv_token_error_text(&host, ok, strlen(ok), text, 8);
		CU_ASSERT_STRING_EQUAL(text, "");
	}
	CU_ASSERT(terr(400, "{\"error\":\"unsupported_grant_type\"}", code) == PIXIV_TERR_OTHER);
	CU_ASSERT_STRING_EQUAL(code, "unsupported_grant_type");
	CU_ASSERT(terr(403, "{\"error\":{\"message\":\"Rate Limit\"}}", code) == PIXIV_TERR_RATE_LIMIT);
	CU_ASSERT(terr(429, "", code) == PIXIV_TERR_RATE_LIMIT);
	CU_ASSERT(terr(400, "", code) == PIXIV_TERR_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(code, "");
	CU_ASSERT(terr(500, "<html>oops</html>", code) == PIXIV_TERR_UNKNOWN);
	/* A hostile error name cannot carry markup or line breaks into a message: it is not quoted at all. */
	CU_ASSERT(terr(400, "{\"error\":\"in<va>lid\\r\\nX: y\"}", code) == PIXIV_TERR_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(code, "");
	/*
	 * Nor filtered: dropping the one odd character would join a secret the
	 * server split with it (the fuzzer's find, fuzz/corpus/pixiv_token/regress-*).
	 */
	CU_ASSERT(terr(400, "{\"error\":\"FzRefresh-secr\\u00e9et-8812\"}", code) == PIXIV_TERR_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(code, "");
	/* Too long for the buffer: left out, not cut. */
	CU_ASSERT(terr(400, "{\"error\":\"a_very_long_error_name_that_does_not_fit_in_the_buffer\"}", code) ==
	          PIXIV_TERR_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(code, "");
	/* No code buffer wanted. */
	CU_ASSERT(pixiv_token_error_parse(&host, 400, "{\"error\":\"invalid_grant\"}", 25, NULL, 0) ==
	          PIXIV_TERR_INVALID_GRANT);
}

/*
 * What a refusal may quote of the server's words: nothing that repeats a
 * credential, whole, cut, re-cased or split by dots; and from a host older
 * than ABI 1.4, which cannot check, nothing at all.
 */
static void test_quote(void)
{
	const char *secrets[] = { "AbCdEfGh-1234567_ijkl", NULL, "client-secret-value" };
	provauth_host old = host;
	char out[PIXIV_QUOTE_MAX];

	pixiv_quote(&host, out, sizeof(out), "invalid_grant", secrets, 3);
	CU_ASSERT_STRING_EQUAL(out, "invalid_grant");
	pixiv_quote(&host, out, sizeof(out), "invalid_AbCdEfGh_x", secrets, 3);     /* its first 8 */
	CU_ASSERT_PTR_NULL(strstr(out, "AbCdEfGh"));
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "withheld"));
	pixiv_quote(&host, out, sizeof(out), "ABCD.EFGH.1234.567I", secrets, 3);    /* re-cased, dotted */
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "withheld"));
	pixiv_quote(&host, out, sizeof(out), "x.CLIENTSECRET.x", secrets, 3);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "withheld"));
	pixiv_quote(&host, out, sizeof(out), "AbCdEfG", secrets, 3);               /* 7 are not a piece */
	CU_ASSERT_STRING_EQUAL(out, "AbCdEfG");
	pixiv_quote(&host, out, sizeof(out), NULL, secrets, 3);
	CU_ASSERT_STRING_EQUAL(out, "");
	old.size = offsetof(provauth_host, text_excerpt);
	pixiv_quote(&old, out, sizeof(out), "invalid_grant", secrets, 3);
	CU_ASSERT_STRING_EQUAL(out, "server text not shown");
}

/* ------------------------------------------------------------------------ */
/* App-API classification                                                   */
/* ------------------------------------------------------------------------ */

#define OAUTH_MSG "Error occurred at the OAuth process. Please check your Access Token to fix this. Error Message: "
#define API_ERR(m) "{\"error\":{\"user_message\":\"\",\"message\":\"" m "\",\"reason\":\"\",\"user_message_details\":{}}}"

static void classify_http(long status, const char *body, long retry_after, provauth_outcome *o)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, 0, 0, NULL, NULL, 0, -1 };

	CU_ASSERT_FATAL(provauth_failure_set_http(&f, status, body, strlen(body), retry_after) == 0);
	memset(o, 0, sizeof(*o));
	o->result = f.code;
	o->retry_after = -1;
	CU_ASSERT(pixiv_classify_error(&st, &f, o) == 0);
	provauth_failure_clear(&f);
}

static void test_classify_session_errors(void)
{
	provauth_outcome o;

	classify_http(400, API_ERR(OAUTH_MSG "invalid_grant"), -1, &o);
	CU_ASSERT(o.is_session_error && o.should_invalidate_cache && o.should_attempt_reauth);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "access_token_invalid");
	CU_ASSERT_STRING_EQUAL(o.error_code, "invalid_grant");
	CU_ASSERT(o.result == PROVAUTH_ESESSION);

	classify_http(400, API_ERR(OAUTH_MSG "invalid_request"), -1, &o);
	CU_ASSERT(o.is_session_error && o.should_attempt_reauth);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "invalid_request");

	/* Seen in the wild with 403 too. */
	classify_http(403, API_ERR(OAUTH_MSG "invalid_request"), -1, &o);
	CU_ASSERT(o.is_session_error);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "invalid_request");

	classify_http(401, "{\"error\":\"invalid_token\",\"error_description\":\"expired\"}", -1, &o);
	CU_ASSERT(o.is_session_error && o.should_attempt_reauth);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "access_token_invalid");

	classify_http(401, "", -1, &o);
	CU_ASSERT(o.is_session_error);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "unauthorized");
}

static void test_classify_rate_limits(void)
{
	provauth_outcome o;
	static const long statuses[] = { 400, 403, 429 };
	size_t i;

	for (i = 0; i < 3; i++) {
		classify_http(statuses[i], API_ERR("Rate Limit"), -1, &o);
		CU_ASSERT(!o.is_session_error && !o.should_attempt_reauth && !o.should_invalidate_cache);
		CU_ASSERT(o.result == PROVAUTH_ERATELIMIT);
		CU_ASSERT(o.retry_after == 300);
		CU_ASSERT_STRING_EQUAL(o.error_reason, "rate_limited");
	}
	classify_http(403, API_ERR("Rate Limit"), 42, &o);
	CU_ASSERT(o.result == PROVAUTH_ERATELIMIT && o.retry_after == 42);
	st.rate_limit_wait = 5;
	classify_http(429, "", -1, &o);
	CU_ASSERT(o.result == PROVAUTH_ERATELIMIT && o.retry_after == 5);
	st.rate_limit_wait = 300;
}

static void test_classify_other_errors(void)
{
	provauth_failure f = { PROVAUTH_FAILURE_NONE, 0, 0, NULL, NULL, 0, -1 };
	provauth_outcome o;

	classify_http(404, API_ERR("Page not found"), -1, &o);
	CU_ASSERT(!o.is_session_error && o.result == PROVAUTH_EPROVIDER);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "api_error");

	classify_http(503, "<html>down</html>", -1, &o);
	CU_ASSERT(!o.is_session_error && o.result == PROVAUTH_EHTTP);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "server_error");

	classify_http(400, "<html>bad</html>", -1, &o);
	CU_ASSERT(!o.is_session_error && o.result == PROVAUTH_EHTTP);
	CU_ASSERT_STRING_EQUAL(o.error_reason, "non_session_error");

	/* "OAuth" elsewhere in a message is not the OAuth-process error. */
	classify_http(400, API_ERR("OAuth is great"), -1, &o);
	CU_ASSERT(!o.is_session_error);

	provauth_failure_set_transport(&f, PROVAUTH_ETIMEOUT, "pixiv: GET /v1/x: timed out");
	memset(&o, 0, sizeof(o));
	CU_ASSERT(pixiv_classify_error(&st, &f, &o) == 0);
	CU_ASSERT(!o.is_session_error && o.result == PROVAUTH_ETIMEOUT);

	provauth_failure_set_message(&f, PROVAUTH_EINVAL, "pixiv: user_detail: bad argument");
	memset(&o, 0, sizeof(o));
	CU_ASSERT(pixiv_classify_error(&st, &f, &o) == 0);
	CU_ASSERT(!o.is_session_error && o.result == PROVAUTH_EINVAL);
	provauth_failure_clear(&f);
}

/* ------------------------------------------------------------------------ */
/* Retry arithmetic and helpers                                             */
/* ------------------------------------------------------------------------ */

static void test_backoff(void)
{
	unsigned int a;

	CU_ASSERT(pixiv_backoff_ms(&st, 0, 0) == 250);
	CU_ASSERT(pixiv_backoff_ms(&st, 0, 250) == 500);
	CU_ASSERT(pixiv_backoff_ms(&st, 0, 251) == 250); /* wraps within [d/2, d] */
	CU_ASSERT(pixiv_backoff_ms(&st, 3, 0) == 2000);
	CU_ASSERT(pixiv_backoff_ms(&st, 3, 0xffffffffu) >= 2000 && pixiv_backoff_ms(&st, 3, 0xffffffffu) <= 4000);
	for (a = 0; a < 64; a++) {
		int64_t d = pixiv_backoff_ms(&st, a, 0xdeadbeefu);
		CU_ASSERT(d >= 0 && d <= st.retry_max_ms);
	}
	CU_ASSERT(pixiv_backoff_ms(&st, 40, 0) == 4000);
	st.retry_base_ms = 0;
	CU_ASSERT(pixiv_backoff_ms(&st, 2, 12345) == 0);
	st.retry_base_ms = 500;
}

static void test_retry_after(void)
{
	CU_ASSERT(pixiv_retry_after("120") == 120);
	CU_ASSERT(pixiv_retry_after(" 5 ") == 5);
	CU_ASSERT(pixiv_retry_after("0") == 0);
	CU_ASSERT(pixiv_retry_after(NULL) == -1);
	CU_ASSERT(pixiv_retry_after("") == -1);
	CU_ASSERT(pixiv_retry_after("-3") == -1);
	CU_ASSERT(pixiv_retry_after("12s") == -1);
	CU_ASSERT(pixiv_retry_after("Wed, 21 Oct 2026 07:28:00 GMT") == -1);
	CU_ASSERT(pixiv_retry_after("99999999999999999999") == -1);
}

static void test_helpers(void)
{
	char *v;

	v = pixiv_metadata_string(&host, "{\"device_token\":\"dev-1\",\"user_id\":\"7\"}", "device_token");
	CU_ASSERT_FATAL(v != NULL);
	CU_ASSERT_STRING_EQUAL(v, "dev-1");
	free(v);
	CU_ASSERT(pixiv_metadata_string(&host, "{\"device_token\":5}", "device_token") == NULL);
	CU_ASSERT(pixiv_metadata_string(&host, "{\"device_token\":\"\"}", "device_token") == NULL);
	CU_ASSERT(pixiv_metadata_string(&host, "not json device_token", "device_token") == NULL);
	CU_ASSERT(pixiv_metadata_string(&host, NULL, "device_token") == NULL);

	v = pixiv_json_quote(&host, "a\"b");
	CU_ASSERT_FATAL(v != NULL);
	CU_ASSERT_STRING_EQUAL(v, "\"a\\\"b\"");
	free(v);

	CU_ASSERT(pixiv_is_user_id("12345678"));
	CU_ASSERT(!pixiv_is_user_id(""));
	CU_ASSERT(!pixiv_is_user_id("12a"));
	CU_ASSERT(!pixiv_is_user_id("123456789012345678901"));
	CU_ASSERT(provauth_plugin_contains_ci("x Rate LIMIT y", "rate limit"));
	CU_ASSERT(!provauth_plugin_contains_ci("rate limi", "rate limit"));
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "client time vectors", test_client_time_vectors },
		{ "client hash vectors", test_client_hash_vectors },
		{ "client hash of formatted time", test_client_hash_of_formatted_time },
		{ "form body, pixiv", test_form_pixiv },
		{ "form body, standard", test_form_standard },
		{ "parse pixiv reply", test_parse_pixiv_reply },
		{ "parse reply only under response", test_parse_only_under_response },
		{ "parse standard reply", test_parse_standard_reply },
		{ "parse user variants", test_parse_user_variants },
		{ "parse malformed replies", test_parse_malformed },
		{ "token endpoint errors", test_token_errors },
		{ "a quoted error code never repeats a credential", test_quote },
		{ "classify session errors", test_classify_session_errors },
		{ "classify rate limits", test_classify_rate_limits },
		{ "classify other errors", test_classify_other_errors },
		{ "backoff", test_backoff },
		{ "retry-after", test_retry_after },
		{ "helpers", test_helpers },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pixiv", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};

	pa_host_init(&host, &host_ctx);
	state_defaults();
	return pa_test_run(argc, argv, suites);
}
