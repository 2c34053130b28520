/*
 * ${NAME} in settings values: the environment's part of the YAML reader.
 * Values built here may be passwords, so every buffer is wiped before it
 * is freed and no message quotes what a variable holds.
 */
#include "config.h"
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include "settings/yaml_tree.h"

const char *pa_settings_getenv(const char *name)
{
#ifdef HAVE_SECURE_GETENV
	return secure_getenv(name);
#else
	return getenv(name);
#endif
}

/* A growable buffer that never leaves copies of its contents behind. */
typedef struct sbuf {
	char *p;
	size_t len, cap;
} sbuf;

static int sbuf_add(sbuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *q = malloc(cap);
		if (!q)
			return pa_error_oom();
		if (b->p) {
			memcpy(q, b->p, b->len);
			pa_wipe(b->p, b->cap);
			free(b->p);
		}
		b->p = q, b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static void sbuf_wipe(sbuf *b)
{
	if (b->p) {
		pa_wipe(b->p, b->cap);
		free(b->p);
	}
	b->p = NULL, b->len = b->cap = 0;
}

/*
 * ${NAME} expansion. "$${" stands for a literal "${"; any other '$' is
 * itself. Messages never quote the value: it may be a password that
 * happens to contain "${".
 *
 * The values of a whole file together are bounded like the file itself
 * (PA_YAML_MAX_BYTES): without that, a small file naming a big variable
 * thousands of times expands into gigabytes before anything looks at it.
 */
int pa_expand_env(provauth_setting *n, const char *raw, size_t len, size_t *expanded)
{
	sbuf b = { NULL, 0, 0 };
	size_t i = 0;
	int rc = 0;

	while (i < len && !rc) {
		const char *end, *val;
		char name[256];
		size_t nlen, k, vlen;

		if (raw[i] == '$' && i + 2 < len && raw[i + 1] == '$' && raw[i + 2] == '{') {
			rc = sbuf_add(&b, "${", 2);
			n->literal = 1;
			i += 3;
			continue;
		}
		if (!(raw[i] == '$' && i + 1 < len && raw[i + 1] == '{')) {
			rc = sbuf_add(&b, raw + i, 1);
			n->literal = 1;
			i++;
			continue;
		}
		if (!(end = memchr(raw + i + 2, '}', len - i - 2))) {
			rc = node_fail(n, "unterminated '${' in the value (close it with '}', "
			               "or write '$${' for a literal '${')");
			break;
		}
		nlen = (size_t)(end - (raw + i + 2));
		for (k = 0; k < nlen; k++) {
			char c = raw[i + 2 + k];
			if (!(c == '_' || isalpha((unsigned char)c) || (k && isdigit((unsigned char)c))))
				break;
		}
		if (!nlen || k < nlen || nlen >= sizeof(name)) {
			rc = node_fail(n, "'${...}' must hold an environment variable name (letters, "
			               "digits and '_'); write '$${' for a literal '${'");
			break;
		}
		memcpy(name, raw + i + 2, nlen);
		name[nlen] = '\0';
		if (!(val = pa_settings_getenv(name))) {
			rc = node_fail(n, "environment variable %s is not set", name);
			break;
		}
		vlen = strlen(val);
		/* Literal text may have brought the sum past the bound already. */
		if (*expanded + b.len > PA_YAML_MAX_BYTES || vlen > PA_YAML_MAX_BYTES - *expanded - b.len) {
			rc = node_fail(n, "the values expanded from ${...} exceed 1 MiB in all (here from "
			               "environment variable %s); settings are bounded like the file", name);
			break;
		}
		rc = sbuf_add(&b, val, vlen);
		n->from_env = 1;
		i += nlen + 3;
	}
	if (!rc && !b.p)
		rc = sbuf_add(&b, "", 0);
	if (rc) {
		sbuf_wipe(&b);
		return rc;
	}
	*expanded += b.len;
	n->value = b.p;
	return 0;
}

