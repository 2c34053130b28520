/*
 * <provauth/pool.h>: an account pool. Servers that run work (generation
 * jobs) through many accounts of one provider ask the pool for an account
 * that can take a job now, submit through the session manager, and give the
 * account back with what happened. The pool is provider-neutral: what it
 * must know of an account (credits by kind, how many jobs it may run at
 * once, what a job costs) comes from the provider's pool hooks
 * (<provauth/plugin.h>, provauth_pool_hooks).
 *
 * Reservations live in the manager's store, so they hold across threads,
 * processes and hosts sharing it (sqlite: one transaction; postgres: row
 * locks taken with FOR UPDATE SKIP LOCKED). A reservation belongs to the
 * process that took it until a job is attached (provauth_pool_attach_job);
 * if that process dies first, the slot is reclaimed by the rules that free
 * a dead holder's lease (at once on this host or with postgres; else after
 * pool.reservation_ttl). Once a job is attached the slot belongs to the job:
 * it is freed by a release, from any process, or by
 * provauth_pool_reconcile once the provider says the job ended, or after
 * pool.reservation_ttl.
 */
#ifndef PROVAUTH_POOL_H
#define PROVAUTH_POOL_H

#include <provauth/provauth.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What happened to the job an account was reserved for. */
typedef enum provauth_pool_outcome {
	PROVAUTH_POOL_DONE = 0,        /* the job ran (finished, or failed for its own reasons) */
	PROVAUTH_POOL_UNUSED,          /* nothing was submitted: the slot is simply freed */
	PROVAUTH_POOL_CONCURRENCY,     /* refused, too many jobs: pool.concurrency_cooldown
	                                  (6 s) and a lower effective cap, probed upward again
	                                  after pool.cap_probe_interval */
	PROVAUTH_POOL_NO_CREDITS,      /* exhausted until provauth_pool_sync finds credits */
	PROVAUTH_POOL_SESSION_LOST,    /* the session could not be recovered: pool.session_cooldown (300 s) */
	PROVAUTH_POOL_MODERATED,       /* moderation refused the content: the cost is given back,
	                                  the account is not to blame */
	PROVAUTH_POOL_BANNED,          /* the provider blocked the account: never chosen again */
	PROVAUTH_POOL_FAILED           /* the job failed at the provider, which gives its cost back */
} provauth_pool_outcome;

/* "done", "unused", ...; NULL for a value outside the enum. */
PROVAUTH_EXTERN(const char *) provauth_pool_outcome_name(provauth_pool_outcome outcome);

/*
 * The outcome that fits a call's return code: 0 DONE; ECONCURRENCY;
 * ECREDITS; ESESSION, EAUTH and ECOOLDOWN SESSION_LOST; EMODERATED and
 * EREJECTED MODERATED; EBANNED BANNED; EINVAL (a parameter refused before
 * or by the provider) UNUSED; anything else DONE (the account is not to
 * blame for a network fault or an overloaded provider).
 */
PROVAUTH_EXTERN(provauth_pool_outcome) provauth_pool_outcome_for(int code);

/*
 * The outcome of a job that ended, from its state as a provider's
 * job_status reports it: "done" DONE, "moderated" MODERATED, "failed"
 * FAILED; -1 for a state that is no end ("queued", "processing",
 * "unknown") or NULL.
 */
PROVAUTH_EXTERN(int) provauth_pool_outcome_for_job(const char *state);

typedef struct provauth_pool_request {
	unsigned int version;
	const char *provider;       /* required */
	/*
	 * Pinned: this account or none. Health, status, cooldown and slots are
	 * checked; credits are not (the notes' rule for a user's own choice).
	 */
	const char *account_id;
	/*
	 * The job, for its cost: `operation` and `args` as provauth_call takes
	 * them. The provider's estimate_cost hook turns them into a credit kind
	 * and an amount (and refuses bad parameters, naming them, with
	 * PROVAUTH_EINVAL). NULL operation: cost 0 of no kind.
	 */
	const char *operation;
	const provauth_arg *args;
	size_t nargs;
	int most_credits_first;     /* 0: fewest credits first (drain low accounts); 1: most first */
	/*
	 * How long to wait for an account when none can take the job:
	 * 0 fails at once with PROVAUTH_ENOACCOUNT, saying why (every account
	 * busy, cooling down, without credits...). While waiting, the pool is
	 * asked again whenever a slot is released (or every 250 ms at most).
	 */
	int64_t wait_ms;
	const char *label;          /* optional, shown in listings (a job name); not secret */
} provauth_pool_request;

#define PROVAUTH_POOL_REQUEST_VERSION 1
#define PROVAUTH_POOL_REQUEST_INIT { PROVAUTH_POOL_REQUEST_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0, NULL }

typedef struct provauth_pool_reservation {
	unsigned int version;
	char *id;                   /* "rsv-" + 16 hex digits; unique in the store */
	char *account_id;
	char *provider;
	char *credit_kind;          /* NULL when the job costs nothing */
	int64_t cost;
	int64_t created_at;         /* unix seconds */
	char *job_id;               /* the provider's job id once attached, else NULL */
	char *label;
} provauth_pool_reservation;

#define PROVAUTH_POOL_RESERVATION_VERSION 1

PROVAUTH_EXTERN(void) provauth_pool_reservation_free(provauth_pool_reservation *r);
PROVAUTH_EXTERN(void) provauth_pool_reservation_list_free(provauth_pool_reservation **r, size_t count);

