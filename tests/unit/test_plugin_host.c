/*
 * The host services added since ABI 1.3: host->last_error,
 * host->setting_error and the 2.0 memory services; and both in-tree
 * plugins reporting their own setting checks through setting_error (with
 * the file position of the offending value) on this host and
 * without it (the plain message) on a 1.2-sized host table.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "session/session.h"
#include <provauth/plugin_util.h>
#include "../support/pa_test.h"

static pa_logger logger = { pa_test_log_capture, NULL, PROVAUTH_LOG_DEBUG };
static pa_host_ctx host_ctx;
static provauth_host host;

static provauth_settings *parse(const char *text)
{
	provauth_settings *s = NULL;

	if (provauth_settings_parse(&s, text, strlen(text), "t.yaml") < 0)
		fprintf(stderr, "settings: %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

#define MSG_IS(want) do { \
		if (strcmp(provauth_last_error(), (want)) != 0) \
			fprintf(stderr, "\n  got  \"%s\"\n  want \"%s\"\n", provauth_last_error(), (want)); \
		CU_ASSERT_STRING_EQUAL(provauth_last_error(), (want)); \
	} while (0)

/* ---- last_error ---- */

static void test_last_error(void)
{
	provauth_error_clear();
	CU_ASSERT_STRING_EQUAL(host.last_error(&host), "");
	pa_error_set(PROVAUTH_ENETWORK, "http: GET http://127.0.0.1:9/x: connection refused (detail)");
	CU_ASSERT_PTR_EQUAL(host.last_error(&host), provauth_last_error());
	CU_ASSERT_STRING_EQUAL(host.last_error(&host), "http: GET http://127.0.0.1:9/x: connection refused (detail)");
	/* A plugin quotes it straight into its own message: the same buffer, read and written. */
	CU_ASSERT_EQUAL(host.set_error(&host, PROVAUTH_ENETWORK, "plug: GET /x: %s", host.last_error(&host)),
	                PROVAUTH_ENETWORK);
	MSG_IS("plug: GET /x: http: GET http://127.0.0.1:9/x: connection refused (detail)");
	CU_ASSERT_EQUAL(host.set_error(&host, PROVAUTH_ENETWORK, "%s; again: %s", host.last_error(&host),
	                               host.last_error(&host)), PROVAUTH_ENETWORK);
	MSG_IS("plug: GET /x: http: GET http://127.0.0.1:9/x: connection refused (detail); again: "
	       "plug: GET /x: http: GET http://127.0.0.1:9/x: connection refused (detail)");
}

