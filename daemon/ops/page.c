/*
 * GET /: the status page. Server-rendered (the table is complete without
 * the script: provauth_account_list for health, provauth_pool_list for
 * slots, credits and cooldowns), every stored text HTML-escaped, under a
 * strict Content-Security-Policy that allows only the page's own style and
 * script by hash (page_assets.h) and fetches only from the daemon. Without
 * a READ token (bearer or sign-in cookie) it is the sign-in form instead.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include "ops/ops.h"
#include "ops/page_assets.h"

static const char page_style[] = PAD_PAGE_STYLE;
static const char page_script[] = PAD_PAGE_SCRIPT;

static pthread_once_t csp_once = PTHREAD_ONCE_INIT;
static char csp[512];

static void hash_b64(char *out, size_t size, const char *s)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned char b64[96];
	unsigned int len = 0;

	out[0] = '\0';
	if (EVP_Digest(s, strlen(s), md, &len, EVP_sha256(), NULL) != 1)
		return;
	EVP_EncodeBlock(b64, md, (int)len);
	snprintf(out, size, "%s", (const char *)b64);
}

static void build_csp(void)
{
	char style[64], script[64];

	hash_b64(style, sizeof(style), page_style);
	hash_b64(script, sizeof(script), page_script);
	snprintf(csp, sizeof(csp),
	         "default-src 'none'; script-src 'sha256-%s'; style-src 'sha256-%s'; connect-src 'self'; "
	         "img-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
	         script, style);
}

static int page_headers(pad_reply *rep)
{
	int rc;

	pthread_once(&csp_once, build_csp);
	if ((rc = pad_reply_header(rep, "Content-Security-Policy", csp)) < 0 ||
	    (rc = pad_reply_header(rep, "X-Content-Type-Options", "nosniff")) < 0 ||
	    (rc = pad_reply_header(rep, "Referrer-Policy", "no-referrer")) < 0 ||
	    (rc = pad_reply_header(rep, "Cache-Control", "no-store")) < 0)
		return rc;
	return 0;
}

static void page_start(pad_ops_buf *b, const char *title)
{
	pad_ops_put(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>");
	pad_ops_put_html(b, title);
	pad_ops_put(b, "</title><style>" PAD_PAGE_STYLE "</style></head><body>\n");
}

static int finish(pad_ops_buf *b, pad_reply *rep, int status)
{
	int rc;

	if (b->failed) {
		free(b->p);
		return PROVAUTH_ENOMEM;
	}
	if ((rc = pad_ops_reply_owned(rep, status, "text/html; charset=utf-8", b->p, b->len)) < 0)
		return rc;
	return page_headers(rep);
}

int pad_ops_login_form(pad_request *req, pad_reply *rep, int status, const char *error)
{
	pad_ops_buf b = { 0 };

	(void)req;
	page_start(&b, "provauthd: sign in");
	pad_ops_put(&b, "<h1>provauthd</h1>\n<p>Paste a token of this daemon (one of the settings' "
	                "<code>daemon.tokens</code>, with the read scope) to see its accounts.</p>\n");
	if (error && *error) {
		pad_ops_put(&b, "<p class=\"error\" id=\"pad-error\">");
		pad_ops_put_html(&b, error);
		pad_ops_put(&b, "</p>\n");
	}
	pad_ops_put(&b, "<form method=\"post\" action=\"/login\">"
	                "<label for=\"token\">Token</label> "
	                "<input type=\"password\" id=\"token\" name=\"token\" autocomplete=\"off\" required> "
	                "<button type=\"submit\" id=\"sign-in\">Sign in</button></form>\n</body></html>\n");
	return finish(&b, rep, status);
}

static void put_time(pad_ops_buf *b, int64_t t)
{
	char s[40];
	time_t tt = (time_t)t;
	struct tm tm;

	if (!gmtime_r(&tt, &tm) || !strftime(s, sizeof(s), "%Y-%m-%d %H:%M:%S UTC", &tm))
		snprintf(s, sizeof(s), "%lld", (long long)t);
	pad_ops_put(b, s);
}

static const provauth_pool_account *pool_of(provauth_pool_account **pool, size_t n, const char *id)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (pool[i]->account_id && !strcmp(pool[i]->account_id, id))
			return pool[i];
	return NULL;
}

static void put_cell(pad_ops_buf *b, const char *cls, const char *text)
{
	pad_ops_put(b, cls ? "<td class=\"" : "<td>");
	if (cls) {
		pad_ops_put_html(b, cls);
		pad_ops_put(b, "\">");
	}
	pad_ops_put_html(b, text);
	pad_ops_put(b, "</td>");
}

static void put_row(pad_ops_buf *b, const provauth_account *a, const provauth_pool_account *p, int64_t now)
{
	const provauth_health *h = &a->state.health;
	const char *state = h->state && *h->state ? h->state : "not checked yet";
	const char *need = pad_needs_human_code(h->state, h->reason, a->state.refresh_refused != NULL,
	                                       p ? p->status : NULL);
	size_t i;

	pad_ops_put(b, need ? "<tr class=\"needs-human\">" : "<tr>");
	put_cell(b, NULL, a->provider ? a->provider : "");
	put_cell(b, NULL, a->email ? a->email : "");
	put_cell(b, !strcmp(state, "invalid") ? "health-invalid" : !strcmp(state, "ok") ? "health-ok" : "health-other",
	         state);
	pad_ops_put(b, "<td>");
	if (p && p->cooldown_until > now) {
		pad_ops_put(b, "until ");
		put_time(b, p->cooldown_until);
		if (p->cooldown_reason && *p->cooldown_reason) {
			pad_ops_put(b, " (");
			pad_ops_put_html(b, p->cooldown_reason);
			pad_ops_put(b, ")");
		}
	} else {
		pad_ops_put(b, "none");
	}
	pad_ops_put(b, "</td><td>");
	if (p)
		pad_ops_putf(b, "%d / %d", p->in_use, p->effective_cap > 0 && p->effective_cap < p->max_slots
		                                              ? p->effective_cap : p->max_slots);
	else
		pad_ops_put(b, "unknown");
	pad_ops_put(b, "</td><td>");
	if (!p || !p->credit_count)
		pad_ops_put(b, "unknown");
	for (i = 0; p && i < p->credit_count; i++) {
		if (i)
			pad_ops_put(b, ", ");
		pad_ops_put_html(b, p->credits[i].kind ? p->credits[i].kind : "credits");
		pad_ops_putf(b, " %lld", (long long)p->credits[i].amount);
	}
	pad_ops_put(b, "</td><td>");
	if (h->state && !strcmp(h->state, "ok") && h->at > 0)
		put_time(b, h->at);
	else
		pad_ops_put(b, "none");
	pad_ops_put(b, "</td>");
	put_cell(b, NULL, need ? pad_needs_human_words(need, provauth_account_auth_method(a)) : "");
	pad_ops_put(b, "</tr>\n");
}

int pad_handle_status_page(pad_request *req, pad_reply *rep)
{
	provauth_account **accounts = NULL;
	provauth_pool_account **pool = NULL;
	size_t n = 0, npool = 0, i;
	pad_ops_buf b = { 0 };
	int64_t now = pad_now();
	int rc;

	if (!pad_ops_page_token(req))
		return pad_ops_login_form(req, rep, 200, NULL);
	if ((rc = provauth_account_list(&accounts, &n, req->world->manager, NULL)) < 0)
		return rc;
	if (provauth_pool_list(&pool, &npool, NULL, NULL, req->world->manager, NULL) < 0) {
		pool = NULL;
		npool = 0;
	}
	page_start(&b, "provauthd: accounts");
	pad_ops_putf(&b, "<h1>provauthd</h1>\n<p id=\"pad-summary\">%zu account%s; settings generation %llu.</p>\n"
	                 "<p id=\"pad-updated\" class=\"muted\">Rendered ", n, n == 1 ? "" : "s",
	             (unsigned long long)req->world->generation);
	put_time(&b, now);
	pad_ops_put(&b, ".</p>\n<table id=\"pad-table\"><thead><tr><th>Provider</th><th>Email</th><th>Health</th>"
	                "<th>Cooldown</th><th>Slots (in use / max)</th><th>Credits</th><th>Last recovery</th>"
	                "<th>Needs a human</th></tr></thead>\n<tbody id=\"pad-accounts\">\n");
	for (i = 0; i < n; i++)
		put_row(&b, accounts[i], pool_of(pool, npool, accounts[i]->id), now);
	pad_ops_put(&b, "</tbody></table>\n");
	pad_ops_put(&b, "<script>" PAD_PAGE_SCRIPT "</script>\n</body></html>\n");
	provauth_account_list_free(accounts, n);
	provauth_pool_account_list_free(pool, npool);
	return finish(&b, rep, 200);
}
