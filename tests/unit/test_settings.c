/* The YAML settings loader: every rejection names file:line:col and key; no secret leaks. */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "../support/pa_test.h"

static char tmpdir[] = "/tmp/pa-settings-XXXXXX";

static int suite_init(void)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_clean(void)
{
	return pa_test_rmtree(tmpdir);
}

/* Writes `len` bytes to tmpdir/name with `mode`; returns the path (static buffer). */
static const char *write_file(const char *name, const char *text, size_t len, mode_t mode)
{
	static char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	f = fopen(path, "wb");
	CU_ASSERT_FATAL(f != NULL);
	CU_ASSERT_FATAL(fwrite(text, 1, len, f) == len);
	CU_ASSERT_FATAL(fclose(f) == 0);
	CU_ASSERT_FATAL(chmod(path, mode) == 0);
	return path;
}

static int has(const char *msg, const char *needle, int line)
{
	if (strstr(msg, needle))
		return 1;
	fprintf(stderr, "\n  test line %d: message \"%s\" lacks \"%s\"\n", line, msg, needle);
	return 0;
}

static int lacks(const char *msg, const char *needle, int line)
{
	if (!strstr(msg, needle))
		return 1;
	fprintf(stderr, "\n  test line %d: message \"%s\" must not contain \"%s\"\n", line, msg, needle);
	return 0;
}

/* Parses as "t.yaml"; expects failure with `code` and every needle in the message. */
static void expect_bad(const char *text, size_t len, int code, const char *const *needles,
                       const char *secret, int line)
{
	provauth_settings *s = (provauth_settings *)&s; /* not NULL, so the reset is checked */
	int rc = provauth_settings_parse(&s, text, len, "t.yaml");
	size_t i;

	if (rc != code)
		fprintf(stderr, "\n  test line %d: rc %d (want %d): %s\n", line, rc, code,
		        provauth_last_error());
	CU_ASSERT_EQUAL(rc, code);
	CU_ASSERT_PTR_NULL(s);
	if (rc == 0)
		provauth_settings_free(s);
	for (i = 0; needles[i]; i++)
		CU_ASSERT(has(provauth_last_error(), needles[i], line));
	if (secret)
		CU_ASSERT(lacks(provauth_last_error(), secret, line));
}

#define NEEDLES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define BAD(text, ...) expect_bad((text), strlen(text), PROVAUTH_ECONFIG, NEEDLES(__VA_ARGS__), NULL, __LINE__)
#define BAD_SECRET(text, secret, ...) \
	expect_bad((text), strlen(text), PROVAUTH_ECONFIG, NEEDLES(__VA_ARGS__), (secret), __LINE__)
#define MSG_HAS(needle) CU_ASSERT(has(provauth_last_error(), (needle), __LINE__))
#define MSG_LACKS(needle) CU_ASSERT(lacks(provauth_last_error(), (needle), __LINE__))

static provauth_settings *parse_ok(const char *text)
{
	provauth_settings *s = NULL;
	int rc = provauth_settings_parse(&s, text, strlen(text), "t.yaml");

	if (rc)
		fprintf(stderr, "\n  unexpected failure: %s\n", provauth_last_error());
	CU_ASSERT_EQUAL_FATAL(rc, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	return s;
}

/* ---- defaults ---- */

static void check_default_numbers(const provauth_settings *s)
{
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->backend, "sqlite");
	CU_ASSERT_EQUAL(pa_settings_store(s)->busy_timeout_ms, 5000);
	CU_ASSERT_EQUAL(pa_settings_log(s)->level, PROVAUTH_LOG_INFO);
	CU_ASSERT_EQUAL(pa_settings_log(s)->format_text, 0);
	CU_ASSERT_PTR_NULL(pa_settings_http(s)->ca_file);
	CU_ASSERT_EQUAL(pa_settings_http(s)->connect_timeout_ms, 10000);
	CU_ASSERT_EQUAL(pa_settings_http(s)->timeout_ms, 30000);
	CU_ASSERT_EQUAL(pa_settings_http(s)->max_reply_bytes, 1048576);
	CU_ASSERT_EQUAL(pa_settings_session(s)->recovery_wait_ms, 30000);
	CU_ASSERT_EQUAL(pa_settings_session(s)->lease_ttl_ms, 30000);
	CU_ASSERT_EQUAL(pa_settings_provider_count(s), 0);
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 0);
}

static void test_defaults(void)
{
	provauth_settings *s = NULL;
	const char *const *dirs;
	size_t n = 99;

	CU_ASSERT_EQUAL_FATAL(setenv("XDG_DATA_HOME", "/srv/xdg/", 1), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_default(&s), 0);
	check_default_numbers(s);
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->path, "/srv/xdg/provauth/accounts.db");
	/* No key_file: the store looks at PROVAUTH_STORE_KEY, then "<path>.key". */
	CU_ASSERT_PTR_NULL(pa_settings_store(s)->key_file);
	CU_ASSERT_STRING_EQUAL(provauth_settings_source(s), "(defaults)");
	dirs = pa_settings_plugin_dirs(s, &n);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NOT_NULL(dirs);
	CU_ASSERT_PTR_NULL(pa_settings_provider(s, "pixverse"));
	{
		provauth_setting *empty = pa_settings_empty_node_new(s, "pixverse");
		CU_ASSERT_PTR_NOT_NULL(empty);
		pa_settings_empty_node_free(empty);
	}
	provauth_settings_free(s);

	/* An empty mapping is the same as no settings at all. */
	s = parse_ok("{}\n");
	check_default_numbers(s);
	CU_ASSERT_STRING_EQUAL(provauth_settings_source(s), "t.yaml");
	provauth_settings_free(s);

	/* XDG: a relative XDG_DATA_HOME is ignored in favour of $HOME/.local/share. */
	CU_ASSERT_EQUAL_FATAL(setenv("XDG_DATA_HOME", "relative/dir", 1), 0);
	CU_ASSERT_EQUAL_FATAL(setenv("HOME", "/home/tester", 1), 0);
	s = parse_ok("log: {level: warn}\n");
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->path, "/home/tester/.local/share/provauth/accounts.db");
	provauth_settings_free(s);
	CU_ASSERT_EQUAL_FATAL(unsetenv("XDG_DATA_HOME"), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_default(&s), 0);
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->path, "/home/tester/.local/share/provauth/accounts.db");
	CU_ASSERT_PTR_NULL(pa_settings_store(s)->key_file);
	provauth_settings_free(s);

	/* Null values and null sections mean the defaults too. */
	s = parse_ok("store:\nlog: ~\nhttp:\n  ca_file:\n  timeout_ms: null\nproviders:\n");
	check_default_numbers(s);
	provauth_settings_free(s);
}

/* ---- every key ---- */

static const char full_file[] =
	"plugin_dir:\n"
	"  - /opt/pa/plugins\n"
	"  - /usr/local/lib/pa\n"
	"store:\n"
	"  backend: memory\n"
	"  path: /var/lib/pa/a.db\n"
	"  key_file: /etc/pa/a.key\n"
	"  busy_timeout_ms: 0\n"
	"log:\n"
	"  level: debug\n"
	"  format: text\n"
	"http:\n"
	"  ca_file: /etc/ssl/ca.pem\n"
	"  connect_timeout_ms: 1\n"
	"  timeout_ms: 3600000\n"
	"  max_reply_bytes: 1073741824\n"
	"session:\n"
	"  recovery_wait_ms: 0\n"
	"  lease_ttl_ms: 100\n"
	"providers:\n"
	"  pixverse:\n"
	"    auto_reauth_enabled: YES\n"
	"    global_password: 'pw-in-file'\n"
	"    reauth_cooldown: 0\n"
	"    login_cooldown: 86400\n"
	"    refresh_ahead: 60\n"
	"    cookie_refresh: no\n"
	"    web_api: https://app-api.pixverse.ai\n"
	"  pixiv:\n"
	"    auto_reauth_enabled: off\n";

