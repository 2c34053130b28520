/*
 * The fake pixiv server. One mutex guards all state: requests are few and
 * short, and a single lock keeps counters and token tables consistent for
 * the concurrency tests that read them.
 */
#include "config.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "fake_pixiv.h"
#include "fake_idle.h"

#define FP_MAX_UPLOAD (64 * 1024)
#define FP_DEFAULT_CLIENT_ID "MOBrBDS8blbauoSck0ZfDbtuzpyT"
#define FP_DEFAULT_CLIENT_SECRET "lsACyCD94FhDUtGTXi3QzcFE2uU1hqtDaKeqrdwj"
#define FP_DEFAULT_HASH_SECRET "28c1fdd170a5204386cb1313c7077b34f83e4aaf4aa829ce78c231e05b0bae2c"

typedef struct fp_kv {
	char *key;
	char *value;
} fp_kv;

typedef struct fp_kvs {
	fp_kv *v;
	size_t n;
} fp_kvs;

typedef struct fp_user {
	char *id, *name, *mail;
} fp_user;

typedef struct fp_token {
	char *token;
	size_t user;        /* index into users */
	int revoked;
	int64_t expires_at_ms; /* server time in ms; access tokens only */
	uint64_t seq;       /* issue order; refresh tokens only */
} fp_token;

typedef struct fp_misbehave {
	fake_pixiv_fault fault;
	long fault_param;
	int fault_count;
	long rl_status;
	long rl_retry_after;
	int rl_count;
} fp_misbehave;

struct fake_pixiv {
	struct MHD_Daemon *daemon;
	fake_idle idle;
	unsigned short port;
	char base_url[64];
	pthread_mutex_t mu;
	int control;

	char *client_id, *client_secret, *hash_secret;
	int64_t expires_in;
	int rotate, revoke_old;
	int standard, send_refresh_token;
	long client_error_status;  /* invalid_client's status; 0: 401 (RFC 6749 mode) or 400 (pixiv) */
	char *required_param;      /* a form field the token endpoint insists on, or NULL */
	int echo_error;          /* a refused refresh token comes back dotted as the "error" */
	int64_t clock_offset;

	fp_user *users;
	size_t nusers;
	fp_token *refresh;
	size_t nrefresh;
	fp_token *access;
	size_t naccess;
	uint64_t seq;

	fp_misbehave mis[FAKE_PIXIV_ENDPOINTS];
	long count[FAKE_PIXIV_ENDPOINTS];

	/* Token requests held before anything is judged (fake_pixiv_hold_token). */
	pthread_cond_t held_changed;
	int hold_count;            /* requests still to hold; -1: all */
	int held;                  /* requests waiting now */
	unsigned short held_port;  /* the client port of the latest one held */
	unsigned long release_gen; /* bumped by every release */
	int release_process;       /* what the latest release said */
	fp_kvs last_form[FAKE_PIXIV_ENDPOINTS];
	fp_kvs last_header[FAKE_PIXIV_ENDPOINTS];
	fp_kvs last_query[FAKE_PIXIV_ENDPOINTS];
};

/* Per-request state: the body as it arrives. */
typedef struct fp_req {
	char *body;
	size_t len;
	int too_big;
} fp_req;

/* ------------------------------------------------------------------------ */
/* Small helpers                                                            */
/* ------------------------------------------------------------------------ */

static char *xstrdup(const char *s)
{
	char *d;

	if (!s)
		return NULL;
	if (!(d = strdup(s)))
		abort(); /* a test fake: running out of memory is fatal */
	return d;
}

static void kvs_clear(fp_kvs *k)
{
	size_t i;

	for (i = 0; i < k->n; i++) {
		free(k->v[i].key);
		free(k->v[i].value);
	}
	free(k->v);
	k->v = NULL;
	k->n = 0;
}

static void kvs_add(fp_kvs *k, const char *key, const char *value)
{
	fp_kv *grown = realloc(k->v, (k->n + 1) * sizeof(*grown));

	if (!grown)
		abort();
	k->v = grown;
	k->v[k->n].key = xstrdup(key);
	k->v[k->n].value = xstrdup(value ? value : "");
	k->n++;
}

static const char *kvs_get(const fp_kvs *k, const char *key, int nocase)
{
	size_t i;

	for (i = 0; i < k->n; i++)
		if (nocase ? strcasecmp(k->v[i].key, key) == 0 : strcmp(k->v[i].key, key) == 0)
			return k->v[i].value;
	return NULL;
}

static void kvs_copy(fp_kvs *dst, const fp_kvs *src)
{
	size_t i;

	kvs_clear(dst);
	for (i = 0; i < src->n; i++)
		kvs_add(dst, src->v[i].key, src->v[i].value);
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9') return c - '0';
	if (c >= 'a' && c <= 'f') return c - 'a' + 10;
	if (c >= 'A' && c <= 'F') return c - 'A' + 10;
	return -1;
}

/* application/x-www-form-urlencoded decoding, in place. */
static void form_decode(char *s)
{
	char *o = s;

	for (; *s; s++) {
		if (*s == '+') {
			*o++ = ' ';
		} else if (*s == '%' && hexval(s[1]) >= 0 && hexval(s[2]) >= 0) {
			*o++ = (char)(hexval(s[1]) * 16 + hexval(s[2]));
			s += 2;
		} else {
			*o++ = *s;
		}
	}
	*o = '\0';
}

static void form_parse(fp_kvs *out, const char *body, size_t len)
{
	char *copy = malloc(len + 1), *p, *save = NULL;

	if (!copy)
		abort();
	memcpy(copy, body, len);
	copy[len] = '\0';
	for (p = strtok_r(copy, "&", &save); p; p = strtok_r(NULL, "&", &save)) {
		char *eq = strchr(p, '=');
		if (eq)
			*eq++ = '\0';
		form_decode(p);
		if (eq)
			form_decode(eq);
		kvs_add(out, p, eq ? eq : "");
	}
	free(copy);
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	kvs_add(cls, key, value);
	return MHD_YES;
}

