/*
 * provauthd's daemon: block (daemon/config/config.c), read through the
 * library's public settings-block API: defaults, every key, every refusal
 * naming FILE:LINE:COL and the key, tokens kept only as hashes and found in
 * constant time, and no secret (a webhook secret, a token) in any message.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include <openssl/evp.h>
#include "daemon.h"
#include "../support/pa_test.h"

/* sha256("correct-horse-battery-staple") */
#define HASH_A "0f4b8e7b6b3c1d2a19fd7c5f0d6b0e1a1c2f8a2e2b6e9c4e5d7c1a3f2b8e4d6a"

static pad_config *load_ok(const char *yaml)
{
	provauth_settings *s = NULL;
	pad_config *c = NULL;
	int rc = provauth_settings_parse(&s, yaml, strlen(yaml), "d.yaml");

	if (rc == 0 && (rc = pad_config_load(&c, s)) != 0)
		fprintf(stderr, "\n  unexpected: %s\n", provauth_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	provauth_settings_free(s);
	return c;
}

/* Parses and loads; expects ECONFIG with every needle in the message and `secret` absent. */
static void expect_bad(const char *yaml, const char *const *needles, const char *secret, int line)
{
	provauth_settings *s = NULL;
	pad_config *c = (pad_config *)&c;
	int rc = provauth_settings_parse(&s, yaml, strlen(yaml), "d.yaml");
	const char *msg;
	size_t i;

	if (rc == 0)
		rc = pad_config_load(&c, s);
	else
		c = NULL;
	msg = provauth_last_error();
	if (rc != PROVAUTH_ECONFIG)
		fprintf(stderr, "\n  test line %d: rc %d: %s\n", line, rc, msg);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NULL(c);
	for (i = 0; needles[i]; i++)
		if (!strstr(msg, needles[i])) {
			fprintf(stderr, "\n  test line %d: \"%s\" lacks \"%s\"\n", line, msg, needles[i]);
			CU_FAIL("needle missing");
		}
	if (secret && strstr(msg, secret)) {
		fprintf(stderr, "\n  test line %d: \"%s\" shows the secret\n", line, msg);
		CU_FAIL("secret shown");
	}
	provauth_settings_free(s);
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define BAD(yaml, ...) expect_bad((yaml), NEEDLES(__VA_ARGS__), NULL, __LINE__)
#define BAD_SECRET(yaml, secret, ...) expect_bad((yaml), NEEDLES(__VA_ARGS__), (secret), __LINE__)

static void test_defaults(void)
{
	pad_config *c = load_ok("store:\n  backend: memory\n");

	CU_ASSERT_STRING_EQUAL(c->listen, "127.0.0.1:8750");
	CU_ASSERT_STRING_EQUAL(c->host, "127.0.0.1");
	CU_ASSERT_EQUAL(c->port, 8750);
	CU_ASSERT_PTR_NULL(c->unix_path);
	CU_ASSERT_EQUAL(c->ntokens, 0);
	CU_ASSERT_EQUAL(c->max_body, 1 << 20);
	CU_ASSERT_EQUAL(c->max_connections, 256);
	CU_ASSERT_EQUAL(c->rate, 50);
	CU_ASSERT_EQUAL(c->auth_failures_per_minute, 10);
	CU_ASSERT_EQUAL(c->ad_task_max_age, 300);
	CU_ASSERT_EQUAL(c->burst, 100);
	CU_ASSERT_EQUAL(c->threads, 16);
	CU_ASSERT_EQUAL(c->drain_timeout, 30);
	CU_ASSERT_EQUAL(c->keeper.enabled, 1);
	CU_ASSERT_EQUAL(c->keeper.max_idle, 86400);
	CU_ASSERT_EQUAL(c->keeper.refresh_ahead, 600);
	CU_ASSERT_EQUAL(c->keeper.credit_sync, 3600);
	CU_ASSERT_EQUAL(c->keeper.jitter_percent, 10);
	CU_ASSERT_EQUAL(c->keeper.concurrency, 4);
	CU_ASSERT_EQUAL(c->keeper.time_scale, 1);
	CU_ASSERT_PTR_NULL(c->webhook.url);
	CU_ASSERT_EQUAL(c->webhook.retries, 5);
	CU_ASSERT_EQUAL(c->webhook.backoff_ms, 1000);
	pad_config_free(c);
}

static void test_full_block(void)
{
	pad_config *c = load_ok("daemon:\n"
	                        "  listen: \"[::1]:0\"\n"
	                        "  tokens:\n"
	                        "    - name: ci\n"
	                        "      sha256: " HASH_A "\n"
	                        "      scope: read\n"
	                        "    - name: backend.main\n"
	                        "      sha256: " "ABCDEF0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789" "\n"
	                        "      scope: admin\n"
	                        "  max_body: 2048\n"
	                        "  rate: 0\n"
	                        "  auth_failures_per_minute: 0\n"
	                        "  threads: 2\n"
	                        "  ready_file: /tmp/x.ready\n"
	                        "  ad_task_max_age: 0\n"
	                        "  keeper:\n"
	                        "    enabled: false\n"
	                        "    max_idle: 120\n"
	                        "    time_scale: 3600\n"
	                        "  webhook:\n"
	                        "    url: http://127.0.0.1:9/hook\n"
	                        "    secret: s3cr3t-s3cr3t-s3cr3t\n"
	                        "    retries: 2\n");

	CU_ASSERT_STRING_EQUAL(c->host, "::1");
	CU_ASSERT_EQUAL(c->port, 0);
	CU_ASSERT_EQUAL(c->ntokens, 2);
	CU_ASSERT_STRING_EQUAL(c->tokens[0].name, "ci");
	CU_ASSERT_EQUAL(c->tokens[0].scope, PAD_SCOPE_READ);
	CU_ASSERT_EQUAL(c->tokens[0].sha256[0], 0x0f);
	CU_ASSERT_EQUAL(c->tokens[0].sha256[31], 0x6a);
	CU_ASSERT_EQUAL(c->tokens[1].scope, PAD_SCOPE_ADMIN);
	CU_ASSERT_EQUAL(c->tokens[1].sha256[0], 0xab);
	CU_ASSERT_EQUAL(c->max_body, 2048);
	CU_ASSERT_EQUAL(c->rate, 0);
	CU_ASSERT_EQUAL(c->auth_failures_per_minute, 0);
	CU_ASSERT_EQUAL(c->threads, 2);
	CU_ASSERT_STRING_EQUAL(c->ready_file, "/tmp/x.ready");
	CU_ASSERT_EQUAL(c->ad_task_max_age, 0);
	CU_ASSERT_EQUAL(c->keeper.enabled, 0);
	CU_ASSERT_EQUAL(c->keeper.max_idle, 120);
	CU_ASSERT_EQUAL(c->keeper.time_scale, 3600);
	CU_ASSERT_STRING_EQUAL(c->webhook.url, "http://127.0.0.1:9/hook");
	CU_ASSERT_STRING_EQUAL(c->webhook.secret, "s3cr3t-s3cr3t-s3cr3t");
	CU_ASSERT_EQUAL(c->webhook.retries, 2);
	pad_config_free(c);

	c = load_ok("daemon:\n  listen: unix:/run/provauthd/api.sock\n  socket_mode: \"0600\"\n");
	CU_ASSERT_STRING_EQUAL(c->unix_path, "/run/provauthd/api.sock");
	CU_ASSERT_PTR_NULL(c->host);
	CU_ASSERT_EQUAL(c->socket_mode, 0600);
	pad_config_free(c);
}

/* The token found is the one whose hash matches, whatever its place; a near miss finds none. */
static void test_find_token(void)
{
	static const char token[] = "a-token-of-sixteen-or-more";
	unsigned char digest[32];
	char hex[65], yaml[1024];
	unsigned int len = 0, i;
	pad_config *c;

	CU_ASSERT_FATAL(EVP_Digest(token, strlen(token), digest, &len, EVP_sha256(), NULL) == 1);
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", digest[i]);
	snprintf(yaml, sizeof(yaml),
	         "daemon:\n  tokens:\n"
	         "    - {name: other, sha256: " HASH_A ", scope: admin}\n"
	         "    - {name: mine, sha256: %s, scope: operate}\n", hex);
	c = load_ok(yaml);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pad_config_find_token(c, token, strlen(token)));
	CU_ASSERT_STRING_EQUAL(pad_config_find_token(c, token, strlen(token))->name, "mine");
	CU_ASSERT_EQUAL(pad_config_find_token(c, token, strlen(token))->scope, PAD_SCOPE_OPERATE);
	CU_ASSERT_PTR_NULL(pad_config_find_token(c, token, strlen(token) - 1));
	CU_ASSERT_PTR_NULL(pad_config_find_token(c, "A-token-of-sixteen-or-more", strlen(token)));
	CU_ASSERT_PTR_NULL(pad_config_find_token(c, "", 0));
	CU_ASSERT_PTR_NULL(pad_config_find_token(c, NULL, 5));
	/* The hash of the hash is not a key either. */
	CU_ASSERT_PTR_NULL(pad_config_find_token(c, hex, 64));
	pad_config_free(c);
}

static void test_refusals(void)
{
	BAD("daemon: [1, 2]\n", "d.yaml:1:", "daemon", "mapping");
	BAD("daemon:\n  listn: 1\n", "d.yaml:2:", "daemon", "listn", "listen");
	BAD("daemon:\n  listen: localhost\n", "daemon.listen", "ADDRESS:PORT");
	BAD("daemon:\n  listen: 127.0.0.1:99999\n", "daemon.listen", "65535");
	BAD("daemon:\n  listen: unix:run/x.sock\n", "daemon.listen", "absolute");
	BAD("daemon:\n  listen: \"[::1]8750\"\n", "daemon.listen", "[ADDRESS]:PORT");
	BAD("daemon:\n  socket_mode: \"0666\"\n  listen: unix:/run/x.sock\n", "daemon.socket_mode", "others");
	BAD("daemon:\n  tls_certificate: /etc/c.pem\n", "daemon.tls_key", "both");
	BAD("daemon:\n  listen: unix:/run/x.sock\n  tls_certificate: /c\n  tls_key: /k\n",
	    "daemon.tls_certificate", "Unix socket");
	BAD("daemon:\n  tokens: ci\n", "d.yaml:2:", "daemon.tokens", "list");
	BAD("daemon:\n  tokens:\n    - ci\n", "daemon.tokens", "mapping");
	BAD("daemon:\n  tokens:\n    - {sha256: " HASH_A ", scope: read}\n", "name");
	BAD("daemon:\n  tokens:\n    - {name: 'a b', sha256: " HASH_A ", scope: read}\n", "name", "letters");
	BAD("daemon:\n  tokens:\n    - {name: a, sha256: " HASH_A ", scope: root}\n", "scope",
	    "read, operate or admin");
	BAD("daemon:\n  tokens:\n    - {name: a, sha256: " HASH_A ", scope: read}\n"
	    "    - {name: a, sha256: " HASH_A ", scope: read}\n", "already named 'a'");
	BAD("daemon:\n  tokens:\n    - {name: a, sha256: " HASH_A ", scope: read, extra: 1}\n", "extra");
	/* A token pasted where its hash belongs: refused, and never echoed. */
	BAD_SECRET("daemon:\n  tokens:\n    - {name: a, sha256: my-plain-token-value, scope: read}\n",
	           "my-plain-token-value", "sha256", "--hash-token");
	BAD("daemon:\n  tokens:\n    - {name: a, sha256: " "zz" HASH_A "}\n", "sha256");
	BAD("daemon:\n  socket_mode: 0660\n", "daemon.socket_mode", "quotes");
	BAD("daemon:\n  socket_mode: \"660\"\n", "daemon.socket_mode", "octal");
	BAD("daemon:\n  socket_mode: \"0990\"\n", "daemon.socket_mode", "octal");
	BAD("daemon:\n  max_body: 10\n", "daemon.max_body", "1024");
	BAD("daemon:\n  auth_failures_per_minute: -1\n", "daemon.auth_failures_per_minute", "0");
	BAD("daemon:\n  ad_task_max_age: 86401\n", "daemon.ad_task_max_age", "86400");
	BAD("daemon:\n  threads: many\n", "daemon.threads", "integer");
	BAD("daemon:\n  keeper:\n    max_idle: 1\n", "daemon.keeper.max_idle", "60");
	BAD("daemon:\n  keeper:\n    jitter: 5\n", "daemon.keeper", "jitter");
	BAD("daemon:\n  webhook:\n    url: ftp://x/\n    secret: 0123456789abcdef\n", "daemon.webhook.url", "http");
	BAD("daemon:\n  webhook:\n    url: http://x/\n", "daemon.webhook.secret", "sign");
	BAD_SECRET("daemon:\n  webhook:\n    url: http://x/\n    secret: \"short-hook\"\n", "short-hook",
	           "daemon.webhook.secret", "16");
	BAD("daemon:\n  webhook:\n    backoff_ms: 5000\n    max_backoff_ms: 10\n", "max_backoff_ms");
}

/* A settings file without a daemon: block, or with one, still loads for the library. */
static void test_library_ignores_block(void)
{
	static const char yaml[] = "daemon:\n  listen: 127.0.0.1:1\n  anything: [1, 2]\n";
	provauth_settings *s = NULL;

	CU_ASSERT_EQUAL(provauth_settings_parse(&s, yaml, strlen(yaml), "d.yaml"), 0);
	CU_ASSERT_PTR_NOT_NULL(provauth_settings_block(s, "daemon"));
	CU_ASSERT_TRUE(provauth_setting_is_map(provauth_settings_block(s, "daemon")));
	CU_ASSERT_STRING_EQUAL(provauth_setting_path(provauth_settings_block(s, "daemon")), "daemon");
	CU_ASSERT_PTR_NULL(provauth_settings_block(s, "nothing"));
	provauth_settings_free(s);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "defaults", test_defaults },
		{ "every key", test_full_block },
		{ "tokens are found by hash", test_find_token },
		{ "refusals name the key", test_refusals },
		{ "the library leaves the block to the daemon", test_library_ignores_block },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "daemon config", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
