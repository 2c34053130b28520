/*
 * One call to the web API with the session's credentials (token header,
 * cookies, the account's client ids): what every named operation and pool
 * hook sends. A failure is described exactly as the reply came, for
 * run_with_session's classifier; nothing here retries.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

int pv_oom_failure(const provauth_host *h, provauth_failure *f)
{
	h->failure_set_message(f, PROVAUTH_ENOMEM, "pixverse: out of memory");
	return PROVAUTH_ENOMEM;
}

int pv_web_call(const pv_state *st, const provauth_session *s, const char *method, const char *path,
                const char *body, int refresh_credit, int need_resp, pv_reply *r, provauth_failure *f)
{
	const provauth_host *h = st->host;
	const pv_session_data *data = s->provider_data;
	pv_request req;
	provauth_cookie *jar;
	char *url, msg[PV_TRANSPORT_MAX + 160];
	int rc;

	memset(r, 0, sizeof(*r));
	if (!(url = provauth_plugin_url_join(h, st->base_url, path)))
		return pv_oom_failure(h, f);
	memset(&req, 0, sizeof(req));
	req.method = method;
	req.url = url;
	req.endpoint = path;
	if (pv_session_cookies(h, s, &jar, &req.cookie_count) < 0) {
		h->free(h, url);
		return pv_oom_failure(h, f);
	}
	req.jwt = h->session_credential(s, PROVAUTH_CRED_JWT, NULL);
	req.cookies = jar;
	req.ids = data ? &data->ids : NULL;
	req.body = body;
	req.body_len = body ? strlen(body) : 0;
	req.refresh_credit = refresh_credit;
	rc = pv_send(st, &req, r);
	free(jar);
	h->free(h, url);
	if (rc < 0) {
		snprintf(msg, sizeof(msg), "pixverse: %s %s: %s", method, path, r->transport);
		h->failure_set_transport(f, rc, msg);
		return rc;
	}
	if ((rc = pv_reply_to_failure(st, r, path, need_resp, f)) < 0)
		pv_reply_free(st, r);
	return rc;
}