/*
 * Milliseconds, not seconds: a token that lives expires_in seconds must live
 * that long. With whole seconds a 1 s token issued at x.999 was dead 1 ms
 * later, and a test's call between its refresh and its request failed on a
 * loaded machine.
 */
static int64_t server_now_ms(const fake_pixiv *f)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ((int64_t)ts.tv_sec + f->clock_offset) * 1000 + ts.tv_nsec / 1000000;
}

static char *new_token(fake_pixiv *f, const char *prefix)
{
	unsigned char r[8];
	char buf[96];

	if (RAND_bytes(r, sizeof(r)) != 1)
		abort();
	snprintf(buf, sizeof(buf), "%s-%llu-%02x%02x%02x%02x%02x%02x%02x%02x", prefix,
	         (unsigned long long)++f->seq, r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
	return xstrdup(buf);
}

static void md5_hex(const char *s, char out[33])
{
	unsigned char d[EVP_MAX_MD_SIZE];
	unsigned int n = 0, i;

	if (EVP_Digest(s, strlen(s), d, &n, EVP_md5(), NULL) != 1)
		abort();
	for (i = 0; i < n && i < 16; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
	out[32] = '\0';
}

static int digits(const char *s, int n)
{
	int i;

	for (i = 0; i < n; i++)
		if (!isdigit((unsigned char)s[i]))
			return 0;
	return 1;
}

/* YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM): what pixiv accepts. */
static int rfc3339_with_offset(const char *s)
{
	if (!s || strlen(s) < 20)
		return 0;
	if (!digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' || !digits(s + 8, 2) ||
	    (s[10] != 'T' && s[10] != 't') || !digits(s + 11, 2) || s[13] != ':' || !digits(s + 14, 2) ||
	    s[16] != ':' || !digits(s + 17, 2))
		return 0;
	s += 19;
	if (*s == '.') {
		s++;
		if (!isdigit((unsigned char)*s))
			return 0;
		while (isdigit((unsigned char)*s))
			s++;
	}
	if ((*s == 'Z' || *s == 'z') && s[1] == '\0')
		return 1;
	return (*s == '+' || *s == '-') && digits(s + 1, 2) && s[3] == ':' && digits(s + 4, 2) && s[6] == '\0';
}

/* ------------------------------------------------------------------------ */
/* Replies                                                                  */
/* ------------------------------------------------------------------------ */

static enum MHD_Result reply_text(struct MHD_Connection *c, unsigned int status, const char *type,
                                  const char *body, size_t len, const char *h1, const char *v1)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", type);
	if (h1 && v1)
		MHD_add_response_header(r, h1, v1);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

/* Sends `obj` (consumed) as JSON. */
static enum MHD_Result reply_json(struct MHD_Connection *c, unsigned int status, struct json_object *obj,
                                  const char *h1, const char *v1)
{
	const char *s = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN);
	enum MHD_Result rc = reply_text(c, status, "application/json; charset=utf-8", s, strlen(s), h1, v1);

	json_object_put(obj);
	return rc;
}

static enum MHD_Result reply_raw_json(struct MHD_Connection *c, unsigned int status, const char *json,
                                      const char *h1, const char *v1)
{
	return reply_text(c, status, "application/json; charset=utf-8", json, strlen(json), h1, v1);
}

/* The app API's error shape. */
static enum MHD_Result reply_api_error(struct MHD_Connection *c, unsigned int status, const char *message,
                                       const char *h1, const char *v1)
{
	struct json_object *o = json_object_new_object(), *e = json_object_new_object();

	json_object_object_add(e, "user_message", json_object_new_string(""));
	json_object_object_add(e, "message", json_object_new_string(message));
	json_object_object_add(e, "reason", json_object_new_string(""));
	json_object_object_add(e, "user_message_details", json_object_new_object());
	json_object_object_add(o, "error", e);
	return reply_json(c, status, o, h1, v1);
}

/* pixiv's token endpoint errors: {"has_error":true,"errors":{"system":{...}}[,"error":...]}. */
static enum MHD_Result reply_pixiv_token_error(struct MHD_Connection *c, unsigned int status,
                                               const char *message, int code, const char *error)
{
	struct json_object *o = json_object_new_object(), *errs = json_object_new_object(),
	                   *sys = json_object_new_object();

	json_object_object_add(sys, "message", json_object_new_string(message));
	json_object_object_add(sys, "code", json_object_new_int(code));
	json_object_object_add(errs, "system", sys);
	json_object_object_add(o, "has_error", json_object_new_boolean(1));
	json_object_object_add(o, "errors", errs);
	if (error)
		json_object_object_add(o, "error", json_object_new_string(error));
	return reply_json(c, status, o, NULL, NULL);
}

static enum MHD_Result reply_rfc6749_error(struct MHD_Connection *c, unsigned int status, const char *error,
                                           const char *description, const char *h1, const char *v1)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(error));
	json_object_object_add(o, "error_description", json_object_new_string(description));
	return reply_json(c, status, o, h1, v1);
}

typedef struct fp_stream {
	size_t total, sent, cut; /* RESET: stop with an error after `cut` bytes */
	int reset;
} fp_stream;

