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

static int get_scalar(char **field, reader *r)
{
	if (*field)
		return bad(r, "repeated field");
	return get_str(field, r);
}

static int get_pair(char **name, char **value, reader *r)
{
	int rc;

	*name = *value = NULL;
	if ((rc = get_str(name, r)) < 0 || (rc = get_str(value, r)) < 0) {
		free(*name);
		*name = NULL;
		return rc;
	}
	return 0;
}

/* Grows an array of `size`-byte items to hold one more; doubles so decoding stays linear. */
static int reserve(void **items, size_t *cap, size_t count, size_t size)
{
	size_t ncap;
	void *grown;

	if (count < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	if (!(grown = realloc(*items, ncap * size)))
		return pa_error_oom();
	*items = grown;
	*cap = ncap;
	return 0;
}

static int get_cookie(provauth_account *t, size_t *cap, reader *r)
{
	void *items = t->cookies;
	char *name, *value;
	int rc;

	if ((rc = get_pair(&name, &value, r)) < 0)
		return rc;
	rc = reserve(&items, cap, t->cookie_count, sizeof(*t->cookies));
	t->cookies = items;
	if (rc < 0) {
		free(name);
		pa_secret_free(value);
		return rc;
	}
	t->cookies[t->cookie_count].name = name;
	t->cookies[t->cookie_count].value = value;
	t->cookie_count++;
	return 0;
}

static int get_api_key(provauth_account *t, size_t *cap, reader *r)
{
	void *items = t->api_keys;
	char *kind, *value;
	int rc;

	if ((rc = get_pair(&kind, &value, r)) < 0)
		return rc;
	rc = reserve(&items, cap, t->api_key_count, sizeof(*t->api_keys));
	t->api_keys = items;
	if (rc < 0) {
		free(kind);
		pa_secret_free(value);
		return rc;
	}
	t->api_keys[t->api_key_count].kind = kind;
	t->api_keys[t->api_key_count].value = value;
	t->api_key_count++;
	return 0;
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

/* Appends a cookie or API key (version 2); the name moves into `t`. */
static int append_pair(provauth_account *t, int is_cookie, size_t *cap, char *name, char *value)
{
	void *items = is_cookie ? (void *)t->cookies : (void *)t->api_keys;
	size_t count = is_cookie ? t->cookie_count : t->api_key_count;
	int rc;

	rc = reserve(&items, cap, count, is_cookie ? sizeof(*t->cookies) : sizeof(*t->api_keys));
	if (is_cookie)
		t->cookies = items;
	else
		t->api_keys = items;
	if (rc < 0)
		return rc;
	if (is_cookie) {
		t->cookies[count].name = name;
		t->cookies[count].value = value;
		t->cookie_count++;
	} else {
		t->api_keys[count].kind = name;
		t->api_keys[count].value = value;
		t->api_key_count++;
	}
	return 0;
}

/* The field a single-valued kind lives in, NULL for other kinds. */
static char **single_field(provauth_account *t, const char *kind)
{
	if (strcmp(kind, PROVAUTH_CRED_PASSWORD) == 0)
		return &t->password;
	if (strcmp(kind, PROVAUTH_CRED_JWT) == 0)
		return &t->jwt_token;
	if (strcmp(kind, PROVAUTH_CRED_REFRESH_TOKEN) == 0)
		return &t->refresh_token;
	if (strcmp(kind, PROVAUTH_CRED_ACCESS_TOKEN) == 0)
		return &t->access_token;
	return NULL;
}

/* One version 2 entry into `t`. A refused entry is named by the byte it starts at. */
static int get_credential(provauth_account *t, size_t *cookie_cap, size_t *key_cap, reader *r)
{
	char *kind = NULL, *name = NULL, *value = NULL, **field;
	reader at = *r;
	int64_t expires_at = 0;
	int rc, is_cookie;

	if ((rc = get_str(&kind, r)) < 0 || (rc = get_str(&name, r)) < 0 || (rc = get_str(&value, r)) < 0 ||
	    (rc = get_int64(&expires_at, r)) < 0)
		goto out;
	if ((field = single_field(t, kind))) {
		if (*name)
			rc = bad(&at, "a name on a single-valued credential");
		else if (*field)
			rc = bad(&at, "repeated field");
		if (rc == 0) {
			*field = value;
			value = NULL;
			/* Version 1 kept the expiry outside the record: only version 2 sets it. */
			if (field == &t->access_token)
				t->access_expires_at = expires_at;
		}
	} else if (strcmp(kind, PROVAUTH_CRED_COOKIE) == 0 || strcmp(kind, PROVAUTH_CRED_API_KEY) == 0) {
		/* An empty name is kept, as version 1 kept it: what was stored reads back. */
		is_cookie = strcmp(kind, PROVAUTH_CRED_COOKIE) == 0;
		if ((rc = append_pair(t, is_cookie, is_cookie ? cookie_cap : key_cap, name, value)) == 0)
			name = value = NULL;
	} else {
		rc = bad(&at, "unknown credential kind");
	}
out:
	free(kind);
	free(name);
	pa_secret_free(value);
	return rc;
}

static void free_secrets(provauth_account *a)
{
	size_t i;

	pa_secret_free(a->password);
	pa_secret_free(a->jwt_token);
	pa_secret_free(a->refresh_token);
	pa_secret_free(a->access_token);
	for (i = 0; i < a->cookie_count; i++) {
		free(a->cookies[i].name);
		pa_secret_free(a->cookies[i].value);
	}
	free(a->cookies);
	for (i = 0; i < a->api_key_count; i++) {
		free(a->api_keys[i].kind);
		pa_secret_free(a->api_keys[i].value);
	}
	free(a->api_keys);
	a->password = a->jwt_token = a->refresh_token = a->access_token = NULL;
	a->cookies = NULL;
	a->api_keys = NULL;
	a->cookie_count = a->api_key_count = 0;
}

int pa_record_decode(provauth_account *a, const unsigned char *buf, size_t len)
{
	provauth_account t;
	reader r = { buf, len, 0 };
	size_t cookie_cap = 0, key_cap = 0;
	int rc = 0;

	memset(&t, 0, sizeof(t));
	if (!buf || len == 0)
		return pa_error_set(PROVAUTH_ESTORE, "secrets record: empty");
	if (buf[0] != PA_RECORD_VERSION && buf[0] != PA_RECORD_VERSION_FIXED)
		return pa_error_set(PROVAUTH_ESTORE, "secrets record: unknown format version %u",
		                    (unsigned)buf[0]);
	r.pos = 1;
	while (rc == 0 && r.pos < r.len && buf[0] == PA_RECORD_VERSION)
		rc = get_credential(&t, &cookie_cap, &key_cap, &r);
	while (rc == 0 && r.pos < r.len && buf[0] == PA_RECORD_VERSION_FIXED) {
		unsigned char tag = buf[r.pos++];

		switch (tag) {
		case TAG_PASSWORD:      rc = get_scalar(&t.password, &r); break;
		case TAG_JWT_TOKEN:     rc = get_scalar(&t.jwt_token, &r); break;
		case TAG_REFRESH_TOKEN: rc = get_scalar(&t.refresh_token, &r); break;
		case TAG_ACCESS_TOKEN:  rc = get_scalar(&t.access_token, &r); break;
		case TAG_COOKIE:        rc = get_cookie(&t, &cookie_cap, &r); break;
		case TAG_API_KEY:       rc = get_api_key(&t, &key_cap, &r); break;
		default:
			r.pos--;
			rc = bad(&r, "unknown field tag");
		}
	}
	if (rc < 0) {
		free_secrets(&t);
		return rc;
	}
	free_secrets(a);
	a->password = t.password;
	a->jwt_token = t.jwt_token;
	a->refresh_token = t.refresh_token;
	a->access_token = t.access_token;
	/* Version 1 kept the expiry in the row (the sqlite column), not in the record. */
	if (buf[0] == PA_RECORD_VERSION && t.access_token)
		a->access_expires_at = t.access_expires_at;
	a->cookies = t.cookies;
	a->cookie_count = t.cookie_count;
	a->api_keys = t.api_keys;
	a->api_key_count = t.api_key_count;
	return 0;
}
