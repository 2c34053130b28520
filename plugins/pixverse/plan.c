/*
 * The account's plan (plan_details): how many jobs it may run at once,
 * which the pool needs before it hands the account a job. The service says
 * gen_simultaneously; when it does not, the plan tier decides (2 free,
 * 5 paid), as the notes' workers do.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

#define PV_PLAN_PATH "/creative_platform/toc/members/plan_details"
#define PV_FREE_MAX_CONCURRENT 2
#define PV_PAID_MAX_CONCURRENT 5

int64_t pv_plan_max_concurrent(int64_t gen_simultaneously, int64_t plan_type)
{
	if (gen_simultaneously > 0)
		return gen_simultaneously;
	return plan_type >= 1 ? PV_PAID_MAX_CONCURRENT : PV_FREE_MAX_CONCURRENT;
}

int pv_plan_read(const pv_state *st, const provauth_session *s, char **out_json, int64_t *max_concurrent,
                 provauth_failure *f)
{
	const provauth_host *h = st->host;
	const provauth_json *q;
	int64_t plan_type = 0, gen = 0;
	char *qualities = NULL;
	pv_reply r;
	int rc;

	if ((rc = pv_web_call(st, s, "POST", PV_PLAN_PATH, "{}", 0, 1, &r, f)) < 0)
		return rc;
	if (h->json_int(h->json_get(r.resp, "current_plan_type"), &plan_type) < 0)
		plan_type = 0;
	if (h->json_int(h->json_get(r.resp, "gen_simultaneously"), &gen) < 0 || gen < 0 || gen > 1000)
		gen = 0;
	*max_concurrent = pv_plan_max_concurrent(gen, plan_type);
	if (out_json) {
		q = h->json_get(r.resp, "qualities");
		if (h->json_type(q) == PROVAUTH_JSON_ARRAY && !(qualities = h->json_serialize(q))) {
			pv_reply_free(st, &r);
			return pv_oom_failure(h, f);
		}
		*out_json = h->json_format(h, "{\"plan_name\":%s,\"plan_type\":%i,\"max_concurrent\":%i,"
		                           "\"gen_simultaneously\":%i,\"qualities\":%j}",
		                           h->json_string(h->json_get(r.resp, "plan_name")), plan_type, *max_concurrent, gen,
		                           qualities ? qualities : "[]");
		h->free(h, qualities);
		if (!*out_json) {
			pv_reply_free(st, &r);
			return pv_oom_failure(h, f);
		}
	}
	pv_reply_free(st, &r);
	return 0;
}

int pv_op_plan(void *state, const provauth_session *s, const provauth_op_arg *args, size_t nargs,
               char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	int64_t max;

	if (nargs)
		return st->host->set_error(st->host, PROVAUTH_EINVAL, "pixverse: plan takes no arguments (got '%.40s')",
		                           args[0].key ? args[0].key : "");
	return pv_plan_read(st, s, out_json, &max, f);
}