/* What a failed request leaves for the plugin: what happened, no query string. */
static void test_last_error_after_failed_request(void)
{
	pa_http_config cfg = { NULL, 300, 300, 1024, &logger };
	pa_host_ctx ctx = { &logger, NULL, NULL, NULL };
	provauth_host h;
	provauth_http_request req = PROVAUTH_HTTP_REQUEST_INIT;
	provauth_http_response *resp = NULL;
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	char url[160], where[96];
	int fd;

	/* A port bound but never listening: connecting to it is refused. */
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CU_ASSERT_FATAL((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	CU_ASSERT_FATAL(bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	CU_ASSERT_FATAL(getsockname(fd, (struct sockaddr *)&sa, &len) == 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/v1/user/detail?user_id=1&access_token=QUERY-SECRET",
	         (unsigned)ntohs(sa.sin_port));
	snprintf(where, sizeof(where), "GET http://127.0.0.1:%u/v1/user/detail: connection refused",
	         (unsigned)ntohs(sa.sin_port));

	CU_ASSERT_EQUAL_FATAL(pa_http_new(&ctx.http, &cfg), 0);
	pa_host_init(&h, &ctx);
	req.url = url;
	CU_ASSERT_EQUAL(h.http_request(&h, &req, &resp), PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(resp);
	if (!strstr(h.last_error(&h), where))
		fprintf(stderr, "\n  got \"%s\"\n", h.last_error(&h));
	CU_ASSERT_PTR_NOT_NULL(strstr(h.last_error(&h), where));
	CU_ASSERT_PTR_NULL(strstr(h.last_error(&h), "QUERY-SECRET"));
	CU_ASSERT_PTR_NULL(strstr(h.last_error(&h), "user_id"));
	pa_http_free(ctx.http);
	close(fd);
}

/* ---- setting_error ---- */

static void test_setting_error_positions(void)
{
	provauth_settings *s = parse("providers:\n"
	                             "  demo:\n"
	                             "    api_url: ftp://x\n"
	                             "    limit:   7\n"
	                             "    empty:\n"
	                             "    client_secret: \"s3cr3t-value\"\n");
	const provauth_setting *node = pa_settings_provider(s, "demo")->node;

	/* The value's position, as the typed readers give it. */
	CU_ASSERT_EQUAL(host.setting_error(&host, node, "api_url", "must be an http(s) URL"), PROVAUTH_ECONFIG);
	MSG_IS("t.yaml:3:14: providers.demo.api_url: must be an http(s) URL");
	CU_ASSERT_EQUAL(host.setting_error(&host, node, "limit", "%d is less than %s (%d)", 7, "floor", 9),
	                PROVAUTH_ECONFIG);
	MSG_IS("t.yaml:4:14: providers.demo.limit: 7 is less than floor (9)");
	/* A key written without a value still has a place in the file. */
	CU_ASSERT_EQUAL(host.setting_error(&host, node, "empty", "is required"), PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "t.yaml:5:"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), ": providers.demo.empty: is required"));
	/* The message is the plugin's: the host adds no value of its own. */
	CU_ASSERT_EQUAL(host.setting_error(&host, node, "client_secret", "too short"), PROVAUTH_ECONFIG);
	MSG_IS("t.yaml:6:20: providers.demo.client_secret: too short");
	/* Not in the file: the plugin judged its default, which has no position. */
	CU_ASSERT_EQUAL(host.setting_error(&host, node, "retry_ms", "below the floor"), PROVAUTH_ECONFIG);
	MSG_IS("t.yaml: providers.demo.retry_ms: below the floor");
	/* A provider the file does not mention: its own id, not a placeholder. */
	{
		provauth_setting *empty = pa_settings_empty_node_new(s, "other");
		CU_ASSERT_PTR_NOT_NULL_FATAL(empty);
		CU_ASSERT_EQUAL(host.setting_error(&host, empty, "retry_ms", "below the floor"), PROVAUTH_ECONFIG);
		MSG_IS("t.yaml: providers.other.retry_ms: below the floor");
		pa_settings_empty_node_free(empty);
	}
	/* Misuse still ends in ECONFIG, never a crash. */
	CU_ASSERT_EQUAL(host.setting_error(&host, node, NULL, "x"), PROVAUTH_ECONFIG);
	CU_ASSERT_EQUAL(host.setting_error(&host, NULL, "api_url", "x"), PROVAUTH_ECONFIG);
	provauth_settings_free(s);
}

/* ---- the in-tree plugins ---- */

/*
 * Loads the real plugins (PROVAUTH_PLUGIN_PATH) with `yaml`; the reason
 * provider `id` was skipped for, or NULL when it loaded.
 */
static char *skip_reason(const char *yaml, const provauth_host *h, const char *id)
{
	provauth_settings *s = parse(yaml);
	pa_plugin_set set = { 0 };
	char *reason = NULL, want[64];
	size_t i;

	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, h, &logger), 0);
	snprintf(want, sizeof(want), "/%s.so", id);
	for (i = 0; i < set.skipped_count; i++)
		if (strstr(set.skipped[i].file, want))
			reason = strdup(set.skipped[i].reason);
	if (!reason)
		CU_ASSERT_PTR_NOT_NULL(pa_plugins_find(&set, id));
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	return reason;
}

struct bad_value {
	const char *id;
	const char *yaml;
	const char *with_position;   /* on this host */
	const char *without;         /* on a 1.2-sized host table */
};

