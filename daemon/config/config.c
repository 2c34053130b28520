/*
 * The daemon: block of the settings file. provauthd has no file of its own:
 * one file, checked once for its owner and mode by the library, holds the
 * store, the providers and the daemon, and every message names the place
 * in it ("FILE:LINE:COL: daemon.tokens[0].sha256: ...").
 *
 * Tokens are listed as SHA-256 hashes: the settings file, its backups and
 * whoever reads them never hold a usable token (`provauthd --hash-token`
 * prints the hash of a token read on stdin).
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "daemon.h"

static const char *const daemon_keys[] = {
	"listen", "socket_mode", "tls_certificate", "tls_key", "tokens", "max_body", "max_connections",
	"rate", "burst", "auth_failures_per_minute", "connection_timeout", "threads", "drain_timeout", "state_dir",
	"ready_file", "ad_task_max_age", "keeper", "webhook", NULL
};
static const char *const token_keys[] = { "name", "sha256", "scope", NULL };
static const char *const keeper_keys[] = {
	"enabled", "max_idle", "refresh_ahead", "credit_sync", "jitter_percent", "concurrency",
	"rate_per_provider", "lease_ttl_ms", "time_scale", "scan_interval_ms", NULL
};
static const char *const webhook_keys[] = {
	"url", "secret", "timeout_ms", "retries", "backoff_ms", "max_backoff_ms", "dead_letter", NULL
};

#define DAY (24 * 3600)

const char *pad_scope_name(pad_scope s)
{
	switch (s) {
	case PAD_SCOPE_NONE: return "none";
	case PAD_SCOPE_READ: return "read";
	case PAD_SCOPE_OPERATE: return "operate";
	case PAD_SCOPE_ADMIN: return "admin";
	}
	return "none";
}

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* A string setting copied into *out (NULL when absent); ENOMEM-safe. */
static int read_string(char **out, const provauth_setting *map, const char *key, const char *def)
{
	const char *v;
	int rc;

	if ((rc = provauth_setting_get_string(&v, map, key, def)) < 0)
		return rc;
	if (v && !*v)
		return provauth_setting_fail(map, key, "must not be empty");
	*out = dup_or_null(v);
	if (v && !*out)
		return PROVAUTH_ENOMEM;
	return 0;
}