static ssize_t stream_cb(void *cls, uint64_t pos, char *buf, size_t max)
{
	fp_stream *s = cls;
	static const char head[] = "{\"access_token\":\"px-at-partial\",\"expires_in\":3600,\"padding\":\"";
	size_t n, i;

	if (s->reset && pos >= s->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (pos >= s->total)
		return MHD_CONTENT_READER_END_OF_STREAM;
	n = s->total - (size_t)pos;
	if (s->reset && n > s->cut - (size_t)pos)
		n = s->cut - (size_t)pos;
	if (n > max)
		n = max;
	for (i = 0; i < n; i++) {
		uint64_t at = pos + i;
		buf[i] = at < sizeof(head) - 1 ? head[at] : 'x';
	}
	return (ssize_t)n;
}

static enum MHD_Result reply_stream(struct MHD_Connection *c, size_t total, int reset)
{
	fp_stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (!s)
		return MHD_NO;
	s->total = total;
	s->reset = reset;
	s->cut = reset ? total / 3 : total;
	r = MHD_create_response_from_callback(total, 4096, stream_cb, s, free);
	if (!r) {
		free(s);
		return MHD_NO;
	}
	MHD_add_response_header(r, "Content-Type", "application/json");
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* Applies an armed fault or rate limit. Returns 1 and sets *rc when it answered. Called locked; unlocks. */
static int misbehave(fake_pixiv *f, fake_pixiv_endpoint ep, struct MHD_Connection *c, const char *url,
                     enum MHD_Result *rc)
{
	fp_misbehave *m = &f->mis[ep];
	fake_pixiv_fault fault = FAKE_PIXIV_FAULT_NONE;
	long param = 0, rl_status = 0, rl_ra = -1;
	char num[32], loc[256];

	if (m->fault != FAKE_PIXIV_FAULT_NONE && m->fault_count != 0) {
		fault = m->fault;
		param = m->fault_param;
		if (m->fault_count > 0 && --m->fault_count == 0)
			m->fault = FAKE_PIXIV_FAULT_NONE;
	} else if (m->rl_count != 0) {
		rl_status = m->rl_status;
		rl_ra = m->rl_retry_after;
		if (m->rl_count > 0)
			m->rl_count--;
	}
	pthread_mutex_unlock(&f->mu);

	if (rl_status) {
		snprintf(num, sizeof(num), "%ld", rl_ra);
		*rc = reply_api_error(c, (unsigned int)rl_status, "Rate Limit", rl_ra >= 0 ? "Retry-After" : NULL, num);
		return 1;
	}
	switch (fault) {
	case FAKE_PIXIV_FAULT_NONE:
		return 0;
	case FAKE_PIXIV_FAULT_DELAY:
		usleep((useconds_t)param * 1000);
		return 0;
	case FAKE_PIXIV_FAULT_STATUS:
		*rc = reply_text(c, (unsigned int)(param ? param : 500), "text/html",
		                 "<html><body>Service Unavailable</body></html>", 45, NULL, NULL);
		return 1;
	case FAKE_PIXIV_FAULT_TRUNCATED:
		*rc = reply_raw_json(c, MHD_HTTP_OK, "{\"access_token\":\"px-at-trunc\",\"expires_in\":36", NULL, NULL);
		return 1;
	case FAKE_PIXIV_FAULT_NOT_JSON:
		*rc = reply_text(c, MHD_HTTP_OK, "text/html", "<html><body>maintenance</body></html>", 37, NULL, NULL);
		return 1;
	case FAKE_PIXIV_FAULT_HUGE:
		*rc = reply_stream(c, (size_t)(param > 0 ? param : 4 * 1024 * 1024), 0);
		return 1;
	case FAKE_PIXIV_FAULT_RESET:
		*rc = reply_stream(c, 64 * 1024, 1);
		return 1;
	case FAKE_PIXIV_FAULT_HUGE_HEADER: {
		size_t n = (size_t)(param > 0 ? param : 200 * 1024);
		char *v = malloc(n + 1);

		if (!v) {
			*rc = MHD_NO;
			return 1;
		}
		memset(v, 'h', n);
		v[n] = '\0';
		*rc = reply_text(c, MHD_HTTP_OK, "application/json", "{}", 2, "X-Huge", v);
		free(v);
		return 1;
	}
	case FAKE_PIXIV_FAULT_REDIRECT_LOOP:
		snprintf(loc, sizeof(loc), "%s%s", f->base_url, url);
		*rc = reply_text(c, MHD_HTTP_FOUND, "text/html", "", 0, "Location", loc);
		return 1;
	}
	return 0;
}

/* ------------------------------------------------------------------------ */
/* POST /auth/token                                                         */
/* ------------------------------------------------------------------------ */

static struct json_object *user_json(const fp_user *u)
{
	struct json_object *o = json_object_new_object(), *img = json_object_new_object();

	json_object_object_add(img, "px_16x16", json_object_new_string("https://s.pximg.net/common/images/no_profile_s.png"));
	json_object_object_add(o, "profile_image_urls", img);
	json_object_object_add(o, "id", json_object_new_string(u->id));
	json_object_object_add(o, "name", json_object_new_string(u->name));
	json_object_object_add(o, "account", json_object_new_string(u->name));
	if (u->mail)
		json_object_object_add(o, "mail_address", json_object_new_string(u->mail));
	json_object_object_add(o, "is_premium", json_object_new_boolean(0));
	json_object_object_add(o, "x_restrict", json_object_new_int(0));
	json_object_object_add(o, "is_mail_authorized", json_object_new_boolean(1));
	return o;
}

static struct json_object *grant_json(const fake_pixiv *f, const char *access, const char *refresh,
                                      const fp_user *u)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "access_token", json_object_new_string(access));
	json_object_object_add(o, "expires_in", json_object_new_int64(f->expires_in));
	json_object_object_add(o, "token_type", json_object_new_string(f->standard ? "Bearer" : "bearer"));
	json_object_object_add(o, "scope", json_object_new_string(""));
	if (refresh)
		json_object_object_add(o, "refresh_token", json_object_new_string(refresh));
	if (u)
		json_object_object_add(o, "user", user_json(u));
	return o;
}

static fp_token *find_token(fp_token *v, size_t n, const char *tok)
{
	size_t i;

	for (i = 0; tok && i < n; i++)
		if (strcmp(v[i].token, tok) == 0)
			return &v[i];
	return NULL;
}

