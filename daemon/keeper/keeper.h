/*
 * keeper/'s own header: when an account is due (schedule.c), apart from
 * the threads that do the work (keeper.c), so the arithmetic is tested
 * alone.
 */
#ifndef PAD_KEEPER_H
#define PAD_KEEPER_H

#include <stdint.h>
#include "daemon.h"
#include "record.h"

typedef enum pad_keep_kind {
	PAD_KEEP_NONE = 0,
	PAD_KEEP_REFRESH,      /* the access token expires within refresh_ahead: keep(within) */
	PAD_KEEP_IDLE,         /* max_idle passed: a forced refresh, or a probe */
	PAD_KEEP_SYNC          /* credit_sync passed (providers with pool hooks) */
} pad_keep_kind;

const char *pad_keep_kind_name(pad_keep_kind k);

/* What the schedule needs to know of one account. */
typedef struct pad_keep_facts {
	const char *id;
	int64_t expires_at;     /* the access token's expiry; 0 none */
	int refreshable;        /* the provider refreshes and the account has a refresh token */
	int pooled;             /* the provider has pool hooks (as far as the keeper knows) */
	int64_t updated_at;     /* the account's last store write: the start of its clock if never kept */
	pad_record rec;
} pad_keep_facts;

typedef struct pad_keep_plan {
	pad_keep_kind kind;     /* the earliest of what is owed */
	int64_t due;            /* unix s */
	int64_t within;         /* REFRESH: refresh_ahead; IDLE with refreshable: -1 */
} pad_keep_plan;

/* interval +- percent %: rnd in [0, 1) picks where (0 the shortest). */
int64_t pad_jitter(int64_t interval, int64_t percent, double rnd);
/* A stable number in [0, 1) for an account and its last keep: its jitter stays put between scans. */
double pad_keep_rnd(const char *id, int64_t salt);
/* The keeper's intervals, divided by time_scale (at least 1 s). */
int64_t pad_keep_scaled(const pad_keeper_config *c, int64_t seconds);
/* After a failure, the account is not tried again for this long (s). */
int64_t pad_keep_retry_after(const pad_keeper_config *c, const pad_keep_facts *f);
/* What account `f` is owed next and when. */
void pad_keep_plan_for(pad_keep_plan *out, const pad_keeper_config *c, const pad_keep_facts *f, int64_t now);

#endif /* PAD_KEEPER_H */
