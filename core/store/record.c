/*
 * Encoding and decoding of the sealed part of an account record (see
 * record.h): version 2, one list of credentials, is what is written;
 * version 1, fixed tags for Pixverse's fields, is still read so that stores
 * written before it open and lose nothing.
 */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store/record.h"

/* Version 1's tags. */
enum {
	TAG_PASSWORD = 1,
	TAG_JWT_TOKEN = 2,
	TAG_REFRESH_TOKEN = 3,
	TAG_ACCESS_TOKEN = 4,
	TAG_COOKIE = 5,
	TAG_API_KEY = 6
};

/* ---- encoding ---- */

typedef struct writer {
	unsigned char *buf;
	size_t len;
} writer;

static int str_size(size_t *total, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > UINT32_MAX || *total > SIZE_MAX - 4 - n)
		return pa_error_set(PROVAUTH_EINVAL, "secrets record: a value is too large");
	*total += 4 + n;
	return 0;
}

static void put_byte(writer *w, unsigned char b)
{
	if (w->buf)
		w->buf[w->len] = b;
	w->len++;
}

/* NULL is written as "": account_dup turns NULL cookie values into "" too. */
static void put_str(writer *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (w->buf) {
		w->buf[w->len] = (unsigned char)(n >> 24);
		w->buf[w->len + 1] = (unsigned char)(n >> 16);
		w->buf[w->len + 2] = (unsigned char)(n >> 8);
		w->buf[w->len + 3] = (unsigned char)n;
		memcpy(w->buf + w->len + 4, s ? s : "", n);
	}
	w->len += 4 + n;
}

static void put_int64(writer *w, int64_t v)
{
	uint64_t u = (uint64_t)v;
	int shift;

	for (shift = 56; shift >= 0; shift -= 8)
		put_byte(w, (unsigned char)(u >> shift));
}

/* Version 2: per credential, kind | name | value | expires_at (8 bytes, big-endian, signed). */
static int credential_size(size_t *total, const provauth_credential *c)
{
	int rc;

	if ((rc = str_size(total, c->kind)) < 0 || (rc = str_size(total, c->name)) < 0 ||
	    (rc = str_size(total, c->value)) < 0)
		return rc;
	if (*total > SIZE_MAX - 8)
		return pa_error_set(PROVAUTH_EINVAL, "secrets record: a value is too large");
	*total += 8;
	return 0;
}

static void put_credential(writer *w, const provauth_credential *c)
{
	put_str(w, c->kind);
	put_str(w, c->name);
	put_str(w, c->value);
	put_int64(w, c->expires_at);
}

int pa_record_encode(unsigned char **out, size_t *out_len, const provauth_account *a)
{
	writer w = { NULL, 0 };
	size_t total = 1, i, n = provauth_account_credential_count(a);
	provauth_credential c;
	int rc;

	*out = NULL;
	*out_len = 0;
	/* Sizes are checked first so the buffer is allocated once: no realloc leaves secret copies behind. */
	for (i = 0; i < n; i++) {
		if ((rc = provauth_account_credential_at(&c, a, i)) < 0)
			return rc;
		if (!c.name)
			return pa_error_set(PROVAUTH_EINVAL, "account %s: a %s credential has no name",
			                    a->id ? a->id : "?", c.kind);
		if ((rc = credential_size(&total, &c)) < 0)
			return rc;
	}
	if (!(w.buf = malloc(total)))
		return pa_error_oom();
	put_byte(&w, PA_RECORD_VERSION);
	for (i = 0; i < n; i++)
		if (provauth_account_credential_at(&c, a, i) == 0)
			put_credential(&w, &c);
	*out = w.buf;
	*out_len = w.len;
	return 0;
}

/* ---- decoding ---- */

typedef struct reader {
	const unsigned char *buf;
	size_t len;
	size_t pos;
} reader;

static int bad(const reader *r, const char *what)
{
	return pa_error_set(PROVAUTH_ESTORE, "secrets record: %s at byte %zu", what, r->pos);
}

static int get_str(char **out, reader *r)
{
	size_t n;

	if (r->len - r->pos < 4)
		return bad(r, "truncated length");
	n = ((size_t)r->buf[r->pos] << 24) | ((size_t)r->buf[r->pos + 1] << 16) |
	    ((size_t)r->buf[r->pos + 2] << 8) | (size_t)r->buf[r->pos + 3];
	r->pos += 4;
	if (n > r->len - r->pos)
		return bad(r, "truncated value");
	if (memchr(r->buf + r->pos, '\0', n))
		return bad(r, "NUL byte in a value");
	if (!(*out = malloc(n + 1)))
		return pa_error_oom();
	memcpy(*out, r->buf + r->pos, n);
	(*out)[n] = '\0';
	r->pos += n;
	return 0;
}