static void add_token(fp_token **v, size_t *n, char *tok, size_t user, int64_t expires_at_ms, uint64_t seq)
{
	fp_token *grown = realloc(*v, (*n + 1) * sizeof(*grown));

	if (!grown)
		abort();
	*v = grown;
	grown[*n].token = tok;
	grown[*n].user = user;
	grown[*n].revoked = 0;
	grown[*n].expires_at_ms = expires_at_ms;
	grown[*n].seq = seq;
	(*n)++;
}

/*
 * Holds a token request (called with f->mu held, which the wait gives up)
 * until fake_pixiv_release_held. Returns 1 when the release says to answer
 * it as usual, 0 when it is to be dropped untouched.
 */
static int hold_token_request(fake_pixiv *f, struct MHD_Connection *c)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	unsigned long gen = f->release_gen;

	if (f->hold_count > 0)
		f->hold_count--;
	f->held_port = 0;
	if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET)
		f->held_port = ntohs(((const struct sockaddr_in *)(const void *)ci->client_addr)->sin_port);
	f->held++;
	pthread_cond_broadcast(&f->held_changed);
	while (f->release_gen == gen)
		pthread_cond_wait(&f->held_changed, &f->mu);
	f->held--;
	return f->release_process;
}

static enum MHD_Result handle_token(fake_pixiv *f, struct MHD_Connection *c, const char *url, fp_req *rq)
{
	fp_kvs form = { NULL, 0 }, headers = { NULL, 0 };
	const char *t, *hash, *rt;
	enum MHD_Result rc;
	struct json_object *reply;
	fp_token *old;
	char expect[33], *salted, *access, *fresh = NULL;
	size_t user;
	int standard;

	if (rq->body)
		form_parse(&form, rq->body, rq->len);
	MHD_get_connection_values(c, MHD_HEADER_KIND, collect, &headers);

	pthread_mutex_lock(&f->mu);
	f->count[FAKE_PIXIV_TOKEN]++;
	kvs_copy(&f->last_form[FAKE_PIXIV_TOKEN], &form);
	kvs_copy(&f->last_header[FAKE_PIXIV_TOKEN], &headers);
	if (f->hold_count != 0 && !hold_token_request(f, c)) {
		pthread_mutex_unlock(&f->mu);
		rc = reply_text(c, 503, "text/html", "<html><body>Service Unavailable</body></html>", 45, NULL, NULL);
		goto out;
	}
	if (misbehave(f, FAKE_PIXIV_TOKEN, c, url, &rc)) /* unlocks */
		goto out;
	pthread_mutex_lock(&f->mu);
	standard = f->standard;

	if (rq->too_big) {
		pthread_mutex_unlock(&f->mu);
		rc = reply_rfc6749_error(c, 413, "invalid_request", "body too large", NULL, NULL);
		goto out;
	}
	/* RFC 6749 5.2: a required parameter missing is invalid_request, before the client is judged. */
	if (f->required_param && (!kvs_get(&form, f->required_param, 0) || !*kvs_get(&form, f->required_param, 0))) {
		char what[160];
		snprintf(what, sizeof(what), "Missing required parameter: %s", f->required_param);
		pthread_mutex_unlock(&f->mu);
		rc = standard ? reply_rfc6749_error(c, 400, "invalid_request", what, NULL, NULL)
		              : reply_pixiv_token_error(c, 400, what, 1508, "invalid_request");
		goto out;
	}
	if (!kvs_get(&form, "client_id", 0) || strcmp(kvs_get(&form, "client_id", 0), f->client_id) != 0 ||
	    !kvs_get(&form, "client_secret", 0) || strcmp(kvs_get(&form, "client_secret", 0), f->client_secret) != 0) {
		/* RFC 6749 servers differ: 401 (with client authentication) or 400. */
		unsigned int st = f->client_error_status > 0 ? (unsigned int)f->client_error_status : standard ? 401 : 400;
		pthread_mutex_unlock(&f->mu);
		rc = standard ? reply_rfc6749_error(c, st, "invalid_client", "Client authentication failed", NULL, NULL)
		              : reply_pixiv_token_error(c, st, "Invalid client", 1508, "invalid_client");
		goto out;
	}
	if (!standard) {
		t = kvs_get(&headers, "X-Client-Time", 1);
		hash = kvs_get(&headers, "X-Client-Hash", 1);
		if (!rfc3339_with_offset(t) || !hash) {
			pthread_mutex_unlock(&f->mu);
			rc = reply_pixiv_token_error(c, 400, "access_denied", 1508, NULL);
			goto out;
		}
		if (!(salted = malloc(strlen(t) + strlen(f->hash_secret) + 1)))
			abort();
		sprintf(salted, "%s%s", t, f->hash_secret);
		md5_hex(salted, expect);
		free(salted);
		if (strcmp(hash, expect) != 0) {
			pthread_mutex_unlock(&f->mu);
			rc = reply_pixiv_token_error(c, 400, "access_denied", 1508, NULL);
			goto out;
		}
	}
	if (!kvs_get(&form, "grant_type", 0) || strcmp(kvs_get(&form, "grant_type", 0), "refresh_token") != 0) {
		pthread_mutex_unlock(&f->mu);
		rc = standard ? reply_rfc6749_error(c, 400, "unsupported_grant_type", "only refresh_token", NULL, NULL)
		              : reply_pixiv_token_error(c, 400, "unsupported_grant_type", 1508, "unsupported_grant_type");
		goto out;
	}
	rt = kvs_get(&form, "refresh_token", 0);
	old = find_token(f->refresh, f->nrefresh, rt);
	if ((!old || old->revoked) && f->echo_error && rt) {
		/* A hostile server: the refused token, split by dots, as the OAuth "error" code. */
		char dotted[48];
		size_t i, o = 0;
		pthread_mutex_unlock(&f->mu);
		for (i = 0; rt[i] && i < 32; i++) {
			if (i && i % 4 == 0)
				dotted[o++] = '.';
			dotted[o++] = rt[i];
		}
		dotted[o] = '\0';
		rc = reply_rfc6749_error(c, 400, dotted, "refused", NULL, NULL);
		goto out;
	}
	if (!old || old->revoked) {
		pthread_mutex_unlock(&f->mu);
		rc = standard ? reply_rfc6749_error(c, 400, "invalid_grant", "The refresh token is invalid or revoked",
		                                    NULL, NULL)
		              : reply_pixiv_token_error(c, 400, "Invalid refresh token", 1508, "invalid_grant");
		goto out;
	}
	user = old->user;
	access = new_token(f, "px-at");
	add_token(&f->access, &f->naccess, access, user, server_now_ms(f) + f->expires_in * 1000, 0);
	if (f->rotate) {
		if (f->revoke_old)
			old->revoked = 1;
		fresh = new_token(f, "px-rt");
		add_token(&f->refresh, &f->nrefresh, fresh, user, 0, f->seq);
		/* `old` may have moved with the realloc; it is not used below. */
	}
	if (standard)
		reply = grant_json(f, access, f->send_refresh_token ? (fresh ? fresh : rt) : NULL, NULL);
	else {
		reply = grant_json(f, access, fresh ? fresh : rt, &f->users[user]);
		json_object_object_add(reply, "response", grant_json(f, access, fresh ? fresh : rt, &f->users[user]));
	}
	pthread_mutex_unlock(&f->mu);
	rc = reply_json(c, MHD_HTTP_OK, reply, NULL, NULL);
out:
	kvs_clear(&form);
	kvs_clear(&headers);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* GET /v1/..., /v2/...                                                     */
/* ------------------------------------------------------------------------ */

#define OAUTH_MSG "Error occurred at the OAuth process. Please check your Access Token to fix this. Error Message: "

static enum MHD_Result handle_api(fake_pixiv *f, struct MHD_Connection *c, const char *url)
{
	fp_kvs headers = { NULL, 0 }, query = { NULL, 0 };
	const char *auth, *tok;
	enum MHD_Result rc;
	fp_token *at;
	fp_user u = { NULL, NULL, NULL };
	struct json_object *o, *q;
	size_t i;
	int standard;