static void test_full_file(void)
{
	provauth_settings *s = parse_ok(full_file);
	const pa_provider_settings *p;
	const char *const *dirs;
	size_t n;

	dirs = pa_settings_plugin_dirs(s, &n);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_STRING_EQUAL(dirs[0], "/opt/pa/plugins");
	CU_ASSERT_STRING_EQUAL(dirs[1], "/usr/local/lib/pa");
	CU_ASSERT_PTR_NULL(dirs[2]);
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->backend, "memory");
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->path, "/var/lib/pa/a.db");
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->key_file, "/etc/pa/a.key");
	CU_ASSERT_EQUAL(pa_settings_store(s)->busy_timeout_ms, 0);
	CU_ASSERT_EQUAL(pa_settings_log(s)->level, PROVAUTH_LOG_DEBUG);
	CU_ASSERT_EQUAL(pa_settings_log(s)->format_text, 1);
	CU_ASSERT_STRING_EQUAL(pa_settings_http(s)->ca_file, "/etc/ssl/ca.pem");
	CU_ASSERT_EQUAL(pa_settings_http(s)->connect_timeout_ms, 1);
	CU_ASSERT_EQUAL(pa_settings_http(s)->timeout_ms, 3600000);
	CU_ASSERT_EQUAL(pa_settings_http(s)->max_reply_bytes, 1073741824);
	CU_ASSERT_EQUAL(pa_settings_session(s)->recovery_wait_ms, 0);
	CU_ASSERT_EQUAL(pa_settings_session(s)->lease_ttl_ms, 100);
	CU_ASSERT_EQUAL_FATAL(pa_settings_provider_count(s), 2);

	p = pa_settings_provider(s, "pixverse");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_PTR_EQUAL(p, pa_settings_provider_at(s, 0));
	CU_ASSERT_STRING_EQUAL(p->id, "pixverse");
	CU_ASSERT_EQUAL(p->auto_reauth_enabled, 1);
	CU_ASSERT_STRING_EQUAL(p->global_password, "pw-in-file");
	CU_ASSERT_EQUAL(p->reauth_cooldown, 0);
	CU_ASSERT_EQUAL(p->login_cooldown, 86400);
	CU_ASSERT_EQUAL(p->refresh_ahead, 60);
	CU_ASSERT_EQUAL(p->cookie_refresh, 0);
	CU_ASSERT_PTR_NOT_NULL(p->node);

	p = pa_settings_provider_at(s, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->id, "pixiv");
	CU_ASSERT_EQUAL(p->auto_reauth_enabled, 0);
	CU_ASSERT_PTR_NULL(p->global_password);
	CU_ASSERT_EQUAL(p->reauth_cooldown, 300);
	CU_ASSERT_EQUAL(p->login_cooldown, 600);
	CU_ASSERT_EQUAL(p->refresh_ahead, 300);
	CU_ASSERT_EQUAL(p->cookie_refresh, 1);
	CU_ASSERT_PTR_NULL(pa_settings_provider_at(s, 2));
	CU_ASSERT_PTR_NULL(pa_settings_provider(s, "nope"));
	/* Parsed from memory: no file mode, so no warning. */
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 0);
	provauth_settings_free(s);
}

static void test_booleans(void)
{
	static const char *const truthy[] = { "true", "True", "YES", "on", "On" };
	static const char *const falsy[] = { "false", "FALSE", "no", "No", "off" };
	char text[128];
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(truthy); i++) {
		provauth_settings *s;
		snprintf(text, sizeof(text), "providers:\n  p:\n    auto_reauth_enabled: %s\n", truthy[i]);
		s = parse_ok(text);
		CU_ASSERT_EQUAL(pa_settings_provider(s, "p")->auto_reauth_enabled, 1);
		provauth_settings_free(s);
		snprintf(text, sizeof(text), "providers:\n  p:\n    auto_reauth_enabled: %s\n", falsy[i]);
		s = parse_ok(text);
		CU_ASSERT_EQUAL(pa_settings_provider(s, "p")->auto_reauth_enabled, 0);
		provauth_settings_free(s);
	}
}

/* YAML's numbers take only their own base's digits: a hex hash that opens with 0b or 0o is text. */
static void test_number_forms(void)
{
	static const char *const numbers[] = { "3", "-2", "+1.5", "1e3", "0x1F", "0o17", "0b1010", ".inf", "1_000" };
	static const char *const texts[] = { "0ba4c52385c2a5f7", "0b", "0b2", "0o9", "0xg", "1e", "1.2.3", "e5", "_1",
	                                     "0ob1" };
	char text[128];
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(numbers) + PA_ARRAY_LEN(texts); i++) {
		int is_number = i < PA_ARRAY_LEN(numbers);
		const char *v = is_number ? numbers[i] : texts[i - PA_ARRAY_LEN(numbers)];
		const char *str = NULL;
		provauth_settings *s;
		int rc;

		snprintf(text, sizeof(text), "providers:\n  p:\n    label: %s\n", v);
		s = parse_ok(text);
		rc = pa_setting_string(pa_settings_provider(s, "p")->node, "label", NULL, &str);
		if (is_number) {
			CU_ASSERT_EQUAL(rc, PROVAUTH_ECONFIG);
			MSG_HAS("which YAML reads as a number");
		} else {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_PTR_NOT_NULL_FATAL(str);
			CU_ASSERT_STRING_EQUAL(str, v);
		}
		provauth_settings_free(s);
	}
}

/* ---- the postgres store ---- */

static void test_postgres_store(void)
{
	provauth_settings *s;
	const pa_store_settings *st;

	s = parse_ok("store:\n  backend: postgres\n  url: postgresql://provauth@db.example:5433/accounts\n"
	             "  key_file: /etc/provauth/store.key\n  pool_size: 8\n  connect_timeout_ms: 2500\n"
	             "  statement_timeout_ms: 9000\n");
	st = pa_settings_store(s);
	CU_ASSERT_STRING_EQUAL(st->backend, "postgres");
	CU_ASSERT_STRING_EQUAL(st->url, "postgresql://provauth@db.example:5433/accounts");
	CU_ASSERT_STRING_EQUAL(st->key_file, "/etc/provauth/store.key");
	CU_ASSERT_EQUAL(st->pool_size, 8);
	CU_ASSERT_EQUAL(st->connect_timeout_ms, 2500);
	CU_ASSERT_EQUAL(st->statement_timeout_ms, 9000);
	provauth_settings_free(s);

	/* Defaults, and a key=value connection string. */
	s = parse_ok("store:\n  backend: postgres\n  url: host=127.0.0.1 dbname=provauth\n");
	st = pa_settings_store(s);
	CU_ASSERT_STRING_EQUAL(st->url, "host=127.0.0.1 dbname=provauth");
	CU_ASSERT_EQUAL(st->pool_size, 4);
	CU_ASSERT_EQUAL(st->connect_timeout_ms, 5000);
	CU_ASSERT_EQUAL(st->statement_timeout_ms, 30000);
	provauth_settings_free(s);

	/* A password may come from the environment: the file then holds none. */
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_PGPW", "pg-Secret-5150", 1), 0);
	s = parse_ok("store:\n  backend: postgres\n  url: postgresql://provauth:${PA_T_PGPW}@db/accounts\n");
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->url, "postgresql://provauth:pg-Secret-5150@db/accounts");
	provauth_settings_free(s);
	unsetenv("PA_T_PGPW");
}