static const struct bad_value bad_values[] = {
	{ "pixiv",
	  "plugin_dir: []\nproviders:\n  pixiv:\n    token_url: ftp://x\n",
	  "t.yaml:4:16: providers.pixiv.token_url: must be an http:// or https:// URL",
	  "providers.pixiv.token_url: must be an http:// or https:// URL" },
	{ "pixiv",
	  "plugin_dir: []\nproviders:\n  pixiv:\n    user_agent: ''\n    token_url: https://x/t\n",
	  "t.yaml:4:17: providers.pixiv.user_agent: must not be empty",
	  "providers.pixiv.user_agent: must not be empty" },
	{ "pixiv",
	  "plugin_dir: []\nproviders:\n  pixiv:\n    retry_base_ms: 900\n    retry_max_ms:  800\n",
	  "t.yaml:5:20: providers.pixiv.retry_max_ms: 800 is less than retry_base_ms (900)",
	  "providers.pixiv.retry_max_ms: 800 is less than retry_base_ms (900)" },
	{ "pixiv",
	  "plugin_dir: []\nproviders:\n  pixiv:\n    retry_max_ms: 100\n",
	  "t.yaml:4:19: providers.pixiv.retry_max_ms: 100 is less than retry_base_ms (500)",
	  "providers.pixiv.retry_max_ms: 100 is less than retry_base_ms (500)" },
	{ "pixverse",
	  "plugin_dir: []\nproviders:\n  pixverse:\n    web_origin: https://a.example\n"
	  "    base_url: \"ftp://files.example\"\n",
	  "t.yaml:5:15: providers.pixverse.base_url: expected an http:// or https:// URL without query or fragment",
	  "providers.pixverse.base_url: expected an http:// or https:// URL without query or fragment" },
	{ "pixverse",
	  "plugin_dir: []\nproviders:\n  pixverse:\n    openapi_base_url: https:///path\n",
	  "t.yaml:4:23: providers.pixverse.openapi_base_url: the URL has no host",
	  "providers.pixverse.openapi_base_url: the URL has no host" },
};

static void check_reason(const char *reason, const char *want, int positioned)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(reason);
	if (!strstr(reason, want))
		fprintf(stderr, "\n  reason \"%s\"\n  lacks  \"%s\"\n", reason, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(reason, want));
	/* Without the service there is no position to give: the file is not named at all. */
	if (!positioned)
		CU_ASSERT_PTR_NULL(strstr(reason, "t.yaml"));
}

static void test_plugins_name_the_place_of_a_bad_value(void)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(bad_values); i++) {
		char *r = skip_reason(bad_values[i].yaml, &host, bad_values[i].id);
		check_reason(r, bad_values[i].with_position, 1);
		free(r);
	}
}

static void test_plugins_fall_back_on_an_older_host(void)
{
	provauth_host older = host;
	size_t i;

	older.abi_minor = 2;
	older.size = offsetof(provauth_host, last_error);
	for (i = 0; i < PA_ARRAY_LEN(bad_values); i++) {
		char *r = skip_reason(bad_values[i].yaml, &older, bad_values[i].id);
		check_reason(r, bad_values[i].without, 0);
		free(r);
	}
}

/* Good values load: the checks refuse only what they should. */
static void test_plugins_accept_good_values(void)
{
	char *r = skip_reason("plugin_dir: []\nproviders:\n  pixiv:\n    token_url: http://127.0.0.1:1/t\n"
	                      "    retry_base_ms: 800\n    retry_max_ms: 800\n"
	                      "  pixverse:\n    base_url: https://b.example/\n",
	                      &host, "pixiv");

	CU_ASSERT_PTR_NULL(r);
	free(r);
	r = skip_reason("plugin_dir: []\nproviders:\n  pixverse:\n    base_url: https://b.example/\n", &host,
	                "pixverse");
	CU_ASSERT_PTR_NULL(r);
	free(r);
}

/* ---- memory (2.0) ---- */

/*
 * What a plugin hands the host comes from host->alloc and goes back
 * through host->free or host->secret_free; the core frees what plugins
 * hand it (an operation's result) with free(), so alloc must be the C
 * library's.
 */