	MHD_get_connection_values(c, MHD_HEADER_KIND, collect, &headers);
	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, &query);

	pthread_mutex_lock(&f->mu);
	f->count[FAKE_PIXIV_API]++;
	kvs_copy(&f->last_header[FAKE_PIXIV_API], &headers);
	kvs_copy(&f->last_query[FAKE_PIXIV_API], &query);
	if (misbehave(f, FAKE_PIXIV_API, c, url, &rc)) /* unlocks */
		goto out;
	pthread_mutex_lock(&f->mu);
	standard = f->standard;

	auth = kvs_get(&headers, "Authorization", 1);
	tok = auth && strncasecmp(auth, "Bearer ", 7) == 0 && auth[7] ? auth + 7 : NULL;
	if (!tok) {
		pthread_mutex_unlock(&f->mu);
		rc = standard ? reply_rfc6749_error(c, 401, "invalid_request", "no bearer token", "WWW-Authenticate",
		                                    "Bearer error=\"invalid_request\"")
		              : reply_api_error(c, 400, OAUTH_MSG "invalid_request", NULL, NULL);
		goto out;
	}
	at = find_token(f->access, f->naccess, tok);
	if (!at || at->revoked || server_now_ms(f) >= at->expires_at_ms) {
		pthread_mutex_unlock(&f->mu);
		rc = standard ? reply_rfc6749_error(c, 401, "invalid_token", "The access token expired",
		                                    "WWW-Authenticate", "Bearer error=\"invalid_token\"")
		              : reply_api_error(c, 400, OAUTH_MSG "invalid_grant", NULL, NULL);
		goto out;
	}
	u.id = xstrdup(f->users[at->user].id);
	u.name = xstrdup(f->users[at->user].name);
	pthread_mutex_unlock(&f->mu);

	if (strcmp(url, "/v1/user/detail") == 0) {
		const char *id = kvs_get(&query, "user_id", 0);
		struct json_object *user, *profile;
		if (!id || !*id || !digits(id, (int)strlen(id))) {
			rc = reply_api_error(c, 400, "user_id is required", NULL, NULL);
			goto out;
		}
		pthread_mutex_lock(&f->mu);
		for (i = 0; i < f->nusers && strcmp(f->users[i].id, id) != 0; i++)
			;
		if (i == f->nusers) {
			pthread_mutex_unlock(&f->mu);
			rc = reply_api_error(c, 404, "Page not found", NULL, NULL);
			goto out;
		}
		o = json_object_new_object();
		user = json_object_new_object();
		profile = json_object_new_object();
		json_object_object_add(user, "id", json_object_new_int64(strtoll(id, NULL, 10)));
		json_object_object_add(user, "name", json_object_new_string(f->users[i].name));
		json_object_object_add(user, "account", json_object_new_string(f->users[i].name));
		json_object_object_add(user, "comment", json_object_new_string(""));
		json_object_object_add(user, "is_followed", json_object_new_boolean(0));
		json_object_object_add(profile, "total_illusts", json_object_new_int(0));
		json_object_object_add(o, "user", user);
		json_object_object_add(o, "profile", profile);
		json_object_object_add(o, "workspace", json_object_new_object());
		pthread_mutex_unlock(&f->mu);
		rc = reply_json(c, MHD_HTTP_OK, o, NULL, NULL);
		goto out;
	}
	o = json_object_new_object();
	q = json_object_new_object();
	for (i = 0; i < query.n; i++)
		json_object_object_add(q, query.v[i].key, json_object_new_string(query.v[i].value));
	json_object_object_add(o, "path", json_object_new_string(url));
	json_object_object_add(o, "query", q);
	json_object_object_add(o, "caller", json_object_new_string(u.id));
	rc = reply_json(c, MHD_HTTP_OK, o, NULL, NULL);
out:
	free(u.id);
	free(u.name);
	kvs_clear(&headers);
	kvs_clear(&query);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* /__control/ (for the standalone binary)                                  */
/* ------------------------------------------------------------------------ */

static fake_pixiv_endpoint endpoint_arg(const char *s)
{
	return s && strcmp(s, "api") == 0 ? FAKE_PIXIV_API : FAKE_PIXIV_TOKEN;
}

static const struct {
	const char *name;
	fake_pixiv_fault kind;
} fault_names[] = {
	{ "none", FAKE_PIXIV_FAULT_NONE }, { "status", FAKE_PIXIV_FAULT_STATUS },
	{ "delay", FAKE_PIXIV_FAULT_DELAY }, { "truncated", FAKE_PIXIV_FAULT_TRUNCATED },
	{ "not_json", FAKE_PIXIV_FAULT_NOT_JSON }, { "huge", FAKE_PIXIV_FAULT_HUGE },
	{ "reset", FAKE_PIXIV_FAULT_RESET }, { "redirect_loop", FAKE_PIXIV_FAULT_REDIRECT_LOOP },
	{ "huge_header", FAKE_PIXIV_FAULT_HUGE_HEADER },
};

static long num_arg(const fp_kvs *q, const char *key, long def)
{
	const char *v = kvs_get(q, key, 0);
	return v && *v ? strtol(v, NULL, 10) : def;
}

static enum MHD_Result handle_control(fake_pixiv *f, struct MHD_Connection *c, const char *cmd)
{
	fp_kvs q = { NULL, 0 };
	struct json_object *o = json_object_new_object();
	enum MHD_Result rc;
	const char *err = NULL;
	size_t i;