static void test_postgres_store_refusals(void)
{
	/* A password written in the file, in either syntax, is refused without being repeated. */
	BAD_SECRET("store:\n  backend: postgres\n  url: postgresql://provauth:pg-Secret-1@db/accounts\n",
	           "pg-Secret-1", "t.yaml:3:8: store.url:", "password in clear text", "PGPASSWORD", "${VAR}");
	BAD_SECRET("store:\n  backend: postgres\n  url: host=db password=pg-Secret-2 dbname=x\n",
	           "pg-Secret-2", "t.yaml:3:8: store.url:", "password in clear text");
	BAD("store:\n  backend: postgres\n", "t.yaml: store.url:", "needs the database's connection string");
	/* libpq quotes what it could not read: here, a password with a bad percent-encoding. */
	BAD_SECRET("store:\n  backend: postgres\n  url: postgresql://u:pg-Secret-3%zz@db/x\n", "pg-Secret-3",
	           "t.yaml:3:8: store.url:", "not a PostgreSQL connection string or URI",
	           "invalid percent-encoded token");
	BAD("store:\n  backend: postgres\n  url: host=db bogus_option=1\n", "store.url:", "bogus_option");
	BAD("store:\n  backend: postgres\n  url: x\n  pool_size: 0\n", "store.pool_size:",
	    "must be between 1 and 64");
}

/* ---- environment ---- */

static void test_env_expansion(void)
{
	provauth_settings *s;
	const pa_provider_settings *p;
	const char *const *dirs;
	size_t n;

	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_DIR", "/opt/from-env", 1), 0);
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_PW", "env-password-123", 1), 0);
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_NUM", "4242", 1), 0);
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_BOOL", "true", 1), 0);
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_EMPTY", "", 1), 0);
	s = parse_ok("plugin_dir: ${PA_T_DIR}/plugins\n"
	             "store:\n"
	             "  path: \"${PA_T_DIR}/a-${PA_T_NUM}.db\"\n"
	             "  busy_timeout_ms: ${PA_T_NUM}\n"
	             "http:\n"
	             "  ca_file: ${PA_T_EMPTY}\n"
	             "  timeout_ms: '${PA_T_NUM}'\n"
	             "providers:\n"
	             "  pixverse:\n"
	             "    global_password: ${PA_T_PW}\n"
	             "    auto_reauth_enabled: ${PA_T_BOOL}\n"
	             "    login_cooldown: ${PA_T_NUM}\n");
	dirs = pa_settings_plugin_dirs(s, &n);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(dirs[0], "/opt/from-env/plugins");
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->path, "/opt/from-env/a-4242.db");
	CU_ASSERT_PTR_NULL(pa_settings_store(s)->key_file);
	CU_ASSERT_EQUAL(pa_settings_store(s)->busy_timeout_ms, 4242);
	/* An empty CA file from the environment means the system CAs. */
	CU_ASSERT_PTR_NULL(pa_settings_http(s)->ca_file);
	/* ${...} takes the key's type, quoted or not. */
	CU_ASSERT_EQUAL(pa_settings_http(s)->timeout_ms, 4242);
	p = pa_settings_provider(s, "pixverse");
	CU_ASSERT_PTR_NOT_NULL_FATAL(p);
	CU_ASSERT_STRING_EQUAL(p->global_password, "env-password-123");
	CU_ASSERT_EQUAL(p->auto_reauth_enabled, 1);
	CU_ASSERT_EQUAL(p->login_cooldown, 4242);
	provauth_settings_free(s);

	/* A number from the environment is still a string for a string key. */
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_PW", "123456", 1), 0);
	s = parse_ok("providers:\n  p:\n    global_password: ${PA_T_PW}\n");
	CU_ASSERT_STRING_EQUAL(pa_settings_provider(s, "p")->global_password, "123456");
	provauth_settings_free(s);
}

/*
 * ${VAR} expansion is bounded like the file itself: a small file naming a
 * big variable many times must not expand into gigabytes. The limit counts
 * every expanded value of the file together, and the error names the file
 * and the key where the limit was crossed.
 */
static void test_env_expansion_bounded(void)
{
	size_t big = 100 * 1024, i;
	char *value = malloc(big + 1), *text;
	provauth_settings *s = NULL;
	size_t off = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(value);
	memset(value, 'v', big);
	value[big] = '\0';
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_BIG", value, 1), 0);
	text = malloc(4096);
	CU_ASSERT_PTR_NOT_NULL_FATAL(text);

	/* Five times (500 KiB in all) is within the bound. */
	off = (size_t)snprintf(text, 4096, "providers:\n  p:\n");
	for (i = 0; i < 5; i++)
		off += (size_t)snprintf(text + off, 4096 - off, "    k%zu: ${PA_T_BIG}\n", i);
	CU_ASSERT_EQUAL(provauth_settings_parse(&s, text, off, "t.yaml"), 0);
	provauth_settings_free(s);
	s = NULL;

	/* Twenty times in separate values (2 MB in all) is not, nor eleven times in one value. */
	off = (size_t)snprintf(text, 4096, "providers:\n  p:\n");
	for (i = 0; i < 20; i++)
		off += (size_t)snprintf(text + off, 4096 - off, "    k%zu: ${PA_T_BIG}\n", i);
	CU_ASSERT_EQUAL(provauth_settings_parse(&s, text, off, "t.yaml"), PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NULL(s);
	MSG_HAS("t.yaml:");
	MSG_HAS("providers.p.k10");
	MSG_HAS("1 MiB");
	MSG_LACKS("vvvvvvvv");

	off = (size_t)snprintf(text, 4096, "store:\n  path: \"");
	for (i = 0; i < 11; i++)
		off += (size_t)snprintf(text + off, 4096 - off, "${PA_T_BIG}");
	off += (size_t)snprintf(text + off, 4096 - off, "\"\n");
	CU_ASSERT_EQUAL(provauth_settings_parse(&s, text, off, "t.yaml"), PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NULL(s);
	MSG_HAS("t.yaml:2:");
	MSG_HAS("store.path");
	CU_ASSERT_EQUAL(unsetenv("PA_T_BIG"), 0);
	free(text);
	free(value);
}

static void test_env_escape(void)
{
	provauth_settings *s = parse_ok("store:\n"
	                                "  path: /a/$${HOME}/b$c$$d$\n"
	                                "  key_file: \"$${\"\n");

	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->path, "/a/${HOME}/b$c$$d$");
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->key_file, "${");
	provauth_settings_free(s);
}