static void test_memory_services(void)
{
	char *p, *secret;

	CU_ASSERT(PROVAUTH_HOST_HAS(&host, alloc));
	CU_ASSERT(PROVAUTH_HOST_HAS(&host, secret_free));
	/* Appended within 2.0 for the typed account state: the host has it, filled in. */
	CU_ASSERT(PROVAUTH_HOST_HAS(&host, update_set_auth_method) && host.update_set_auth_method != NULL);
	p = host.alloc(&host, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	host.free(&host, p);
	host.free(&host, NULL);
	secret = host.alloc(&host, 7);
	CU_ASSERT_PTR_NOT_NULL_FATAL(secret);
	memcpy(secret, "s3cret", 7);
	host.secret_free(&host, secret);
	host.secret_free(&host, NULL);
	/* freed by the core as it frees its own (session.c: free / pa_secret_free) */
	p = host.alloc(&host, 4);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	free(p);
}

/* ---- JSON (2.0): json_format writes, json_parse is strict RFC 8259 ---- */

static void expect_format(char *got, const char *want)
{
	CU_ASSERT_PTR_NOT_NULL_FATAL(got);
	if (strcmp(got, want) != 0)
		fprintf(stderr, "\n  got  %s\n  want %s\n", got, want);
	CU_ASSERT_STRING_EQUAL(got, want);
	host.free(&host, got);
}

/*
 * A session's credentials: a copy of the account's, which build_session
 * changes through the host; the host copies, and the account stays as it was.
 */
static void test_session_credentials(void)
{
	provauth_account *a = NULL;
	char value[] = "jwt-from-cookie";
	pa_cached c;

	CU_ASSERT(PROVAUTH_HOST_HAS(&host, session_set_credential) && host.session_credential != NULL &&
	          host.session_credential_expires != NULL && host.session_set_credential != NULL);
	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "acct-1", "pixverse"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "jwt-stored", 0), 0);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at", 1700000000), 0);
	memset(&c, 0, sizeof(c));
	CU_ASSERT_EQUAL_FATAL(pa_session_lend_credentials(&c, a), 0);
	CU_ASSERT_EQUAL(c.s.credential_count, 2);
	CU_ASSERT_STRING_EQUAL(host.session_credential(&c.s, PROVAUTH_CRED_JWT, NULL), "jwt-stored");
	/* Lent, not copied, until the build sets one (the memory of every cached session). */
	CU_ASSERT_PTR_EQUAL(host.session_credential(&c.s, PROVAUTH_CRED_JWT, NULL), PA_CRED(a, JWT));
	CU_ASSERT_PTR_NULL(c.creds);
	CU_ASSERT_EQUAL(provauth_session_credential_expires(&c.s, PROVAUTH_CRED_ACCESS_TOKEN, ""), 1700000000);
	CU_ASSERT_PTR_NULL(provauth_session_credential(&c.s, PROVAUTH_CRED_COOKIE, "sid"));

	CU_ASSERT_EQUAL(host.session_set_credential(&c.s, PROVAUTH_CRED_JWT, NULL, value, 1800000000), 0);
	value[0] = 'X';
	CU_ASSERT_STRING_EQUAL(provauth_session_credential(&c.s, PROVAUTH_CRED_JWT, NULL), "jwt-from-cookie");
	CU_ASSERT_EQUAL(host.session_credential_expires(&c.s, PROVAUTH_CRED_JWT, NULL), 1800000000);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), "jwt-stored");
	/* The first set made the session's own copy: the account's value is not the session's. */
	CU_ASSERT_PTR_NOT_NULL(c.creds);
	CU_ASSERT_PTR_NOT_EQUAL(host.session_credential(&c.s, PROVAUTH_CRED_JWT, NULL), PA_CRED(a, JWT));
	CU_ASSERT_EQUAL(host.session_set_credential(&c.s, PROVAUTH_CRED_ACCESS_TOKEN, NULL, NULL, 0), 0);
	CU_ASSERT_PTR_NULL(provauth_session_credential(&c.s, PROVAUTH_CRED_ACCESS_TOKEN, NULL));
	CU_ASSERT_EQUAL(c.s.credential_count, 1);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, ACCESS_TOKEN), "at");
	/* The account's rules: a single-valued kind takes no name. */
	CU_ASSERT_EQUAL(host.session_set_credential(&c.s, PROVAUTH_CRED_JWT, "x", "v", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(host.session_set_credential(NULL, PROVAUTH_CRED_JWT, NULL, "v", 0), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(host.session_credential(NULL, PROVAUTH_CRED_JWT, NULL));
	provauth_account_free(c.creds);
	provauth_account_free(a);
}

static void test_json_format_and_parse(void)
{
	provauth_json *v;
	char *t;

	expect_format(host.json_format(&host, "{\"a\":%s,\"n\":%i,\"b\":%b,\"c\":%b}", "x\"y/\n\x01", (int64_t)-42, 7, 0),
	              "{\"a\":\"x\\\"y/\\n\\u0001\",\"n\":-42,\"b\":true,\"c\":false}");
	expect_format(host.json_format(&host, "[%s,%j,%j,\"100%%\"]", (const char *)NULL, "{\"k\":[1]}",
	                               (const char *)NULL), "[null,{\"k\":[1]},null,\"100%\"]");
	expect_format(host.json_format(&host, "%i", (int64_t)INT64_MIN), "-9223372036854775808");
	/* what it writes, json_serialize writes the same way */
	v = host.json_parse("{\"s\":\"a/\\u0001\"}", 16);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	expect_format(host.json_serialize(v), "{\"s\":\"a/\\u0001\"}");
	host.json_free(v);
	/* anything but one JSON value is refused */
	provauth_error_clear();
	CU_ASSERT_PTR_NULL(host.json_format(&host, "{\"a\":%s", "x"));
	CU_ASSERT_EQUAL(provauth_last_error()[0] != '\0', 1);
	CU_ASSERT_PTR_NULL(host.json_format(&host, "[%q]", 1));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "unknown conversion %q"));
	CU_ASSERT_PTR_NULL(host.json_format(&host, "%j", "{bad}"));
	CU_ASSERT_PTR_NULL(host.json_format(&host, "[1]%"));
	t = host.json_format(&host, "%s", "");
	expect_format(t, "\"\"");
	/* json_parse: RFC 8259 only, whatever the parser underneath also takes */
	CU_ASSERT_PTR_NULL(host.json_parse("{\"a\":1,}", 8));
	CU_ASSERT_PTR_NULL(host.json_parse("[1] // c", 8));
	CU_ASSERT_PTR_NULL(host.json_parse("{'a':1}", 7));
	CU_ASSERT_PTR_NULL(host.json_parse("[\"a\\u0000b\"]", 12));
	CU_ASSERT_PTR_NOT_NULL_FATAL(v = host.json_parse(" [1, 2.0, \"3\"] ", 15));
	{
		int64_t n = 0;
		CU_ASSERT_EQUAL(host.json_int(host.json_array_at(v, 1), &n), 0);
		CU_ASSERT_EQUAL(n, 2);
		CU_ASSERT_EQUAL(host.json_int(host.json_array_at(v, 2), &n), 0);
		CU_ASSERT_EQUAL(n, 3);
		CU_ASSERT_PTR_NULL(host.json_array_at(v, 3));
	}
	host.json_free(v);
}

