/*
 * When an account is due, and for what. Pure arithmetic on the store's
 * facts: every daemon on one store computes the same plan, and the one
 * that takes the account's lease re-computes it from a fresh read.
 *
 * time_scale divides the keeper's own intervals (max_idle, credit_sync,
 * the retry delay) so a test sees a day pass in seconds. refresh_ahead is
 * not scaled: it is a margin before a real token's real expiry, which no
 * setting of ours speeds up.
 */
#include "config.h"
#include <string.h>
#include "keeper.h"

const char *pad_keep_kind_name(pad_keep_kind k)
{
	switch (k) {
	case PAD_KEEP_REFRESH: return "refresh";
	case PAD_KEEP_IDLE: return "probe";
	case PAD_KEEP_SYNC: return "credit_sync";
	default: return "none";
	}
}

int64_t pad_jitter(int64_t interval, int64_t percent, double rnd)
{
	int64_t spread;

	if (percent <= 0 || interval <= 0)
		return interval;
	if (percent > 100)
		percent = 100;
	spread = interval * percent / 100;
	if (rnd < 0)
		rnd = 0;
	if (rnd >= 1)
		rnd = 0.999999;
	return interval - spread + (int64_t)(rnd * (double)(2 * spread + 1));
}

double pad_keep_rnd(const char *id, int64_t salt)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	const unsigned char *p;
	int i;

	for (p = (const unsigned char *)id; p && *p; p++)
		h = (h ^ *p) * 1099511628211ULL;
	for (i = 0; i < 8; i++)
		h = (h ^ (uint64_t)((salt >> (8 * i)) & 0xff)) * 1099511628211ULL;
	return (double)(h >> 11) / 9007199254740992.0; /* 53 bits */
}

int64_t pad_keep_scaled(const pad_keeper_config *c, int64_t seconds)
{
	int64_t s = c->time_scale > 1 ? seconds / c->time_scale : seconds;

	return s > 0 ? s : 1;
}

int64_t pad_keep_retry_after(const pad_keeper_config *c, const pad_keep_facts *f)
{
	int64_t r = pad_keep_scaled(c, c->max_idle) / 96;

	if (r > 300)
		r = 300;
	/* A token about to expire is worth trying again sooner. */
	if (f->refreshable && f->expires_at > 0 && c->refresh_ahead / 4 < r)
		r = c->refresh_ahead / 4;
	return r > 0 ? r : 1;
}

static void consider(pad_keep_plan *p, pad_keep_kind k, int64_t due, int64_t within)
{
	if (p->kind == PAD_KEEP_NONE || due < p->due) {
		p->kind = k;
		p->due = due;
		p->within = within;
	}
}

void pad_keep_plan_for(pad_keep_plan *out, const pad_keeper_config *c, const pad_keep_facts *f, int64_t now)
{
	int64_t base, idle, retry_at;

	memset(out, 0, sizeof(*out));
	if (f->refreshable && f->expires_at > 0)
		consider(out, PAD_KEEP_REFRESH, f->expires_at - c->refresh_ahead, c->refresh_ahead);
	/*
	 * Never kept by a daemon: its clock starts at its last write (an import
	 * is a sign of life). A refreshable account's last write is also its
	 * last refresh, which leaves no record of its own (run_task): the later
	 * of the two counts.
	 */
	base = f->rec.kept_at ? f->rec.kept_at : f->updated_at ? f->updated_at : now;
	if (f->refreshable && f->updated_at > base)
		base = f->updated_at;
	idle = pad_jitter(pad_keep_scaled(c, c->max_idle), c->jitter_percent, pad_keep_rnd(f->id, base));
	consider(out, PAD_KEEP_IDLE, base + idle, f->refreshable ? -1 : 0);
	if (f->pooled) {
		base = f->rec.synced_at ? f->rec.synced_at : f->updated_at ? f->updated_at : now;
		consider(out, PAD_KEEP_SYNC,
		         base + pad_jitter(pad_keep_scaled(c, c->credit_sync), c->jitter_percent,
		                           pad_keep_rnd(f->id, base + 1)),
		         0);
	}
	/* A failure is not retried before its delay, whatever is owed. */
	retry_at = f->rec.failed_at ? f->rec.failed_at + pad_keep_retry_after(c, f) : 0;
	if (out->due < retry_at)
		out->due = retry_at;
	(void)now;
}