/* A UTF-8 byte order mark, CRLF line ends and nesting up to the limit are fine. */
static void test_text_forms(void)
{
	char deep[256];
	provauth_settings *s;
	size_t i, o;

	s = parse_ok("\xef\xbb\xbfstore:\r\n  busy_timeout_ms: 7\r\n  path: /x\r\n");
	CU_ASSERT_EQUAL(pa_settings_store(s)->busy_timeout_ms, 7);
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->path, "/x");
	provauth_settings_free(s);

	/* top (1), providers (2), p (3), then 29 sequences: 32 levels. */
	o = (size_t)snprintf(deep, sizeof(deep), "providers: {p: {x: ");
	for (i = 0; i < 29; i++)
		deep[o++] = '[';
	for (i = 0; i < 29; i++)
		deep[o++] = ']';
	memcpy(deep + o, "}}\n", 4);
	s = parse_ok(deep);
	CU_ASSERT_PTR_NOT_NULL(pa_settings_provider(s, "p"));
	provauth_settings_free(s);
	/* One more level is refused. */
	o = (size_t)snprintf(deep, sizeof(deep), "providers: {p: {x: ");
	for (i = 0; i < 30; i++)
		deep[o++] = '[';
	for (i = 0; i < 30; i++)
		deep[o++] = ']';
	memcpy(deep + o, "}}\n", 4);
	BAD(deep, "t.yaml:1:49: providers.p.x[0]", "nesting is deeper than 32 levels");
}

/* ---- plugin_dir forms, provider blocks ---- */

static void test_plugin_dir_forms(void)
{
	provauth_settings *s;
	const char *const *dirs;
	size_t n;

	s = parse_ok("plugin_dir: /one/dir\n");
	dirs = pa_settings_plugin_dirs(s, &n);
	CU_ASSERT_EQUAL_FATAL(n, 1);
	CU_ASSERT_STRING_EQUAL(dirs[0], "/one/dir");
	provauth_settings_free(s);

	s = parse_ok("plugin_dir: [/a, \"/b c\", '7']\n");
	dirs = pa_settings_plugin_dirs(s, &n);
	CU_ASSERT_EQUAL_FATAL(n, 3);
	CU_ASSERT_STRING_EQUAL(dirs[0], "/a");
	CU_ASSERT_STRING_EQUAL(dirs[1], "/b c");
	CU_ASSERT_STRING_EQUAL(dirs[2], "7");
	provauth_settings_free(s);

	s = parse_ok("plugin_dir: []\n");
	dirs = pa_settings_plugin_dirs(s, &n);
	CU_ASSERT_EQUAL(n, 0);
	CU_ASSERT_PTR_NULL(dirs[0]);
	provauth_settings_free(s);
}

static void test_provider_blocks(void)
{
	provauth_settings *s = parse_ok("providers:\n  a:\n  b: {}\n  c: ~\n  d-2_x:\n    extra: 1\n");
	size_t i;

	CU_ASSERT_EQUAL_FATAL(pa_settings_provider_count(s), 4);
	for (i = 0; i < 4; i++) {
		const pa_provider_settings *p = pa_settings_provider_at(s, i);
		int64_t v = -1;
		CU_ASSERT_PTR_NOT_NULL_FATAL(p);
		CU_ASSERT_PTR_NOT_NULL_FATAL(p->node);
		CU_ASSERT_EQUAL(p->reauth_cooldown, 300);
		CU_ASSERT_EQUAL(p->login_cooldown, 600);
		CU_ASSERT_EQUAL(p->refresh_ahead, 300);
		CU_ASSERT_EQUAL(pa_setting_int(p->node, "timeout", 7, 0, 10, &v), 0);
		CU_ASSERT_EQUAL(v, 7);
		if (i < 3)
			CU_ASSERT_EQUAL(pa_setting_check_keys(p->node, pa_common_provider_keys, NULL), 0);
	}
	CU_ASSERT_STRING_EQUAL(pa_settings_provider_at(s, 3)->id, "d-2_x");
	/* Plugin keys pass the load; the manager's key check is what rejects them. */
	CU_ASSERT_EQUAL(pa_setting_check_keys(pa_settings_provider(s, "d-2_x")->node,
	                                      pa_common_provider_keys, NULL), PROVAUTH_ECONFIG);
	MSG_HAS("t.yaml:6:5: providers.d-2_x.extra: unknown key");
	provauth_settings_free(s);
}

/* ---- the plugin-facing typed lookups ---- */