/* ---- the helper library (libprovauth_plugin) over this host ---- */

static int token_parse(provauth_plugin_token *tok, const char *reply)
{
	return provauth_plugin_token_parse(&host, tok, "t", reply, strlen(reply));
}

static void test_helper_library(void)
{
	const provauth_plugin_field fields[] = {
		{ "grant_type", "refresh_token" }, { "skipped", NULL }, { "refresh_token", "a b&c=d/\"e" },
	};
	provauth_plugin_token tok;
	provauth_failure f = { PROVAUTH_FAILURE_HTTP, PROVAUTH_EHTTP, 429, NULL, NULL, 0, -1 };
	provauth_outcome oc;
	char *t;

	expect_format(provauth_plugin_body_make(&host, PROVAUTH_PLUGIN_BODY_FORM, fields, 3),
	              "grant_type=refresh_token&refresh_token=a%20b%26c%3Dd%2F%22e");
	expect_format(provauth_plugin_body_make(&host, PROVAUTH_PLUGIN_BODY_JSON, fields, 3),
	              "{\"grant_type\":\"refresh_token\",\"refresh_token\":\"a b&c=d/\\\"e\"}");
	expect_format(provauth_plugin_url_join(&host, "https://a.example//", "/v1/x"), "https://a.example/v1/x");
	expect_format(provauth_plugin_url_join(&host, "https://a.example", "v1"), "https://a.example/v1");

	CU_ASSERT_EQUAL(token_parse(&tok, "{\"access_token\":\"at\",\"refresh_token\":\"rt\",\"expires_in\":\"3600\"}"), 0);
	CU_ASSERT_STRING_EQUAL(tok.access_token, "at");
	CU_ASSERT_STRING_EQUAL(tok.refresh_token, "rt");
	CU_ASSERT_EQUAL(tok.expires_in, 3600);
	provauth_plugin_token_clear(&host, &tok);
	CU_ASSERT_PTR_NULL(tok.access_token);
	CU_ASSERT_EQUAL(token_parse(&tok, "{\"access_token\":\"at\"}"), 0);
	CU_ASSERT_PTR_NULL(tok.refresh_token);
	CU_ASSERT_EQUAL(tok.expires_in, 0);
	provauth_plugin_token_clear(&host, &tok);
	CU_ASSERT_EQUAL(token_parse(&tok, "{\"access_token\":\"at\",\"expires_in\":-1}"),
	                PROVAUTH_EPROTOCOL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "expires_in"));
	CU_ASSERT_PTR_NULL(tok.access_token);
	CU_ASSERT_EQUAL(token_parse(&tok, "[1]"), PROVAUTH_EPROTOCOL);

	memset(&oc, 0, sizeof(oc));
	CU_ASSERT_EQUAL(provauth_plugin_classify_http(&f, &oc), 0);
	CU_ASSERT_EQUAL(oc.result, PROVAUTH_ERATELIMIT);
	CU_ASSERT_EQUAL(oc.retry_after, 60);
	CU_ASSERT_STRING_EQUAL(oc.error_code, "429");
	CU_ASSERT_FALSE(oc.is_session_error);
	f.http_status = 401;
	CU_ASSERT_EQUAL(provauth_plugin_classify_http(&f, &oc), 0);
	CU_ASSERT(oc.is_session_error && oc.should_attempt_reauth);
	CU_ASSERT_STRING_EQUAL(oc.error_reason, "token_rejected");

	CU_ASSERT(provauth_plugin_contains_ci("Too Many LOGINS", "many logins"));
	CU_ASSERT_FALSE(provauth_plugin_contains_ci(NULL, "x"));
	t = provauth_plugin_strndup(&host, "abcdef", 3);
	expect_format(t, "abc");
}