	MHD_get_connection_values(c, MHD_GET_ARGUMENT_KIND, collect, &q);
	if (strcmp(cmd, "user") == 0) {
		if (fake_pixiv_add_user(f, kvs_get(&q, "refresh_token", 0), kvs_get(&q, "user_id", 0),
		                        kvs_get(&q, "name", 0), kvs_get(&q, "mail", 0)) < 0)
			err = "refresh_token, user_id and name are required";
	} else if (strcmp(cmd, "revoke") == 0) {
		fake_pixiv_revoke(f, kvs_get(&q, "refresh_token", 0));
	} else if (strcmp(cmd, "config") == 0) {
		fake_pixiv_set_client(f, kvs_get(&q, "client_id", 0), kvs_get(&q, "client_secret", 0),
		                      kvs_get(&q, "hash_secret", 0));
		pthread_mutex_lock(&f->mu);
		f->expires_in = num_arg(&q, "expires_in", (long)f->expires_in);
		f->rotate = (int)num_arg(&q, "rotate", f->rotate);
		f->revoke_old = (int)num_arg(&q, "revoke_old", f->revoke_old);
		f->standard = (int)num_arg(&q, "standard", f->standard);
		f->send_refresh_token = (int)num_arg(&q, "send_refresh_token", f->send_refresh_token);
		f->client_error_status = num_arg(&q, "client_error_status", f->client_error_status);
		f->echo_error = (int)num_arg(&q, "echo_error", f->echo_error);
		pthread_mutex_unlock(&f->mu);
		if (kvs_get(&q, "required_param", 0))
			fake_pixiv_set_required_param(f, *kvs_get(&q, "required_param", 0) ? kvs_get(&q, "required_param", 0)
			                                                                  : NULL);
	} else if (strcmp(cmd, "clock") == 0) {
		fake_pixiv_set_clock_offset(f, num_arg(&q, "offset", 0));
	} else if (strcmp(cmd, "expire") == 0) {
		fake_pixiv_expire_access_tokens(f);
	} else if (strcmp(cmd, "fault") == 0) {
		const char *k = kvs_get(&q, "kind", 0);
		for (i = 0; k && i < sizeof(fault_names) / sizeof(fault_names[0]); i++)
			if (strcmp(k, fault_names[i].name) == 0)
				break;
		if (!k || i == sizeof(fault_names) / sizeof(fault_names[0]))
			err = "kind: none|status|delay|truncated|not_json|huge|reset|redirect_loop";
		else
			fake_pixiv_set_fault(f, endpoint_arg(kvs_get(&q, "endpoint", 0)), fault_names[i].kind,
			                     num_arg(&q, "param", 0), (int)num_arg(&q, "count", 1));
	} else if (strcmp(cmd, "rate_limit") == 0) {
		fake_pixiv_set_rate_limit(f, endpoint_arg(kvs_get(&q, "endpoint", 0)), num_arg(&q, "status", 429),
		                          num_arg(&q, "retry_after", -1), (int)num_arg(&q, "count", 1));
	} else if (strcmp(cmd, "counters") == 0) {
		json_object_object_add(o, "token", json_object_new_int64(fake_pixiv_count(f, FAKE_PIXIV_TOKEN)));
		json_object_object_add(o, "api", json_object_new_int64(fake_pixiv_count(f, FAKE_PIXIV_API)));
	} else if (strcmp(cmd, "reset_counters") == 0) {
		fake_pixiv_reset_counts(f);
	} else if (strcmp(cmd, "last") == 0) {
		char *v = kvs_get(&q, "what", 0) ? fake_pixiv_last(f, endpoint_arg(kvs_get(&q, "endpoint", 0)),
		                                                   kvs_get(&q, "what", 0)) : NULL;
		json_object_object_add(o, "value", v ? json_object_new_string(v) : NULL);
		free(v);
	} else if (strcmp(cmd, "refresh_token") == 0) {
		char *v = fake_pixiv_current_refresh_token(f, kvs_get(&q, "user_id", 0));
		json_object_object_add(o, "refresh_token", v ? json_object_new_string(v) : NULL);
		free(v);
	} else {
		err = "unknown command";
	}
	json_object_object_add(o, "ok", json_object_new_boolean(err == NULL));
	if (err)
		json_object_object_add(o, "error", json_object_new_string(err));
	kvs_clear(&q);
	rc = reply_json(c, err ? 400 : 200, o, NULL, NULL);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Dispatch                                                                 */
/* ------------------------------------------------------------------------ */

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                                  const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
	fake_pixiv *f = cls;
	fp_req *rq = *con_cls;
	int control;