static void test_setting_lookups(void)
{
	static const char *const plugin_keys[] = { "token_url", "retries", "verbose", "client_secret", NULL };
	provauth_settings *s = parse_ok("providers:\n"
	                                "  pixiv:\n"
	                                "    token_url: https://oauth.example/auth/token\n"
	                                "    retries: 3\n"
	                                "    verbose: on\n"
	                                "    client_secret: s3cr3t-value\n");
	const provauth_setting *node = pa_settings_provider(s, "pixiv")->node;
	provauth_setting *empty = pa_settings_empty_node_new(s, "pixiv");
	const char *str = NULL;
	int64_t n = 0;
	int b = -1;

	CU_ASSERT_EQUAL(pa_setting_string(node, "token_url", "def", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "https://oauth.example/auth/token");
	CU_ASSERT_EQUAL(pa_setting_string(node, "api_url", "https://app-api.example", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "https://app-api.example");
	CU_ASSERT_EQUAL(pa_setting_int(node, "retries", 1, 0, 10, &n), 0);
	CU_ASSERT_EQUAL(n, 3);
	CU_ASSERT_EQUAL(pa_setting_bool(node, "verbose", 0, &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(pa_setting_bool(node, "missing", 1, &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_EQUAL(pa_setting_check_keys(node, pa_common_provider_keys, plugin_keys), 0);

	/* Wrong types, with the full key path and position. */
	CU_ASSERT_EQUAL(pa_setting_int(node, "token_url", 1, 0, 10, &n), PROVAUTH_ECONFIG);
	MSG_HAS("t.yaml:3:16: providers.pixiv.token_url: expected an integer, got 'https://oauth.example/auth/token'");
	CU_ASSERT_EQUAL(pa_setting_int(node, "retries", 1, 5, 10, &n), PROVAUTH_ECONFIG);
	MSG_HAS("t.yaml:4:14: providers.pixiv.retries: must be between 5 and 10, got '3'");
	CU_ASSERT_EQUAL(pa_setting_bool(node, "retries", 0, &b), PROVAUTH_ECONFIG);
	MSG_HAS("t.yaml:4:14: providers.pixiv.retries: expected true or false, got '3'");
	CU_ASSERT_EQUAL(pa_setting_string(node, "retries", NULL, &str), PROVAUTH_ECONFIG);
	MSG_HAS("providers.pixiv.retries: expected a string, got '3', which YAML reads as a number");
	/* A key that looks like a secret is never quoted. */
	CU_ASSERT_EQUAL(pa_setting_int(node, "client_secret", 0, 0, 10, &n), PROVAUTH_ECONFIG);
	MSG_HAS("t.yaml:6:20: providers.pixiv.client_secret: expected an integer");
	MSG_LACKS("s3cr3t");

	/* Unknown keys: a typo gets a suggestion, anything else the list. */
	{
		static const char *const short_list[] = { "token_url", NULL };
		provauth_settings *t = parse_ok("providers:\n  pixiv:\n    tokn_url: x\n    zzz: 1\n");
		const provauth_setting *tn = pa_settings_provider(t, "pixiv")->node;
		CU_ASSERT_EQUAL(pa_setting_check_keys(tn, pa_common_provider_keys, short_list), PROVAUTH_ECONFIG);
		MSG_HAS("t.yaml:3:5: providers.pixiv.tokn_url: unknown key; did you mean 'token_url'?");
		CU_ASSERT_EQUAL(pa_setting_check_keys(tn, short_list, NULL), PROVAUTH_ECONFIG);
		MSG_HAS("did you mean 'token_url'?");
		CU_ASSERT_EQUAL(pa_setting_check_keys(tn, NULL, NULL), PROVAUTH_ECONFIG);
		MSG_HAS("t.yaml:3:5: providers.pixiv.tokn_url: unknown key");
		provauth_settings_free(t);
		t = parse_ok("providers:\n  pixiv:\n    zzz: 1\n");
		tn = pa_settings_provider(t, "pixiv")->node;
		CU_ASSERT_EQUAL(pa_setting_check_keys(tn, pa_common_provider_keys, short_list), PROVAUTH_ECONFIG);
		MSG_HAS("t.yaml:3:5: providers.pixiv.zzz: unknown key (expected one of: auto_reauth_enabled, "
		        "global_password, reauth_cooldown, login_cooldown, refresh_ahead, cookie_refresh, token_url)");
		provauth_settings_free(t);
	}

	/* The empty node: every lookup gives the default, no key is unknown. */
	CU_ASSERT_EQUAL(pa_setting_string(empty, "token_url", "d", &str), 0);
	CU_ASSERT_STRING_EQUAL(str, "d");
	CU_ASSERT_EQUAL(pa_setting_int(empty, "retries", 9, 0, 10, &n), 0);
	CU_ASSERT_EQUAL(n, 9);
	CU_ASSERT_EQUAL(pa_setting_bool(empty, "verbose", 0, &b), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_EQUAL(pa_setting_check_keys(empty, NULL, NULL), 0);
	pa_settings_empty_node_free(empty);
	provauth_settings_free(s);
}

/* ---- reference counting ---- */

static void *ref_worker(void *arg)
{
	const provauth_settings *s = arg;
	int i;

	for (i = 0; i < 20000; i++) {
		provauth_settings *r = pa_settings_ref(s);
		if (pa_settings_store(r)->busy_timeout_ms != 1234)
			return (void *)1;
		provauth_settings_free(r);
	}
	return NULL;
}

static void test_refcount(void)
{
	provauth_settings *s = parse_ok("store:\n  busy_timeout_ms: 1234\n");
	provauth_settings *r = pa_settings_ref(s);
	pthread_t th[4];
	void *res;
	size_t i;

	CU_ASSERT_PTR_EQUAL(r, s);
	CU_ASSERT_PTR_NULL(pa_settings_ref(NULL));
	provauth_settings_free(s);
	/* Still alive through the second reference (ASan would flag a use after free). */
	CU_ASSERT_EQUAL(pa_settings_store(r)->busy_timeout_ms, 1234);
	CU_ASSERT_STRING_EQUAL(provauth_settings_source(r), "t.yaml");

	for (i = 0; i < PA_ARRAY_LEN(th); i++)
		CU_ASSERT_EQUAL_FATAL(pthread_create(&th[i], NULL, ref_worker, r), 0);
	for (i = 0; i < PA_ARRAY_LEN(th); i++) {
		CU_ASSERT_EQUAL(pthread_join(th[i], &res), 0);
		CU_ASSERT_PTR_NULL(res);
	}
	CU_ASSERT_EQUAL(pa_settings_store(r)->busy_timeout_ms, 1234);
	provauth_settings_free(r);
	provauth_settings_free(NULL);
}

/* ---- files: load, warnings ---- */

static void test_load_and_warnings(void)
{
	static const char literal[] = "providers:\n  pixverse:\n    global_password: hunter2-literal\n";
	static const char from_env[] = "providers:\n  pixverse:\n    global_password: ${PA_T_PW}\n";
	static const char mixed[] = "providers:\n  pixverse:\n    global_password: pre-${PA_T_PW}\n";
	provauth_settings *s = NULL;
	const char *path;
	const char *w;

	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_PW", "env-pw", 1), 0);

	path = write_file("open.yaml", literal, strlen(literal), 0644);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_STRING_EQUAL(provauth_settings_source(s), path);
	CU_ASSERT_STRING_EQUAL(pa_settings_provider(s, "pixverse")->global_password, "hunter2-literal");
	CU_ASSERT_EQUAL_FATAL(provauth_settings_warning_count(s), 1);
	w = provauth_settings_warning(s, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(w);
	CU_ASSERT(has(w, path, __LINE__));
	CU_ASSERT(has(w, "providers.pixverse.global_password", __LINE__));
	CU_ASSERT(has(w, "0644", __LINE__));
	CU_ASSERT(has(w, "chmod 600", __LINE__));
	CU_ASSERT(has(w, "${VAR}", __LINE__));
	CU_ASSERT(lacks(w, "hunter2", __LINE__));
	CU_ASSERT_PTR_NULL(provauth_settings_warning(s, 1));
	provauth_settings_free(s);

	/* Readable by the group only: still a warning. */
	path = write_file("group.yaml", literal, strlen(literal), 0640);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 1);
	provauth_settings_free(s);

	path = write_file("private.yaml", literal, strlen(literal), 0600);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 0);
	provauth_settings_free(s);

	path = write_file("env.yaml", from_env, strlen(from_env), 0644);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_STRING_EQUAL(pa_settings_provider(s, "pixverse")->global_password, "env-pw");
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 0);
	provauth_settings_free(s);

	/* Part of the password written in the file still counts as written in the file. */
	path = write_file("mixed.yaml", mixed, strlen(mixed), 0644);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_STRING_EQUAL(pa_settings_provider(s, "pixverse")->global_password, "pre-env-pw");
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 1);
	provauth_settings_free(s);
}

/* Writes `text` as dir/name (dir under tmpdir, created with dir_mode), file mode `mode`; static path. */
static const char *write_in_dir(const char *dir, mode_t dir_mode, const char *name, const char *text, mode_t mode)
{
	static char rel[256];
	char d[256];

	snprintf(d, sizeof(d), "%s/%s", tmpdir, dir);
	if (mkdir(d, 0700) != 0)
		CU_ASSERT_FATAL(errno == EEXIST);
	CU_ASSERT_FATAL(chmod(d, dir_mode) == 0);
	snprintf(rel, sizeof(rel), "%s/%s", dir, name);
	return write_file(rel, text, strlen(text), mode);
}

/*
 * Settings other users can change decide where passwords go: a warning
 * when the file or its directory is writable by every user (sticky or not),
 * and a refusal when such a file holds a secret written literally.
 */
static void test_world_writable_settings(void)
{
	static const char plain[] = "log:\n  level: info\n";
	static const char literal_pw[] = "providers:\n  pixverse:\n    global_password: hunter2-literal\n";
	static const char literal_plugin_secret[] =
		"providers:\n  pixiv:\n    client_secret: \"sk-literal-77\"\n";
	static const char env_pw[] = "providers:\n  pixverse:\n    global_password: ${PA_T_WW}\n";
	provauth_settings *s = NULL;
	const char *path;

	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_WW", "from-env-pw", 1), 0);

	/* The file writable by all: a warning naming it and its mode. */
	path = write_in_dir("ww-safe", 0755, "a.yaml", plain, 0666);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_warning_count(s), 1);
	CU_ASSERT(has(provauth_settings_warning(s, 0), path, __LINE__));
	CU_ASSERT(has(provauth_settings_warning(s, 0), "other users can change", __LINE__));
	CU_ASSERT(has(provauth_settings_warning(s, 0), "0666", __LINE__));
	provauth_settings_free(s);
	/* ...refused with a password written in it, which is not shown. */
	path = write_in_dir("ww-safe", 0755, "b.yaml", literal_pw, 0622);
	CU_ASSERT_EQUAL(provauth_settings_load(&s, path), PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NULL(s);
	MSG_HAS(path);
	MSG_HAS(":3:22: providers.pixverse.global_password");
	MSG_HAS("other users can change");
	MSG_LACKS("hunter2");

	/* A directory writable by all, not sticky: the same for a private file in it. */
	path = write_in_dir("ww-dir", 0777, "c.yaml", plain, 0600);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_warning_count(s), 1);
	CU_ASSERT(has(provauth_settings_warning(s, 0), "ww-dir is writable by every user", __LINE__));
	provauth_settings_free(s);
	/* Any key that holds a secret, a plugin's too. */
	path = write_in_dir("ww-dir", 0777, "d.yaml", literal_plugin_secret, 0600);
	CU_ASSERT_EQUAL(provauth_settings_load(&s, path), PROVAUTH_ECONFIG);
	MSG_HAS("providers.pixiv.client_secret");
	MSG_LACKS("sk-literal-77");
	/* From the environment the secret is not in the file: a warning only. */
	path = write_in_dir("ww-dir", 0777, "e.yaml", env_pw, 0600);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_STRING_EQUAL(pa_settings_provider(s, "pixverse")->global_password, "from-env-pw");
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 1);
	provauth_settings_free(s);

	/* Sticky (like /tmp): another user may still have put the file there. */
	path = write_in_dir("ww-sticky", 01777, "f.yaml", literal_pw, 0600);
	CU_ASSERT_EQUAL(provauth_settings_load(&s, path), PROVAUTH_ECONFIG);
	MSG_HAS("1777");
	path = write_in_dir("ww-sticky", 01777, "g.yaml", plain, 0600);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 1);
	provauth_settings_free(s);

	/* Neither: no warning, and a literal password in a private file loads. */
	path = write_in_dir("private", 0755, "h.yaml", literal_pw, 0600);
	CU_ASSERT_EQUAL_FATAL(provauth_settings_load(&s, path), 0);
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 0);
	provauth_settings_free(s);
	CU_ASSERT_EQUAL(unsetenv("PA_T_WW"), 0);
}

