/* Encoding and decoding of the sealed part of an account record (see record.h). */
#include "config.h"
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "store/record.h"

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

static void put_scalar(writer *w, unsigned char tag, const char *s)
{
	if (!s)
		return;
	put_byte(w, tag);
	put_str(w, s);
}

static void write_all(writer *w, const provauth_account *a)
{
	size_t i;

	put_byte(w, PA_RECORD_VERSION);
	put_scalar(w, TAG_PASSWORD, a->password);
	put_scalar(w, TAG_JWT_TOKEN, a->jwt_token);
	put_scalar(w, TAG_REFRESH_TOKEN, a->refresh_token);
	put_scalar(w, TAG_ACCESS_TOKEN, a->access_token);
	for (i = 0; i < a->cookie_count; i++) {
		put_byte(w, TAG_COOKIE);
		put_str(w, a->cookies[i].name);
		put_str(w, a->cookies[i].value);
	}
	for (i = 0; i < a->api_key_count; i++) {
		put_byte(w, TAG_API_KEY);
		put_str(w, a->api_keys[i].kind);
		put_str(w, a->api_keys[i].value);
	}
}

int pa_record_encode(unsigned char **out, size_t *out_len, const provauth_account *a)
{
	writer w = { NULL, 0 };
	size_t total = 1, i;
	const char *scalars[4];
	int rc;

	*out = NULL;
	*out_len = 0;
	scalars[0] = a->password;
	scalars[1] = a->jwt_token;
	scalars[2] = a->refresh_token;
	scalars[3] = a->access_token;
	/* Sizes are checked first so the buffer is allocated once: no realloc leaves secret copies behind. */
	for (i = 0; i < PA_ARRAY_LEN(scalars); i++) {
		if (!scalars[i])
			continue;
		total++;
		if ((rc = str_size(&total, scalars[i])) < 0)
			return rc;
	}
	for (i = 0; i < a->cookie_count; i++) {
		if (!a->cookies[i].name)
			return pa_error_set(PROVAUTH_EINVAL, "account %s: cookie %zu has no name",
			                    a->id ? a->id : "?", i);
		total++;
		if ((rc = str_size(&total, a->cookies[i].name)) < 0 ||
		    (rc = str_size(&total, a->cookies[i].value)) < 0)
			return rc;
	}
	for (i = 0; i < a->api_key_count; i++) {
		if (!a->api_keys[i].kind)
			return pa_error_set(PROVAUTH_EINVAL, "account %s: API key %zu has no kind",
			                    a->id ? a->id : "?", i);
		total++;
		if ((rc = str_size(&total, a->api_keys[i].kind)) < 0 ||
		    (rc = str_size(&total, a->api_keys[i].value)) < 0)
			return rc;
	}
	if (!(w.buf = malloc(total)))
		return pa_error_oom();
	write_all(&w, a);
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
	if (buf[0] != PA_RECORD_VERSION)
		return pa_error_set(PROVAUTH_ESTORE, "secrets record: unknown format version %u",
		                    (unsigned)buf[0]);
	r.pos = 1;
	while (rc == 0 && r.pos < r.len) {
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
	a->cookies = t.cookies;
	a->cookie_count = t.cookie_count;
	a->api_keys = t.api_keys;
	a->api_key_count = t.api_key_count;
	return 0;
}