static int hex_nibble(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

static int read_token(pad_token *t, const provauth_setting *item, size_t index, const pad_config *c)
{
	const char *name, *hash, *scope;
	size_t i;
	int rc;

	if (!provauth_setting_is_map(item))
		return provauth_setting_fail(item, "name", "daemon.tokens[%zu] must be a mapping with name, "
		                             "sha256 and scope", index);
	if ((rc = provauth_setting_check_keys(item, token_keys)) < 0 ||
	    (rc = provauth_setting_get_string(&name, item, "name", NULL)) < 0 ||
	    (rc = provauth_setting_get_string(&hash, item, "sha256", NULL)) < 0 ||
	    (rc = provauth_setting_get_string(&scope, item, "scope", NULL)) < 0)
		return rc;
	if (!name || !*name)
		return provauth_setting_fail(item, "name", "every token needs a name (shown in logs and metrics)");
	for (i = 0; name[i]; i++)
		if (!isalnum((unsigned char)name[i]) && !strchr("-_.", name[i]))
			return provauth_setting_fail(item, "name", "use letters, digits, '-', '_' and '.' only");
	for (i = 0; i < index; i++)
		if (strcmp(c->tokens[i].name, name) == 0)
			return provauth_setting_fail(item, "name", "another token is already named '%s'", name);
	if (!hash || strlen(hash) != 64)
		return provauth_setting_fail(item, "sha256", "expected the 64 hex digits of the token's SHA-256 "
		                             "(provauthd --hash-token prints them), never the token itself");
	for (i = 0; i < 32; i++) {
		int hi = hex_nibble(hash[2 * i]), lo = hex_nibble(hash[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return provauth_setting_fail(item, "sha256", "expected 64 hex digits");
		t->sha256[i] = (unsigned char)(hi << 4 | lo);
	}
	if (!scope || strcmp(scope, "read") == 0)
		t->scope = scope ? PAD_SCOPE_READ : PAD_SCOPE_NONE;
	else if (strcmp(scope, "operate") == 0)
		t->scope = PAD_SCOPE_OPERATE;
	else if (strcmp(scope, "admin") == 0)
		t->scope = PAD_SCOPE_ADMIN;
	else
		t->scope = PAD_SCOPE_NONE;
	if (t->scope == PAD_SCOPE_NONE)
		return provauth_setting_fail(item, "scope", "expected read, operate or admin");
	if (!(t->name = strdup(name)))
		return PROVAUTH_ENOMEM;
	return 0;
}

static int read_tokens(pad_config *c, const provauth_setting *block)
{
	const provauth_setting *const *items;
	size_t n, i;
	int rc;

	if ((rc = provauth_setting_get_list(&items, &n, block, "tokens")) < 0)
		return rc;
	if (n > PAD_MAX_TOKENS)
		return provauth_setting_fail(block, "tokens", "at most %d tokens", PAD_MAX_TOKENS);
	for (i = 0; i < n; i++) {
		if ((rc = read_token(&c->tokens[i], items[i], i, c)) < 0)
			return rc;
		c->ntokens = i + 1;
	}
	return 0;
}

/* "127.0.0.1:8750", "[::1]:8750" or "unix:/run/provauthd/provauthd.sock". */
static int read_listen(pad_config *c, const provauth_setting *block)
{
	const char *v, *colon;
	char *end;
	long port;
	int rc;

	if ((rc = provauth_setting_get_string(&v, block, "listen", "127.0.0.1:8750")) < 0)
		return rc;
	if (!(c->listen = strdup(v)))
		return PROVAUTH_ENOMEM;
	if (strncmp(v, "unix:", 5) == 0) {
		if (v[5] != '/')
			return provauth_setting_fail(block, "listen", "a Unix socket path must be absolute (unix:/run/...)");
		if (strlen(v + 5) >= 100)
			return provauth_setting_fail(block, "listen", "the socket path is longer than a Unix socket allows");
		return (c->unix_path = strdup(v + 5)) ? 0 : PROVAUTH_ENOMEM;
	}
	if (v[0] == '[') {
		const char *close = strchr(v, ']');
		if (!close || close[1] != ':')
			return provauth_setting_fail(block, "listen", "expected [ADDRESS]:PORT");
		c->host = strndup(v + 1, (size_t)(close - v - 1));
		colon = close + 1;
	} else {
		if (!(colon = strrchr(v, ':')) || colon == v)
			return provauth_setting_fail(block, "listen", "expected ADDRESS:PORT or unix:/PATH");
		c->host = strndup(v, (size_t)(colon - v));
	}
	if (!c->host)
		return PROVAUTH_ENOMEM;
	errno = 0;
	port = strtol(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port < 0 || port > 65535)
		return provauth_setting_fail(block, "listen", "the port must be a number from 0 to 65535");
	c->port = (int)port;
	return 0;
}

/* A file mode, written in quotes as octal ("0660"): YAML would read 0660 as a number. */
static int read_mode(int64_t *out, const provauth_setting *map, const char *key, int64_t def)
{
	const char *v;
	char *end;
	long mode;
	int rc;

	*out = def;
	if ((rc = provauth_setting_get_string(&v, map, key, NULL)) < 0 || !v)
		return rc;
	errno = 0;
	mode = strtol(v, &end, 8);
	if (errno || *end || end == v || v[0] != '0' || mode < 0 || mode > 0777)
		return provauth_setting_fail(map, key, "expected an octal file mode in quotes, e.g. \"0660\"");
	*out = mode;
	return 0;
}

static int read_keeper(pad_keeper_config *k, const provauth_setting *block)
{
	const provauth_setting *m;
	int rc;

	if ((rc = provauth_setting_get_map(&m, block, "keeper", keeper_keys)) < 0)
		return rc;
	if ((rc = provauth_setting_get_bool(&k->enabled, m, "enabled", 1)) < 0 ||
	    (rc = provauth_setting_get_int(&k->max_idle, m, "max_idle", DAY, 60, 30 * DAY)) < 0 ||
	    (rc = provauth_setting_get_int(&k->refresh_ahead, m, "refresh_ahead", 600, 1, DAY)) < 0 ||
	    (rc = provauth_setting_get_int(&k->credit_sync, m, "credit_sync", 3600, 60, 30 * DAY)) < 0 ||
	    (rc = provauth_setting_get_int(&k->jitter_percent, m, "jitter_percent", 10, 0, 50)) < 0 ||
	    (rc = provauth_setting_get_int(&k->concurrency, m, "concurrency", 4, 1, 64)) < 0 ||
	    (rc = provauth_setting_get_int(&k->rate_per_provider, m, "rate_per_provider", 5, 1, 10000)) < 0 ||
	    (rc = provauth_setting_get_int(&k->lease_ttl_ms, m, "lease_ttl_ms", 60000, 1000, 3600000)) < 0 ||
	    (rc = provauth_setting_get_int(&k->time_scale, m, "time_scale", 1, 1, 100000)) < 0 ||
	    (rc = provauth_setting_get_int(&k->scan_interval_ms, m, "scan_interval_ms", 5000, 10, 3600000)) < 0)
		return rc;
	return 0;
}

static int read_webhook(pad_webhook_config *w, const provauth_setting *block)
{
	const provauth_setting *m;
	int rc;

	if ((rc = provauth_setting_get_map(&m, block, "webhook", webhook_keys)) < 0)
		return rc;
	if ((rc = read_string(&w->url, m, "url", NULL)) < 0 ||
	    (rc = read_string(&w->secret, m, "secret", NULL)) < 0 ||
	    (rc = read_string(&w->dead_letter, m, "dead_letter", NULL)) < 0 ||
	    (rc = provauth_setting_get_int(&w->timeout_ms, m, "timeout_ms", 10000, 100, 600000)) < 0 ||
	    (rc = provauth_setting_get_int(&w->retries, m, "retries", 5, 0, 100)) < 0 ||
	    (rc = provauth_setting_get_int(&w->backoff_ms, m, "backoff_ms", 1000, 1, 3600000)) < 0 ||
	    (rc = provauth_setting_get_int(&w->max_backoff_ms, m, "max_backoff_ms", 300000, 1, 86400000)) < 0)
		return rc;
	if (w->url && strncmp(w->url, "http://", 7) != 0 && strncmp(w->url, "https://", 8) != 0)
		return provauth_setting_fail(m, "url", "expected an http:// or https:// URL");
	if (w->url && !w->secret)
		return provauth_setting_fail(m, "secret", "a webhook needs a secret to sign its deliveries with");
	if (w->secret && strlen(w->secret) < 16)
		return provauth_setting_fail(m, "secret", "use at least 16 characters");
	if (w->max_backoff_ms < w->backoff_ms)
		return provauth_setting_fail(m, "max_backoff_ms", "must not be below backoff_ms");
	return 0;
}

static int read_config(pad_config *c, const provauth_setting *block)
{
	int rc;

	if ((rc = provauth_setting_check_keys(block, daemon_keys)) < 0 ||
	    (rc = read_listen(c, block)) < 0 ||
	    (rc = read_mode(&c->socket_mode, block, "socket_mode", 0660)) < 0 ||
	    (rc = read_string(&c->tls_certificate, block, "tls_certificate", NULL)) < 0 ||
	    (rc = read_string(&c->tls_key, block, "tls_key", NULL)) < 0 ||
	    (rc = read_tokens(c, block)) < 0 ||
	    (rc = provauth_setting_get_int(&c->max_body, block, "max_body", 1 << 20, 1024, 64 << 20)) < 0 ||
	    (rc = provauth_setting_get_int(&c->max_connections, block, "max_connections", 256, 1, 65536)) < 0 ||
	    (rc = provauth_setting_get_int(&c->rate, block, "rate", 50, 0, 1000000)) < 0 ||
	    (rc = provauth_setting_get_int(&c->burst, block, "burst", 100, 1, 1000000)) < 0 ||
	    (rc = provauth_setting_get_int(&c->auth_failures_per_minute, block, "auth_failures_per_minute", 10, 0,
	                                   100000)) < 0 ||
	    (rc = provauth_setting_get_int(&c->connection_timeout, block, "connection_timeout", 30, 1, 3600)) < 0 ||
	    (rc = provauth_setting_get_int(&c->threads, block, "threads", 16, 1, 256)) < 0 ||
	    (rc = provauth_setting_get_int(&c->drain_timeout, block, "drain_timeout", 30, 0, 3600)) < 0 ||
	    (rc = read_string(&c->state_dir, block, "state_dir", NULL)) < 0 ||
	    (rc = read_string(&c->ready_file, block, "ready_file", NULL)) < 0 ||
	    (rc = provauth_setting_get_int(&c->ad_task_max_age, block, "ad_task_max_age", 300, 0, 86400)) < 0 ||
	    (rc = read_keeper(&c->keeper, block)) < 0 ||
	    (rc = read_webhook(&c->webhook, block)) < 0)
		return rc;
	if (!c->tls_certificate != !c->tls_key)
		return provauth_setting_fail(block, c->tls_key ? "tls_certificate" : "tls_key",
		                             "TLS needs both tls_certificate and tls_key");
	if (c->tls_certificate && c->unix_path)
		return provauth_setting_fail(block, "tls_certificate", "TLS is for TCP; a Unix socket is guarded "
		                             "by its file mode");
	if (c->socket_mode & 0007)
		return provauth_setting_fail(block, "socket_mode", "others must not reach the socket (mode %04o)",
		                             (unsigned)c->socket_mode);
	return 0;
}

int pad_config_load(pad_config **out, const provauth_settings *settings)
{
	pad_config *c;
	int rc;

	*out = NULL;
	if (!(c = calloc(1, sizeof(*c))))
		return PROVAUTH_ENOMEM;
	if ((rc = read_config(c, provauth_settings_block(settings, "daemon"))) < 0) {
		pad_config_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

void pad_config_free(pad_config *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->ntokens; i++)
		free(c->tokens[i].name);
	free(c->listen);
	free(c->unix_path);
	free(c->host);
	free(c->tls_certificate);
	if (c->tls_key)
		OPENSSL_cleanse(c->tls_key, strlen(c->tls_key));
	free(c->tls_key);
	free(c->state_dir);
	free(c->ready_file);
	free(c->webhook.url);
	if (c->webhook.secret)
		OPENSSL_cleanse(c->webhook.secret, strlen(c->webhook.secret));
	free(c->webhook.secret);
	free(c->webhook.dead_letter);
	free(c);
}

/*
 * Every listed token is compared, match or not, so the time taken says
 * nothing about which hash (or how much of it) a guess came close to.
 */
const pad_token *pad_config_find_token(const pad_config *c, const char *bearer, size_t len)
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	const pad_token *found = NULL;
	size_t i;

	if (!c || !bearer || len == 0)
		return NULL;
	if (!EVP_Digest(bearer, len, digest, &dlen, EVP_sha256(), NULL) || dlen != sizeof(digest))
		return NULL;
	for (i = 0; i < c->ntokens; i++)
		if (CRYPTO_memcmp(digest, c->tokens[i].sha256, sizeof(digest)) == 0 && !found)
			found = &c->tokens[i];
	OPENSSL_cleanse(digest, sizeof(digest));
	return found;
}