static void test_load_errors(void)
{
	char big_path[300], *big;
	provauth_settings *s = NULL;
	const char *path;
	size_t n = (1u << 20) + 100;

	CU_ASSERT_EQUAL(provauth_settings_load(&s, NULL), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(s);
	MSG_HAS("path is NULL");

	snprintf(big_path, sizeof(big_path), "%s/does-not-exist.yaml", tmpdir);
	CU_ASSERT_EQUAL(provauth_settings_load(&s, big_path), PROVAUTH_ENOTFOUND);
	MSG_HAS(big_path);
	MSG_HAS("cannot open settings file");

	CU_ASSERT_EQUAL(provauth_settings_load(&s, tmpdir), PROVAUTH_ECONFIG);
	MSG_HAS(tmpdir);
	MSG_HAS("not a regular file");

	path = write_file("empty.yaml", "", 0, 0600);
	CU_ASSERT_EQUAL(provauth_settings_load(&s, path), PROVAUTH_ECONFIG);
	snprintf(big_path, sizeof(big_path), "%s: empty settings file", path);
	MSG_HAS(big_path);

	/* More than 1 MiB: refused before parsing (a valid YAML comment, so only size can fail). */
	big = malloc(n);
	CU_ASSERT_PTR_NOT_NULL_FATAL(big);
	memset(big, ' ', n);
	big[0] = '#';
	memcpy(big + n - 8, "\nlog: {}", 8);
	snprintf(big_path, sizeof(big_path), "%s", write_file("big.yaml", big, n, 0600));
	CU_ASSERT_EQUAL(provauth_settings_load(&s, big_path), PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NULL(s);
	MSG_HAS(big_path);
	MSG_HAS("too large (1048676 bytes; the limit is 1 MiB)");
	expect_bad(big, n, PROVAUTH_ECONFIG, NEEDLES("t.yaml: settings file is too large"), NULL, __LINE__);
	free(big);

	CU_ASSERT_EQUAL(provauth_settings_parse(&s, NULL, 3, "x"), PROVAUTH_EINVAL);
}

/* The shipped sample must load cleanly and use only known keys. */
static void test_sample_file(void)
{
	const char *srcdir = getenv("PA_SRCDIR");
	char path[1024];
	provauth_settings *s = NULL;
	size_t i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(srcdir);
	snprintf(path, sizeof(path), "%s/etc/provauth.yaml", srcdir);
	if (provauth_settings_load(&s, path) != 0)
		fprintf(stderr, "\n  %s\n", provauth_last_error());
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(provauth_settings_warning_count(s), 0);
	CU_ASSERT_STRING_EQUAL(pa_settings_store(s)->backend, "sqlite");
	CU_ASSERT_EQUAL(pa_settings_store(s)->busy_timeout_ms, 5000);
	CU_ASSERT_EQUAL(pa_settings_http(s)->max_reply_bytes, 1048576);
	CU_ASSERT_PTR_NOT_NULL(pa_settings_provider(s, "pixverse"));
	CU_ASSERT_PTR_NOT_NULL(pa_settings_provider(s, "pixiv"));
	/* The common keys are well typed; the plugins' own keys are checked against
	 * the real plugins by tests/cli/test_sample_settings.sh. */
	for (i = 0; i < pa_settings_provider_count(s); i++) {
		CU_ASSERT_EQUAL(pa_settings_provider_at(s, i)->reauth_cooldown, 300);
		CU_ASSERT_EQUAL(pa_settings_provider_at(s, i)->refresh_ahead, 300);
		CU_ASSERT_EQUAL(pa_settings_provider_at(s, i)->auto_reauth_enabled, 0);
	}
	provauth_settings_free(s);
}

/* ---- bad input, one case per line where possible ---- */

static void test_bad_structure(void)
{
	char deep[256], *many;
	size_t i, o = 0;

	BAD("", "t.yaml: empty settings file");
	BAD("# only a comment\n\n   \n", "t.yaml: empty settings file");
	BAD("---\n", "t.yaml: empty settings file");
	BAD("- a\n- b\n", "t.yaml:1:1: the top level must be a mapping", "got a sequence");
	BAD_SECRET("just-a-key-file-content\n", "just-a-key", "t.yaml:1:1: the top level must be a mapping",
	           "got a string");
	BAD("log: {}\n---\nlog: {}\n", "t.yaml:2:1: a second YAML document", "multiple documents are not supported");
	BAD("log: &l\n  level: info\nhttp: *l\n", "t.yaml:1:6: log: anchors and aliases are not supported");
	BAD("log: *undefined\n", "t.yaml:1:6: log: anchors and aliases are not supported");
	/* Billion laughs: refused at the first anchor, before any expansion. */
	BAD("a: &a [\"lol\",\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\n",
	    "t.yaml:1:4: a: anchors and aliases are not supported");
	BAD("log: !!map {}\n", "t.yaml:1:6: log: YAML tags (!...) are not supported");
	BAD("? [a]\n: b\n", "t.yaml:1:3: a key must be a plain name, not a sequence");

	/* 40 levels of flow sequences under plugin_dir. */
	o = (size_t)snprintf(deep, sizeof(deep), "plugin_dir: ");
	for (i = 0; i < 40; i++)
		deep[o++] = '[';
	for (i = 0; i < 40; i++)
		deep[o++] = ']';
	deep[o++] = '\n';
	deep[o] = '\0';
	BAD(deep, "t.yaml:1:44: plugin_dir[0][0][0]", "nesting is deeper than 32 levels");

	/* 70000 values in one flow sequence. */
	many = malloc(200000);
	CU_ASSERT_PTR_NOT_NULL_FATAL(many);
	o = (size_t)snprintf(many, 200000, "plugin_dir: [");
	for (i = 0; i < 70000; i++)
		many[o++] = 'a', many[o++] = ',';
	many[o++] = ']';
	many[o] = '\0';
	BAD(many, "t.yaml:1:", "more than 65536 values");
	free(many);
}

static void test_bad_syntax(void)
{
	static const char elf[] = "\x7f" "ELF\x02\x01\x01\0\0\0\0\0\0\0\0\0\x03\0>\0";
	static const char garbage[] = "log: {}\n\xff\xfe\x80\x81 garbage\n";

	BAD("store:\n\tpath: /x\n", "t.yaml:2:1: invalid YAML",
	    "tabs cannot be used for indentation in YAML, indent with spaces");
	BAD("store:\n  path: /x\n\tbusy_timeout_ms: 1\n", "t.yaml:3:1:", "tabs cannot be used for indentation");
	BAD("store:\n  path: \"/var/lib/x.db\n  backend: sqlite\n",
	    "t.yaml:2:9: unterminated quoted string", "never closed");
	BAD("store:\n  path: '/var/lib/x.db\n", "t.yaml:2:9: unterminated quoted string");
	BAD("store: [a, b\n", "t.yaml:2:1: invalid YAML", "did not find expected ',' or ']'",
	    "started at line 1, column 8");
	BAD("log: level: info\n", "t.yaml:1:11: invalid YAML", "mapping values are not allowed");
	expect_bad(elf, sizeof(elf) - 1, PROVAUTH_ECONFIG,
	           NEEDLES("t.yaml:1:8: the file contains a NUL byte", "binary file"), NULL, __LINE__);
	BAD(garbage, "t.yaml:2:1: not a text settings file", "binary file");
	BAD("log: \x01\n", "t.yaml:1:6: not a text settings file", "control characters are not allowed");
	BAD("store:\n  path: \"a\\0b\"\n", "t.yaml:2:9: store.path: NUL characters are not allowed");
}

static void test_bad_keys(void)
{
	BAD("provider:\n  pixverse: {}\n", "t.yaml:1:1: provider: unknown key; did you mean 'providers'?");
	BAD("store:\n  busy_timeout: 5\n",
	    "t.yaml:2:3: store.busy_timeout: unknown key; did you mean 'busy_timeout_ms'?");
	BAD("http:\n  timeout: 5\n", "t.yaml:2:3: http.timeout: unknown key; did you mean 'timeout_ms'?");
	BAD("log:\n  colour: red\n", "t.yaml:2:3: log.colour: unknown key (expected one of: level, format)");
	BAD("Store: {}\n", "t.yaml:1:1: Store: unknown key; did you mean 'store'?");
	BAD("session:\n  lease_ttl: 5\n", "session.lease_ttl: unknown key; did you mean 'lease_ttl_ms'?");
	BAD("log:\n  level: info\nlog:\n  level: debug\n",
	    "t.yaml:3:1: log: duplicate key: first defined at line 1, again at line 3");
	BAD("providers:\n  pixverse:\n    login_cooldown: 5\n    refresh_ahead: 5\n    login_cooldown: 6\n",
	    "t.yaml:5:5: providers.pixverse.login_cooldown: duplicate key: first defined at line 3, again at line 5");
	BAD("providers:\n  a: {}\n  b: {}\n  a: {}\n", "t.yaml:4:3: providers.a: duplicate key");
	BAD("providers:\n  PixVerse: {}\n", "t.yaml:2:3: providers.PixVerse: invalid provider id");
	BAD("providers:\n  \"pix verse\": {}\n", "providers.pix verse: invalid provider id");
	BAD("providers:\n  \"\": {}\n", "t.yaml:2:3: providers.: invalid provider id");
	BAD("\"log\\x01\": 1\n", "t.yaml:1:1: log\\x01: unknown key");
}

static void test_bad_types(void)
{
	BAD("plugin_dir: 5\n", "t.yaml:1:13: plugin_dir: expected a directory, got '5'",
	    "write it in quotes");
	BAD("plugin_dir:\n  a: b\n", "t.yaml:2:3: plugin_dir: expected a directory or a list of directories, got a mapping");
	BAD("plugin_dir:\n  - /a\n  - {x: 1}\n", "t.yaml:3:5: plugin_dir[1]: expected a directory, got a mapping");
	BAD("plugin_dir: ['']\n", "t.yaml:1:14: plugin_dir[0]: a directory name must not be empty");
	BAD("store: sqlite\n", "t.yaml:1:8: store: expected a mapping of settings", "got a string");
	BAD("store:\n  path:\n    a: b\n", "t.yaml:3:5: store.path: expected a file name, got a mapping");
	BAD("store:\n  path: [a]\n", "t.yaml:2:9: store.path: expected a file name, got a sequence");
	BAD("store:\n  path: true\n", "store.path: expected a file name, got 'true', which YAML reads as a boolean");
	BAD("store:\n  path: \"\"\n", "t.yaml:2:9: store.path: a file name must not be empty");
	BAD("store:\n  backend: mysql\n", "t.yaml:2:12: store.backend: expected one of sqlite, memory, postgres, got 'mysql'");
	BAD("store:\n  busy_timeout_ms: soon\n",
	    "t.yaml:2:20: store.busy_timeout_ms: expected an integer number of milliseconds, got 'soon'");
	BAD("store:\n  busy_timeout_ms: 600001\n",
	    "t.yaml:2:20: store.busy_timeout_ms: must be between 0 and 600000, got '600001'");
	BAD("log:\n  level: verbose\n",
	    "t.yaml:2:10: log.level: expected one of debug, info, warn, error, got 'verbose'");
	BAD("log:\n  format: xml\n", "log.format: expected one of json, text, got 'xml'");
	BAD("log: [debug]\n", "t.yaml:1:6: log: expected a mapping of settings", "got a sequence");
	BAD("http:\n  timeout_ms: 0\n", "t.yaml:2:15: http.timeout_ms: must be between 1 and 3600000, got '0'");
	BAD("http:\n  max_reply_bytes: 99999999999999999999999\n",
	    "http.max_reply_bytes: must be between 1024 and 1073741824, got '99999999999999999999999'");
	BAD("http:\n  max_reply_bytes: 1e6\n",
	    "http.max_reply_bytes: expected an integer number of bytes, got '1e6'");
	BAD("http:\n  connect_timeout_ms: 0x10\n", "expected an integer number of milliseconds, got '0x10'");
	BAD("http:\n  connect_timeout_ms: 010\n", "expected an integer number of milliseconds, got '010'");
	BAD("http:\n  ca_file: {}\n", "t.yaml:2:12: http.ca_file: expected a file name, got a mapping");
	BAD("session:\n  lease_ttl_ms: 1.5\n",
	    "t.yaml:2:17: session.lease_ttl_ms: expected an integer number of milliseconds, got '1.5'");
	BAD("session:\n  lease_ttl_ms: 100ms\n", "session.lease_ttl_ms: expected an integer number of milliseconds, got '100ms'");
	BAD("session:\n  lease_ttl_ms: \"500\"\n",
	    "session.lease_ttl_ms: expected an integer number of milliseconds, got the quoted string '500'",
	    "write numbers without quotes");
	BAD("session:\n  lease_ttl_ms: 99\n", "session.lease_ttl_ms: must be between 100 and 3600000, got '99'");
	BAD("session:\n  recovery_wait_ms: -1\n", "must be between 0 and 3600000, got '-1'");
	BAD("providers: [pixverse]\n", "t.yaml:1:12: providers: expected a mapping of provider ids");
	BAD("providers:\n  pixverse: yes\n",
	    "t.yaml:2:13: providers.pixverse: expected a mapping of provider settings, got a string");
	BAD("providers:\n  pixverse:\n    reauth_cooldown: -5\n",
	    "t.yaml:3:22: providers.pixverse.reauth_cooldown: must be between 0 and 86400, got '-5'");
	BAD("# pixverse\n\nlog:\n  level: info\nproviders:\n  pixverse:\n    reauth_cooldown: soon\n",
	    "t.yaml:7:22: providers.pixverse.reauth_cooldown: expected an integer number of seconds, got 'soon'");
	BAD("providers:\n  pixverse:\n    refresh_ahead: 86401\n", "providers.pixverse.refresh_ahead: must be between 0 and 86400");
	BAD("providers:\n  pixverse:\n    login_cooldown: [1]\n",
	    "providers.pixverse.login_cooldown: expected an integer number of seconds, got a sequence");
	BAD("providers:\n  pixverse:\n    auto_reauth_enabled: maybe\n",
	    "t.yaml:3:26: providers.pixverse.auto_reauth_enabled: expected true or false, got 'maybe'");
	BAD("providers:\n  pixverse:\n    auto_reauth_enabled: \"true\"\n",
	    "providers.pixverse.auto_reauth_enabled: expected true or false, got the quoted string 'true'",
	    "write booleans without quotes");
	BAD("providers:\n  pixverse:\n    auto_reauth_enabled: 1\n", "expected true or false, got '1'");
}

static void test_bad_env_and_secrets(void)
{
	CU_ASSERT_EQUAL_FATAL(unsetenv("PA_T_UNSET"), 0);
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_SOON", "soonish-value", 1), 0);

	BAD("providers:\n  pixverse:\n    global_password: ${PA_T_UNSET}\n",
	    "t.yaml:3:22: providers.pixverse.global_password: environment variable PA_T_UNSET is not set");
	BAD("store:\n  path: /x/${PA_T_UNSET}/y\n",
	    "t.yaml:2:9: store.path: environment variable PA_T_UNSET is not set");
	/* Variables are looked up in plugin keys too. */
	BAD("providers:\n  pixiv:\n    token_url: ${PA_T_UNSET}\n",
	    "providers.pixiv.token_url: environment variable PA_T_UNSET is not set");
	BAD_SECRET("providers:\n  pixverse:\n    global_password: hunter2${oops\n", "hunter2",
	           "t.yaml:3:22: providers.pixverse.global_password: unterminated '${'", "$${");
	BAD_SECRET("store:\n  path: /a/${1X}\n", "1X", "t.yaml:2:9: store.path: '${...}' must hold an environment variable name");
	BAD("store:\n  path: /a/${}\n", "store.path: '${...}' must hold an environment variable name");

	/* Bad types for the secret key never show the value. */
	BAD_SECRET("providers:\n  pixverse:\n    global_password: [hunter2]\n", "hunter2",
	           "t.yaml:3:22: providers.pixverse.global_password: expected a string, got a sequence");
	BAD_SECRET("providers:\n  pixverse:\n    global_password: {hunter2: x}\n", "hunter2",
	           "providers.pixverse.global_password: expected a string, got a mapping");
	BAD_SECRET("providers:\n  pixverse:\n    global_password: 987654321\n", "987654321",
	           "providers.pixverse.global_password: expected a string", "reads as a number",
	           "write it in quotes");
	/* Values from the environment are never shown. */
	BAD_SECRET("providers:\n  pixverse:\n    reauth_cooldown: ${PA_T_SOON}\n", "soonish",
	           "t.yaml:3:22: providers.pixverse.reauth_cooldown: expected an integer number of seconds",
	           "from the environment (not shown)");
	CU_ASSERT_EQUAL_FATAL(setenv("PA_T_SOON", "999999", 1), 0);
	BAD_SECRET("providers:\n  pixverse:\n    reauth_cooldown: ${PA_T_SOON}\n", "999999",
	           "providers.pixverse.reauth_cooldown: must be between 0 and 86400");
	BAD_SECRET("log:\n  level: ${PA_T_SOON}\n", "999999", "log.level: expected one of debug");
}

static void test_pool_settings(void)
{
	provauth_settings *s = parse_ok("{}\n");

	CU_ASSERT_EQUAL(pa_settings_pool(s)->default_slots, 0);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->concurrency_cooldown, 6);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->session_cooldown, 300);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->cap_probe_interval, 150);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->reservation_ttl, 7200);
	provauth_settings_free(s);
	s = parse_ok("pool:\n  default_slots: 5\n  concurrency_cooldown: 0\n  session_cooldown: 60\n"
	             "  cap_probe_interval: 30\n  reservation_ttl: 600\n");
	CU_ASSERT_EQUAL(pa_settings_pool(s)->default_slots, 5);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->concurrency_cooldown, 0);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->session_cooldown, 60);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->cap_probe_interval, 30);
	CU_ASSERT_EQUAL(pa_settings_pool(s)->reservation_ttl, 600);
	provauth_settings_free(s);
	BAD("pool:\n  default_slots: 1001\n", "t.yaml:2:", "pool.default_slots", "1000");
	BAD("pool:\n  reservation_ttl: 10\n", "pool.reservation_ttl", "60");
	BAD("pool:\n  slots: 2\n", "pool", "slots");
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "defaults", test_defaults },
		{ "pool settings", test_pool_settings },
		{ "full file", test_full_file },
		{ "booleans", test_booleans },
		{ "number forms", test_number_forms },
		{ "postgres store", test_postgres_store },
		{ "postgres store refusals", test_postgres_store_refusals },
		{ "env expansion", test_env_expansion },
		{ "env expansion is bounded", test_env_expansion_bounded },
		{ "env escape", test_env_escape },
		{ "text forms", test_text_forms },
		{ "plugin_dir forms", test_plugin_dir_forms },
		{ "provider blocks", test_provider_blocks },
		{ "setting lookups", test_setting_lookups },
		{ "refcount", test_refcount },
		{ "load and warnings", test_load_and_warnings },
		{ "load errors", test_load_errors },
		{ "world-writable settings", test_world_writable_settings },
		{ "sample file", test_sample_file },
		{ "bad structure", test_bad_structure },
		{ "bad syntax", test_bad_syntax },
		{ "bad keys", test_bad_keys },
		{ "bad types", test_bad_types },
		{ "bad env and secrets", test_bad_env_and_secrets },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "settings", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
