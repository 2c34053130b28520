/*
 * What the account pool asks of Pixverse (ABI 2.1 hooks): a job's cost
 * before it is sent (the same validation as generate, no I/O), an
 * account's credits, jobs at once and whether it is blocked, and the state
 * of its jobs (jobs.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

/* Jobs at once an account may run before its plan has been read: a free plan's. */
#define PV_POOL_DEFAULT_MAX_CONCURRENT 2

int pv_estimate_cost(void *state, const char *operation, const provauth_op_arg *args, size_t nargs,
                     char kind[PROVAUTH_CREDIT_KIND_MAX], int64_t *cost)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	pv_gen g;
	int rc;

	if (!operation || strcmp(operation, "generate") != 0)
		return h->set_error(h, PROVAUTH_ENOTFOUND, "pixverse: %.40s is no job (only generate costs credits)",
		                    operation ? operation : "(null)");
	if (!kind || !cost)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: estimate_cost: kind and cost are required");
	if ((rc = pv_gen_parse(h, args, nargs, &g)) < 0)
		return rc;
	snprintf(kind, PROVAUTH_CREDIT_KIND_MAX, "%s", PV_CREDIT_KIND_WEB);
	*cost = g.cost;
	return 0;
}

/* How classify_error judges the failure. */
static void judge(const pv_state *st, const provauth_failure *f, provauth_outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->result = f->code;
	o->retry_after = -1;
	pv_classify_error((void *)st, f, o);
}

static void failure_forget(const provauth_host *h, provauth_failure *f)
{
	h->free(h, f->message);
	h->free(h, f->body);
	memset(f, 0, sizeof(*f));
	f->retry_after = -1;
}

int pv_pool_status(void *state, const provauth_session *s, char **out_json, provauth_failure *f)
{
	const pv_state *st = state;
	const provauth_host *h = st->host;
	int64_t web = 0, openapi, max = 0;
	provauth_outcome o;
	int rc;

	if ((rc = pv_web_credits(st, s, &web, f)) < 0) {
		/* A blocked account is an answer, not a failure: the pool takes it out of rotation. */
		judge(st, f, &o);
		if (o.result != PROVAUTH_EBANNED)
			return rc;
		failure_forget(h, f);
		*out_json = h->json_format(h, "{\"credits\":{\"web\":0},\"max_concurrent\":0,\"blocked\":true}");
		return *out_json ? 0 : pv_oom_failure(h, f);
	}
	if ((rc = pv_plan_read(st, s, NULL, &max, f)) < 0) {
		/* Only a lost session fails the call; without the plan the limit is unknown (0): the pool's default. */
		judge(st, f, &o);
		if (o.is_session_error)
			return rc;
		failure_forget(h, f);
		max = 0;
	}
	openapi = pv_openapi_credits_if_key(st, s);
	if (openapi >= 0)
		*out_json = h->json_format(h, "{\"credits\":{\"web\":%i,\"openapi\":%i},\"max_concurrent\":%i,"
		                           "\"blocked\":false}", web, openapi, max);
	else
		*out_json = h->json_format(h, "{\"credits\":{\"web\":%i},\"max_concurrent\":%i,\"blocked\":false}", web,
		                           max);
	return *out_json ? 0 : pv_oom_failure(h, f);
}

const provauth_pool_hooks pv_pool_hooks = {
	sizeof(provauth_pool_hooks),
	PV_CREDIT_KIND_WEB,
	PV_POOL_DEFAULT_MAX_CONCURRENT,
	pv_estimate_cost,
	pv_pool_status,
	pv_job_status,
};
