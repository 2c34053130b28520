/*
 * /healthz and /readyz. Alive means the process answers, so /healthz says
 * ok even while draining (a supervisor must not kill a daemon finishing
 * its requests). Ready means new work is welcome: not draining, and the
 * world's store answers a cheap read (one account id that does not exist:
 * ENOTFOUND is an answer, a dead database is not).
 */
#include "config.h"
#include <stdio.h>
#include "ops/ops.h"

#define PAD_READYZ_PROBE_ID "provauthd-readyz-probe"

int pad_handle_healthz(pad_request *req, pad_reply *rep)
{
	static const char body[] = "{\"status\":\"ok\"}";

	(void)req;
	return pad_reply_text(rep, 200, "application/json", body, sizeof(body) - 1);
}

static int not_ready(pad_reply *rep, const char *reason)
{
	char body[160];
	int n = snprintf(body, sizeof(body), "{\"status\":\"not_ready\",\"reason\":\"%s\"}", reason);

	return pad_reply_text(rep, 503, "application/json", body, (size_t)n);
}

int pad_handle_readyz(pad_request *req, pad_reply *rep)
{
	provauth_account *a = NULL;
	char body[160];
	int rc, n;

	if (req->daemon && atomic_load(&req->daemon->draining))
		return not_ready(rep, "draining");
	if (!req->world || !req->world->manager)
		return not_ready(rep, "no_world");
	rc = provauth_account_get(&a, req->world->manager, PAD_READYZ_PROBE_ID);
	provauth_account_free(a);
	if (rc < 0 && rc != PROVAUTH_ENOTFOUND)
		return not_ready(rep, "store_unavailable");
	n = snprintf(body, sizeof(body), "{\"status\":\"ready\",\"generation\":%llu,\"store\":\"ok\"}",
	             (unsigned long long)req->world->generation);
	return pad_reply_text(rep, 200, "application/json", body, (size_t)n);
}
