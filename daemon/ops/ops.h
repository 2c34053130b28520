/*
 * What the files of ops/ share and nothing else sees: the metrics text, the
 * replies they build (set on pad_reply directly, so ops/ needs nothing of
 * http/ but the struct), the status page's words and the sign-in cookie.
 */
#ifndef PAD_OPS_H
#define PAD_OPS_H

#include "daemon.h"

#define PAD_METRIC_BUCKETS 10
#define PAD_OPS_COOKIE "provauthd_token"

/* Every family's HELP and TYPE and every series, Prometheus text format 0.0.4. */
int pad_metrics_render(char **out, size_t *len);

/* A reply with a copy of `body` (len bytes). */
int pad_ops_reply(pad_reply *rep, int status, const char *content_type, const char *body, size_t len);
/* Takes ownership of `body` (malloc()ed). */
int pad_ops_reply_owned(pad_reply *rep, int status, const char *content_type, char *body, size_t len);
int pad_ops_header(pad_reply *rep, const char *name, const char *value);

/* The sentence a person reads when an account needs a human ("banned", "session_lost", ...). */
const char *pad_ops_reason_words(const char *reason, int google);
/*
 * What an account needs a human for, from its stored health and its pool
 * status: "session_lost", "refresh_token_dead", "banned",
 * "credits_exhausted", or NULL when it does not.
 */
const char *pad_ops_needs_human(const char *health_state, const char *health_reason, const char *pool_status);

/* The sign-in form, with `error` (plain text, escaped here) when not NULL. */
int pad_ops_login_form(pad_request *req, pad_reply *rep, int status, const char *error);

/* The page's token: a READ (or higher) token from the bearer or the sign-in cookie, or NULL. */
const pad_token *pad_ops_page_token(const pad_request *req);

/* Appends `s` HTML-escaped to a growing buffer; -1 on ENOMEM. */
typedef struct pad_ops_buf {
	char *p;
	size_t len, cap;
	int failed;
} pad_ops_buf;
void pad_ops_put(pad_ops_buf *b, const char *s);
void pad_ops_put_html(pad_ops_buf *b, const char *s);
void pad_ops_putf(pad_ops_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif /* PAD_OPS_H */
