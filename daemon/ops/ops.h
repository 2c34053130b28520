/*
 * What the files of ops/ share and nothing else sees: the metrics text, a
 * reply that takes its body without a copy, the status page's buffer and
 * the sign-in cookie.
 */
#ifndef PAD_OPS_H
#define PAD_OPS_H

#include "daemon.h"

#define PAD_METRIC_BUCKETS 10
#define PAD_OPS_COOKIE "provauthd_token"

/* Every family's HELP and TYPE and every series, Prometheus text format 0.0.4. */
int pad_metrics_render(char **out, size_t *len);

/* Takes ownership of `body` (malloc()ed). */
int pad_ops_reply_owned(pad_reply *rep, int status, const char *content_type, char *body, size_t len);

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
