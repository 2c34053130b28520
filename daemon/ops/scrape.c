/*
 * GET /metrics: the gauges that are cheaper to read at scrape time than to
 * keep up to date (pool slots from the store of the request's world, the
 * keeper's lag, requests in flight), then the text of every family.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "ops/ops.h"

#define PAD_SCRAPE_PROVIDERS 64

typedef struct provider_slots {
	char provider[48];
	int64_t in_use, free;
} provider_slots;

static void fill_pool_slots(provauth_manager *m)
{
	provider_slots by[PAD_SCRAPE_PROVIDERS];
	provauth_pool_account **list = NULL;
	size_t count = 0, nby = 0, i, j;

	if (provauth_pool_list(&list, &count, NULL, NULL, m, NULL) < 0)
		return;
	for (i = 0; i < count; i++) {
		const provauth_pool_account *a = list[i];
		int cap = a->effective_cap > 0 && (a->max_slots <= 0 || a->effective_cap < a->max_slots)
		                  ? a->effective_cap : a->max_slots;

		if (!a->provider)
			continue;
		for (j = 0; j < nby && strcmp(by[j].provider, a->provider); j++)
			;
		if (j == nby) {
			if (nby == PAD_SCRAPE_PROVIDERS)
				continue;
			snprintf(by[nby].provider, sizeof(by[nby].provider), "%s", a->provider);
			by[nby].in_use = by[nby].free = 0;
			nby++;
		}
		by[j].in_use += a->in_use;
		if (cap > a->in_use)
			by[j].free += cap - a->in_use;
	}
	provauth_pool_account_list_free(list, count);
	for (j = 0; j < nby; j++) {
		char labels[96];

		snprintf(labels, sizeof(labels), "provider=%s,state=in_use", by[j].provider);
		pad_metric_set("provauthd_pool_slots", labels, by[j].in_use);
		snprintf(labels, sizeof(labels), "provider=%s,state=free", by[j].provider);
		pad_metric_set("provauthd_pool_slots", labels, by[j].free);
	}
}

int pad_handle_metrics(pad_request *req, pad_reply *rep)
{
	char *text;
	size_t len;
	int rc;

	if (req->world && req->world->manager)
		fill_pool_slots(req->world->manager);
	/*
	 * The keeper's lag is set by the keeper at each scan: reading it from
	 * here would race with a reload or a drain that stops the keeper.
	 */
	if (req->daemon) {
		if (req->daemon->server)
			pad_metric_set("provauthd_in_flight", "", pad_server_in_flight(req->daemon->server));
		pad_metric_set("provauthd_up", "", 1);
	}
	if ((rc = pad_metrics_render(&text, &len)) < 0)
		return rc;
	return pad_ops_reply_owned(rep, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}