/*
 * Picks and reserves an account of req->provider that can take the job:
 * session health not invalid, status active, no cooldown, a free slot
 * (in use below its effective cap), and, unless pinned, credits of the
 * job's kind at least its cost. Among those: higher priority first, then
 * credits (fewest first, or most first), then least recently used.
 * Free *out with provauth_pool_reservation_free; the reservation stays in
 * the store until released.
 * PROVAUTH_ENOACCOUNT when none could (the message says why, per reason
 * counted), ENOTFOUND for an unknown provider or pinned account, EINVAL for
 * parameters the provider refused.
 */
PROVAUTH_EXTERN(int) provauth_pool_acquire(provauth_pool_reservation **out, provauth_manager *m,
                                           const provauth_pool_request *req);

/*
 * Records the provider's job id on the reservation: from now on the slot
 * belongs to the job, not to the process (see the top of this header).
 */
PROVAUTH_EXTERN(int) provauth_pool_attach_job(provauth_manager *m, const char *reservation_id, const char *job_id);

/*
 * Frees the reservation's slot and applies the outcome to its account (see
 * provauth_pool_outcome). Any process may release any reservation; a
 * reservation already released (or reclaimed) is PROVAUTH_ENOTFOUND and
 * changes nothing, so a release is safe to repeat.
 */
PROVAUTH_EXTERN(int) provauth_pool_release(provauth_manager *m, const char *reservation_id,
                                           provauth_pool_outcome outcome);

/* The same, finding the reservation by its account and the provider's job id. */
PROVAUTH_EXTERN(int) provauth_pool_release_job(provauth_manager *m, const char *account_id, const char *job_id,
                                               provauth_pool_outcome outcome);

/* One credit balance of an account. */
typedef struct provauth_pool_credit {
	char *kind;                 /* "web", "openapi", ... as the provider names them */
	int64_t amount;
} provauth_pool_credit;

/* An account as the pool sees it. */
typedef struct provauth_pool_account {
	unsigned int version;
	char *account_id;
	char *provider;
	char *email;
	char *status;               /* "active", "exhausted", "disabled", "banned" */
	int healthy;                /* 0 when the account's session health is "invalid" */
	int priority;               /* higher is chosen first */
	int max_slots;              /* jobs at once the provider allows (its plan); from a
	                               store, 0 when never learnt (the manager shows its default) */
	int effective_cap;          /* learnt from concurrency refusals, < max_slots; 0: none */
	int in_use;                 /* slots reserved now */
	int64_t cap_probe_at;       /* when the cap is probed upward again; 0 none */
	int64_t cooldown_until;     /* unix seconds; 0 or past: none */
	char *cooldown_reason;      /* "concurrency", "session_lost", ...; NULL none */
	provauth_pool_credit *credits;
	size_t credit_count;
	int64_t credits_at;         /* when credits were last learnt; 0 never */
	int64_t last_used;          /* last reservation; 0 never */
} provauth_pool_account;

#define PROVAUTH_POOL_ACCOUNT_VERSION 1

/*
 * Every account of `provider` (NULL: all) as the pool sees it, ordered by
 * id, and (when reservations is not NULL) the reservations in the store,
 * ordered by id. Accounts never synced show the pool's defaults.
 */
PROVAUTH_EXTERN(int) provauth_pool_list(provauth_pool_account ***out, size_t *count,
                                        provauth_pool_reservation ***reservations, size_t *reservation_count,
                                        provauth_manager *m, const char *provider);
PROVAUTH_EXTERN(void) provauth_pool_account_list_free(provauth_pool_account **accounts, size_t count);
PROVAUTH_EXTERN(void) provauth_pool_account_free(provauth_pool_account *account);

/*
 * Asks the provider (its pool_status hook, through provauth_run_with_session)
 * for the account's credits and the jobs it may run at once, and stores them:
 * an exhausted account with credits again becomes active, an account the
 * provider reports blocked becomes banned. PROVAUTH_EUNSUPPORTED for a
 * provider without pool hooks.
 */
PROVAUTH_EXTERN(int) provauth_pool_sync(provauth_manager *m, const char *account_id);

typedef struct provauth_pool_settings {
	unsigned int version;
	int set_priority;   int priority;
	int set_disabled;   int disabled;      /* 1: never chosen; 0: active again (clears exhausted) */
	int clear_cooldown;                    /* 1: the cooldown ends now */
} provauth_pool_settings;

#define PROVAUTH_POOL_SETTINGS_VERSION 1
#define PROVAUTH_POOL_SETTINGS_INIT { PROVAUTH_POOL_SETTINGS_VERSION, 0, 0, 0, 0, 0 }

/* An operator's changes to an account's pool state. */
PROVAUTH_EXTERN(int) provauth_pool_configure(provauth_manager *m, const char *account_id,
                                             const provauth_pool_settings *settings);

typedef struct provauth_pool_reconcile_report {
	unsigned int version;
	size_t reclaimed_dead;      /* reservations whose holder died before attaching a job */
	size_t reclaimed_expired;   /* older than pool.reservation_ttl */
	size_t released_finished;   /* jobs the provider reported ended */
	size_t counters_fixed;      /* accounts whose in-use count was wrong */
} provauth_pool_reconcile_report;

#define PROVAUTH_POOL_RECONCILE_REPORT_VERSION 1

/*
 * Repairs the pool of `provider` (NULL: all): reclaims the reservations of
 * dead holders and expired ones, asks the provider (its job_status hook,
 * one call per account) about every attached job and releases those that
 * ended, and resets each account's in-use count to its reservations.
 * `out` may be NULL.
 */
PROVAUTH_EXTERN(int) provauth_pool_reconcile(provauth_pool_reconcile_report *out, provauth_manager *m,
                                             const char *provider);

#ifdef __cplusplus
}
#endif
#endif /* PROVAUTH_POOL_H */