/* The kind each version 1 tag stood for; NULL for an unknown tag. */
static const char *v1_kind(unsigned char tag)
{
	switch (tag) {
	case TAG_PASSWORD:      return PROVAUTH_CRED_PASSWORD;
	case TAG_JWT_TOKEN:     return PROVAUTH_CRED_JWT;
	case TAG_REFRESH_TOKEN: return PROVAUTH_CRED_REFRESH_TOKEN;
	case TAG_ACCESS_TOKEN:  return PROVAUTH_CRED_ACCESS_TOKEN;
	case TAG_COOKIE:        return PROVAUTH_CRED_COOKIE;
	case TAG_API_KEY:       return PROVAUTH_CRED_API_KEY;
	default:                return NULL;
	}
}

static int get_int64(int64_t *out, reader *r)
{
	uint64_t u = 0;
	int i;

	if (r->len - r->pos < 8)
		return bad(r, "truncated expiry");
	for (i = 0; i < 8; i++)
		u = (u << 8) | r->buf[r->pos + i];
	r->pos += 8;
	*out = (int64_t)u;
	return 0;
}

static int is_single_valued(const char *kind)
{
	return strcmp(kind, PROVAUTH_CRED_PASSWORD) == 0 || strcmp(kind, PROVAUTH_CRED_JWT) == 0 ||
	       strcmp(kind, PROVAUTH_CRED_REFRESH_TOKEN) == 0 || strcmp(kind, PROVAUTH_CRED_ACCESS_TOKEN) == 0;
}

/*
 * One entry into `t`, the strings already read (and taken on success).
 * Cookies and API keys are appended as stored, duplicates and empty names
 * included: what was stored reads back.
 */
static int add_entry(provauth_account *t, const reader *at, char *kind, char *name, char *value, int64_t expires_at)
{
	if (is_single_valued(kind)) {
		if (*name)
			return bad(at, "a name on a single-valued credential");
		if (provauth_account_credential(t, kind, NULL))
			return bad(at, "repeated field");
	} else if (!*kind) {
		/* Any other kind is a provider's own; the account cannot hold one without a kind. */
		return bad(at, "a credential without a kind");
	}
	return pa_account_append_credential(t, kind, name, value, expires_at);
}

/* One version 2 entry: kind, name, value, expiry. A refused entry is named by the byte it starts at. */
static int get_credential(provauth_account *t, reader *r)
{
	char *kind = NULL, *name = NULL, *value = NULL;
	reader at = *r;
	int64_t expires_at = 0;
	int rc;

	if ((rc = get_str(&kind, r)) < 0 || (rc = get_str(&name, r)) < 0 || (rc = get_str(&value, r)) < 0 ||
	    (rc = get_int64(&expires_at, r)) < 0 || (rc = add_entry(t, &at, kind, name, value, expires_at)) < 0) {
		free(kind);
		free(name);
		pa_secret_free(value);
	}
	return rc;
}

/* One version 1 entry: a tag, then a value (scalars) or a name and a value (cookies, API keys). */
static int get_fixed(provauth_account *t, reader *r)
{
	const char *known = v1_kind(r->buf[r->pos]);
	char *kind = NULL, *name = NULL, *value = NULL;
	reader at = *r;
	int rc;

	if (!known)
		return bad(r, "unknown field tag");
	r->pos++;
	if (!(kind = strdup(known)))
		return pa_error_oom();
	if (is_single_valued(known))
		rc = (name = strdup("")) ? get_str(&value, r) : pa_error_oom();
	else if ((rc = get_str(&name, r)) == 0)
		rc = get_str(&value, r);
	/* The expiry of a version 1 record's access token was in the row only. */
	if (rc == 0)
		rc = add_entry(t, &at, kind, name, value, 0);
	if (rc < 0) {
		free(kind);
		free(name);
		pa_secret_free(value);
	}
	return rc;
}

static void free_credentials(provauth_account *a)
{
	size_t i;

	for (i = 0; i < a->credential_count; i++)
		pa_credential_free(&a->credentials[i]);
	free(a->credentials);
	a->credentials = NULL;
	a->credential_count = 0;
}

int pa_record_decode(provauth_account *a, const unsigned char *buf, size_t len)
{
	provauth_account t;
	reader r = { buf, len, 0 };
	int rc = 0;

	memset(&t, 0, sizeof(t));
	t.id = a->id;  /* for messages only */
	if (!buf || len == 0)
		return pa_error_set(PROVAUTH_ESTORE, "secrets record: empty");
	if (buf[0] != PA_RECORD_VERSION && buf[0] != PA_RECORD_VERSION_FIXED)
		return pa_error_set(PROVAUTH_ESTORE, "secrets record: unknown format version %u",
		                    (unsigned)buf[0]);
	r.pos = 1;
	while (rc == 0 && r.pos < r.len)
		rc = buf[0] == PA_RECORD_VERSION ? get_credential(&t, &r) : get_fixed(&t, &r);
	if (rc < 0) {
		free_credentials(&t);
		return rc;
	}
	free_credentials(a);
	a->credentials = t.credentials;
	a->credential_count = t.credential_count;
	return 0;
}