/* ---- NULL from a plugin ---- */

/*
 * A plugin's NULL where the host needs a pointer is refused with
 * PROVAUTH_EINVAL instead of crashing the process (log returns nothing:
 * the event is dropped and nothing reaches the callback).
 */
static void test_null_arguments_refused(void)
{
	/* Without the printf attribute: the NULL format is the point of the test. */
	int (*set_error)(const provauth_host *, int, const char *, ...) = host.set_error;
	provauth_log_field f[2] = { { "ok", PROVAUTH_FIELD_STRING, "v", 0 }, { NULL, PROVAUTH_FIELD_STRING, "v", 0 } };
	unsigned char *out = (unsigned char *)&out;
	size_t out_len = 99;

	CU_ASSERT_EQUAL(set_error(&host, PROVAUTH_EAUTH, NULL), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "set_error"));
	pa_test_log_reset();
	host.log(&host, PROVAUTH_LOG_ERROR, NULL, f, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "log"));
	host.log(&host, PROVAUTH_LOG_ERROR, "plugin_event", f, 2);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "field key"));
	host.log(&host, PROVAUTH_LOG_ERROR, "plugin_event", NULL, 1);
	CU_ASSERT_PTR_NULL(pa_test_log_text());
	host.log(&host, PROVAUTH_LOG_ERROR, "plugin_event", f, 1);
	CU_ASSERT_EQUAL(pa_test_log_count("plugin_event", "ok=v"), 1);
	CU_ASSERT_EQUAL(host.random_bytes(&host, NULL, 16), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "random_bytes"));
	CU_ASSERT_EQUAL(host.uuid4(&host, NULL), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(host.base64_decode(&host, NULL, 8, &out, &out_len), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(out_len, 0);
	CU_ASSERT_EQUAL(host.base64_decode(&host, "YWJj", 4, NULL, &out_len), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(host.digest_hex(&host, "md5", "x", 1, NULL, 33), PROVAUTH_EINVAL);
	pa_test_log_reset();
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "last_error", test_last_error },
		{ "last_error after a failed request", test_last_error_after_failed_request },
		{ "setting_error positions", test_setting_error_positions },
		{ "plugins name the place of a bad value", test_plugins_name_the_place_of_a_bad_value },
		{ "plugins fall back on an older host", test_plugins_fall_back_on_an_older_host },
		{ "plugins accept good values", test_plugins_accept_good_values },
		{ "NULL arguments refused", test_null_arguments_refused },
		{ "memory services", test_memory_services },
		{ "session credentials", test_session_credentials },
		{ "json_format and a strict json_parse", test_json_format_and_parse },
		{ "the helper library", test_helper_library },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "host_1_3", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "PROVAUTH_PLUGIN_PATH is not set (run through make check)\n");
		return 1;
	}
	host_ctx.logger = &logger;
	pa_host_init(&host, &host_ctx);
	return pa_test_run(argc, argv, suites);
}