	(void)version;
	if (!rq) {
		if (!(rq = calloc(1, sizeof(*rq))))
			return MHD_NO;
		*con_cls = rq;
		return MHD_YES;
	}
	if (*upload_size) {
		if (rq->len + *upload_size > FP_MAX_UPLOAD) {
			rq->too_big = 1;
		} else {
			char *grown = realloc(rq->body, rq->len + *upload_size + 1);
			if (!grown)
				return MHD_NO;
			rq->body = grown;
			memcpy(rq->body + rq->len, upload, *upload_size);
			rq->len += *upload_size;
			rq->body[rq->len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&f->mu);
	control = f->control;
	pthread_mutex_unlock(&f->mu);

	if (control && strncmp(url, "/__control/", 11) == 0)
		return handle_control(f, c, url + 11);
	if (strcmp(url, "/auth/token") == 0) {
		if (strcmp(method, "POST") != 0)
			return reply_rfc6749_error(c, 405, "invalid_request", "POST only", "Allow", "POST");
		return handle_token(f, c, url, rq);
	}
	if (strncmp(url, "/v1/", 4) == 0 || strncmp(url, "/v2/", 4) == 0) {
		if (strcmp(method, "GET") != 0)
			return reply_api_error(c, 405, "GET only", "Allow", "GET");
		return handle_api(f, c, url);
	}
	return reply_api_error(c, 404, "Page not found", NULL, NULL);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode t)
{
	fp_req *rq = *con_cls;

	(void)cls; (void)c; (void)t;
	if (rq) {
		free(rq->body);
		free(rq);
		*con_cls = NULL;
	}
}

/* ------------------------------------------------------------------------ */
/* Public API                                                               */
/* ------------------------------------------------------------------------ */

int fake_pixiv_start(fake_pixiv **out)
{
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	fake_pixiv *f;

	*out = NULL;
	if (!(f = calloc(1, sizeof(*f))))
		return -1;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->held_changed, NULL);
	f->client_id = xstrdup(FP_DEFAULT_CLIENT_ID);
	f->client_secret = xstrdup(FP_DEFAULT_CLIENT_SECRET);
	f->hash_secret = xstrdup(FP_DEFAULT_HASH_SECRET);
	f->expires_in = 3600;
	f->send_refresh_token = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = 0;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	f->daemon = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION,
	                             0, NULL, NULL, on_request, f,
	                             MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
	                             MHD_OPTION_NOTIFY_COMPLETED, on_completed, (void *)NULL,
	                             MHD_OPTION_NOTIFY_CONNECTION, fake_idle_notify, &f->idle,
	                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	                             /* Room for the huge_header fault's one long header line. */
	                             MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(256 * 1024),
	                             MHD_OPTION_END);
	if (!f->daemon || !(info = MHD_get_daemon_info(f->daemon, MHD_DAEMON_INFO_BIND_PORT)) || !info->port) {
		fake_pixiv_stop(f);
		return -1;
	}
	f->port = info->port;
	snprintf(f->base_url, sizeof(f->base_url), "http://127.0.0.1:%u", (unsigned int)f->port);
	*out = f;
	return 0;
}

void fake_pixiv_stop(fake_pixiv *f)
{
	size_t i;

	if (!f)
		return;
	/* A request still held would keep its connection thread, and the stop, waiting forever. */
	fake_pixiv_hold_token(f, 0);
	fake_pixiv_release_held(f, 0);
	if (f->daemon)
		MHD_stop_daemon(f->daemon);
	for (i = 0; i < f->nusers; i++) {
		free(f->users[i].id);
		free(f->users[i].name);
		free(f->users[i].mail);
	}
	free(f->users);
	for (i = 0; i < f->nrefresh; i++)
		free(f->refresh[i].token);
	free(f->refresh);
	for (i = 0; i < f->naccess; i++)
		free(f->access[i].token);
	free(f->access);
	for (i = 0; i < FAKE_PIXIV_ENDPOINTS; i++) {
		kvs_clear(&f->last_form[i]);
		kvs_clear(&f->last_header[i]);
		kvs_clear(&f->last_query[i]);
	}
	free(f->client_id);
	free(f->client_secret);
	free(f->hash_secret);
	free(f->required_param);
	pthread_cond_destroy(&f->held_changed);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

unsigned short fake_pixiv_port(const fake_pixiv *f)
{
	return f->port;
}

const char *fake_pixiv_base_url(const fake_pixiv *f)
{
	return f->base_url;
}

void fake_pixiv_enable_control(fake_pixiv *f, int on)
{
	pthread_mutex_lock(&f->mu);
	f->control = on;
	pthread_mutex_unlock(&f->mu);
}

static void replace(char **dst, const char *src)
{
	if (src) {
		free(*dst);
		*dst = xstrdup(src);
	}
}

void fake_pixiv_set_client(fake_pixiv *f, const char *client_id, const char *client_secret,
                           const char *hash_secret)
{
	pthread_mutex_lock(&f->mu);
	replace(&f->client_id, client_id);
	replace(&f->client_secret, client_secret);
	replace(&f->hash_secret, hash_secret);
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_set_client_error_status(fake_pixiv *f, long status)
{
	pthread_mutex_lock(&f->mu);
	f->client_error_status = status;
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_set_required_param(fake_pixiv *f, const char *name)
{
	pthread_mutex_lock(&f->mu);
	free(f->required_param);
	f->required_param = name ? xstrdup(name) : NULL;
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_set_expires_in(fake_pixiv *f, int64_t seconds)
{
	pthread_mutex_lock(&f->mu);
	f->expires_in = seconds;
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_set_rotation(fake_pixiv *f, int rotate, int revoke_old)
{
	pthread_mutex_lock(&f->mu);
	f->rotate = rotate;
	f->revoke_old = revoke_old;
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_set_standard(fake_pixiv *f, int standard, int send_refresh_token)
{
	pthread_mutex_lock(&f->mu);
	f->standard = standard;
	f->send_refresh_token = send_refresh_token;
	pthread_mutex_unlock(&f->mu);
}

int fake_pixiv_add_user(fake_pixiv *f, const char *refresh_token, const char *user_id, const char *name,
                        const char *mail)
{
	fp_user *grown;
	size_t i;

	if (!refresh_token || !*refresh_token || !user_id || !*user_id || !name)
		return -1;
	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->nusers && strcmp(f->users[i].id, user_id) != 0; i++)
		;
	if (i == f->nusers) {
		if (!(grown = realloc(f->users, (f->nusers + 1) * sizeof(*grown))))
			abort();
		f->users = grown;
		grown[i].id = xstrdup(user_id);
		grown[i].name = xstrdup(name);
		grown[i].mail = mail ? xstrdup(mail) : NULL;
		f->nusers++;
	}
	if (!find_token(f->refresh, f->nrefresh, refresh_token))
		add_token(&f->refresh, &f->nrefresh, xstrdup(refresh_token), i, 0, ++f->seq);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

void fake_pixiv_revoke(fake_pixiv *f, const char *refresh_token)
{
	fp_token *t;

	pthread_mutex_lock(&f->mu);
	if ((t = find_token(f->refresh, f->nrefresh, refresh_token)))
		t->revoked = 1;
	pthread_mutex_unlock(&f->mu);
}

char *fake_pixiv_current_refresh_token(fake_pixiv *f, const char *user_id)
{
	const fp_token *best = NULL;
	char *out = NULL;
	size_t i;

	if (!user_id)
		return NULL;
	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->nrefresh; i++)
		if (!f->refresh[i].revoked && strcmp(f->users[f->refresh[i].user].id, user_id) == 0 &&
		    (!best || f->refresh[i].seq > best->seq))
			best = &f->refresh[i];
	if (best)
		out = xstrdup(best->token);
	pthread_mutex_unlock(&f->mu);
	return out;
}

void fake_pixiv_set_clock_offset(fake_pixiv *f, int64_t seconds)
{
	pthread_mutex_lock(&f->mu);
	f->clock_offset = seconds;
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_expire_access_tokens(fake_pixiv *f)
{
	size_t i;

	pthread_mutex_lock(&f->mu);
	for (i = 0; i < f->naccess; i++)
		f->access[i].expires_at_ms = server_now_ms(f);
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_set_fault(fake_pixiv *f, fake_pixiv_endpoint ep, fake_pixiv_fault kind, long param, int count)
{
	if ((int)ep < 0 || ep >= FAKE_PIXIV_ENDPOINTS)
		return;
	pthread_mutex_lock(&f->mu);
	f->mis[ep].fault = count ? kind : FAKE_PIXIV_FAULT_NONE;
	f->mis[ep].fault_param = param;
	f->mis[ep].fault_count = count;
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_set_rate_limit(fake_pixiv *f, fake_pixiv_endpoint ep, long status, long retry_after, int count)
{
	if ((int)ep < 0 || ep >= FAKE_PIXIV_ENDPOINTS)
		return;
	pthread_mutex_lock(&f->mu);
	f->mis[ep].rl_status = status;
	f->mis[ep].rl_retry_after = retry_after;
	f->mis[ep].rl_count = count;
	pthread_mutex_unlock(&f->mu);
}

void fake_pixiv_hold_token(fake_pixiv *f, int count)
{
	pthread_mutex_lock(&f->mu);
	f->hold_count = count;
	pthread_mutex_unlock(&f->mu);
}

int fake_pixiv_wait_held(fake_pixiv *f, long timeout_ms, unsigned short *client_port)
{
	struct timespec until;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->mu);
	while (f->held == 0 && rc == 0)
		rc = pthread_cond_timedwait(&f->held_changed, &f->mu, &until);
	if (f->held > 0 && client_port)
		*client_port = f->held_port;
	rc = f->held > 0 ? 0 : -1;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

void fake_pixiv_release_held(fake_pixiv *f, int process)
{
	pthread_mutex_lock(&f->mu);
	f->release_process = process;
	f->release_gen++;
	pthread_cond_broadcast(&f->held_changed);
	pthread_mutex_unlock(&f->mu);
}

int fake_pixiv_wait_idle(fake_pixiv *f, long timeout_ms)
{
	return fake_idle_wait(f->daemon, &f->idle, timeout_ms);
}

long fake_pixiv_count(fake_pixiv *f, fake_pixiv_endpoint ep)
{
	long n;

	if ((int)ep < 0 || ep >= FAKE_PIXIV_ENDPOINTS)
		return -1;
	pthread_mutex_lock(&f->mu);
	n = f->count[ep];
	pthread_mutex_unlock(&f->mu);
	return n;
}

void fake_pixiv_reset_counts(fake_pixiv *f)
{
	pthread_mutex_lock(&f->mu);
	memset(f->count, 0, sizeof(f->count));
	pthread_mutex_unlock(&f->mu);
}

char *fake_pixiv_last(fake_pixiv *f, fake_pixiv_endpoint ep, const char *what)
{
	const char *v = NULL;
	char *out;

	if ((int)ep < 0 || ep >= FAKE_PIXIV_ENDPOINTS || !what)
		return NULL;
	pthread_mutex_lock(&f->mu);
	if (strncmp(what, "form:", 5) == 0)
		v = kvs_get(&f->last_form[ep], what + 5, 0);
	else if (strncmp(what, "header:", 7) == 0)
		v = kvs_get(&f->last_header[ep], what + 7, 1);
	else if (strncmp(what, "query:", 6) == 0)
		v = kvs_get(&f->last_query[ep], what + 6, 0);
	out = v ? xstrdup(v) : NULL;
	pthread_mutex_unlock(&f->mu);
	return out;
}
