/*
 * The store contract's account pool (<provauth/store.h>, version 5), one
 * suite run identically on the memory, sqlite and postgres stores (the
 * last on a private server, tests/support/pg_server.h; CI=1 makes a missing
 * server a failure). Each test gets a store of its own.
 *
 * What is proved: the ranking (priority, credits fewest or most first,
 * least recently used, id); every exclusion (health invalid, status,
 * cooldown, slots, credits) and that a pinned account skips only the
 * credit check; the defaults of accounts the pool never touched; the
 * learnt cap going down on a release and up again by probes; charges and
 * refunds; release by reservation or by job, ENOTFOUND on a second
 * release; attach; update; list; reclaim of expired reservations and of
 * counters; that a removed account's pool state goes with it. Across
 * processes (sqlite, postgres): a reserver SIGKILLed before attaching a
 * job has its slot reclaimed at once, one with a job attached keeps it; 8
 * processes (threads, in the memory store) doing 50 reserve/release cycles
 * each on 3 accounts of 2 slots never exceed a slot and lose nothing. On
 * postgres, a release that frees a full account's slot notifies
 * provauth_pool with the provider; one beside a free slot does not.
 */
#include "config.h"
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <libpq-fe.h>
#include "internal.h"
#include "../support/pa_test.h"
#include "../support/pg_server.h"

typedef enum backend { MEMORY, SQLITE, POSTGRES } backend;

static backend current;
static char tmpdir[] = "/tmp/provauth-pool-XXXXXX";
static int store_counter;
static atomic_uint reservation_counter;   /* threads reserve at once in the memory store */
static const unsigned char test_key[32] = "0123456789abcdef0123456789abcdef";
/* The sqlite file or postgres URL of the test's store, for other processes to open. */
static char *location;
/*
 * The store of a test that forks, kept where a child's leak check sees it:
 * a child never closes its parent's store (that would end the parent's
 * postgres connections), and does not lose it either (volatile: the
 * compiler must not drop a store nothing reads).
 */
static provauth_store *volatile parent_store;

#define NOW 1000000
#define PROVIDER "pixverse"

/* ---- fixtures ---- */

static int open_location(provauth_store **out)
{
	if (current == SQLITE) {
		provauth_sqlite_options o = PROVAUTH_SQLITE_OPTIONS_INIT;

		o.key = test_key;
		return provauth_store_sqlite_open(out, location, &o);
	}
	{
		provauth_postgres_options o = PROVAUTH_POSTGRES_OPTIONS_INIT;

		o.key = test_key;
		return provauth_store_postgres_open(out, location, &o);
	}
}

/* A new empty store of the suite's backend. */
static provauth_store *new_store(void)
{
	provauth_store *s = NULL;

	free(location);
	location = NULL;
	if (current == MEMORY)
		return provauth_store_memory_new(&s) == 0 ? s : NULL;
	location = current == SQLITE ? pa_sprintf("%s/store-%d.db", tmpdir, ++store_counter) : pa_pg_fresh_database();
	if (!location || open_location(&s) < 0) {
		fprintf(stderr, "cannot open the store: %s\n", provauth_last_error());
		return NULL;
	}
	return s;
}

static int add_account(provauth_store *s, const char *id, const char *provider, int invalid)
{
	provauth_account *a = pa_test_store_account(id, provider);
	int rc;

	if (!a)
		return -1;
	if (invalid)
		provauth_account_set(&a->state.health.state, "invalid");
	rc = s->put(s, a);
	provauth_account_free(a);
	return rc;
}

static provauth_store *store_with(const char *const *ids)
{
	provauth_store *s = new_store();

	for (; s && *ids; ids++)
		if (add_account(s, *ids, PROVIDER, 0) != 0) {
			provauth_store_free(s);
			return NULL;
		}
	return s;
}

static void next_reservation_id(char id[24])
{
	snprintf(id, 24, "rsv-%08x%08x", (unsigned)getpid(), atomic_fetch_add(&reservation_counter, 1) + 1);
}

typedef struct ask {
	const char *pin;
	const char *kind;
	int64_t cost;
	int most;
	int64_t now;
	int slots;
} ask;

/* pool_reserve with the query ask describes (provider PROVIDER, now NOW, 2 default slots unless said). */
static int reserve_q(provauth_store *s, provauth_pool_reservation **out, ask a)
{
	provauth_pool_query q;
	char id[24];

	next_reservation_id(id);
	memset(&q, 0, sizeof(q));
	q.version = PROVAUTH_POOL_QUERY_VERSION;
	q.reservation_id = id;
	q.provider = PROVIDER;
	q.account_id = a.pin;
	q.credit_kind = a.kind;
	q.cost = a.cost;
	q.most_credits_first = a.most;
	q.now = a.now ? a.now : NOW;
	q.default_slots = a.slots ? a.slots : 2;
	q.probe_interval = 60;
	q.holder = "test-owner";
	q.label = "a job";
	return s->pool_reserve(s, out, &q);
}

/* The account reserve_q chose (a copy to free), or NULL with the code in *rc. */
static char *reserved(provauth_store *s, ask a, int *rc_out)
{
	provauth_pool_reservation *r = NULL;
	char *id = NULL;
	int rc = reserve_q(s, &r, a);

	if (rc == 0)
		id = pa_strdup(r->account_id);
	provauth_pool_reservation_free(r);
	if (rc_out)
		*rc_out = rc;
	return id;
}

/* Whether the next reservation takes account `want`. */
static int picks(provauth_store *s, ask a, const char *want)
{
	char *got = reserved(s, a, NULL);
	int ok = got && strcmp(got, want) == 0;

	if (!ok)
		fprintf(stderr, "picked %s, wanted %s\n", got ? got : "(none)", want);
	free(got);
	return ok;
}

static int release_id(provauth_store *s, const char *reservation_id)
{
	provauth_pool_release_args a;

	memset(&a, 0, sizeof(a));
	a.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	a.reservation_id = reservation_id;
	return s->pool_release(s, &a);
}

static provauth_pool_update update_of(const char *id)
{
	provauth_pool_update u;

	memset(&u, 0, sizeof(u));
	u.version = PROVAUTH_POOL_UPDATE_VERSION;
	u.account_id = id;
	u.now = NOW;
	return u;
}

static int set_credits(provauth_store *s, const char *id, const char *kind, int64_t amount)
{
	provauth_pool_update u = update_of(id);
	provauth_pool_credit c = { (char *)kind, amount };

	u.set_credits = 1;
	u.credits = &c;
	u.credit_count = 1;
	return s->pool_update(s, &u);
}

static int set_max_slots(provauth_store *s, const char *id, int slots)
{
	provauth_pool_update u = update_of(id);

	u.set_max_slots = 1;
	u.max_slots = slots;
	return s->pool_update(s, &u);
}

/* The pool's view of one account (free with provauth_pool_account_free), or NULL. */
static provauth_pool_account *row(provauth_store *s, const char *id)
{
	provauth_pool_account **list = NULL, *a = NULL;
	size_t n = 0;

	if (s->pool_list(s, &list, &n, NULL, NULL, NULL, id) == 0 && n == 1) {
		a = list[0];
		list[0] = NULL;
	}
	provauth_pool_account_list_free(list, n);
	return a;
}

static int in_use(provauth_store *s, const char *id)
{
	provauth_pool_account *a = row(s, id);
	int n = a ? a->in_use : -1;

	provauth_pool_account_free(a);
	return n;
}

static int64_t credit(provauth_store *s, const char *id, const char *kind)
{
	provauth_pool_account *a = row(s, id);
	int64_t v = -1;
	size_t i;

	for (i = 0; a && i < a->credit_count; i++)
		if (!strcmp(a->credits[i].kind, kind))
			v = a->credits[i].amount;
	provauth_pool_account_free(a);
	return v;
}

static size_t reservation_count(provauth_store *s)
{
	provauth_pool_reservation **r = NULL;
	size_t n = 0;

	if (s->pool_list(s, NULL, NULL, &r, &n, NULL, NULL) != 0)
		return (size_t)-1;
	provauth_pool_reservation_list_free(r, n);
	return n;
}

/* ---- defaults and ordering ---- */

static void test_defaults(void)
{
	static const char *const ids[] = { "b", "a", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_account **list = NULL;
	provauth_pool_reservation **held = NULL, *r = NULL;
	size_t n = 0, nheld = 7;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_FATAL(s->version >= 5 && s->pool_reserve && s->pool_attach && s->pool_release && s->pool_update &&
	                s->pool_list && s->pool_reclaim);
	CU_ASSERT_EQUAL(add_account(s, "z-other", "pixiv", 0), 0);
	CU_ASSERT_EQUAL_FATAL(s->pool_list(s, &list, &n, &held, &nheld, PROVIDER, NULL), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	CU_ASSERT_EQUAL(nheld, 0);
	CU_ASSERT_STRING_EQUAL(list[0]->account_id, "a");
	CU_ASSERT_STRING_EQUAL(list[1]->account_id, "b");
	CU_ASSERT_STRING_EQUAL(list[0]->provider, PROVIDER);
	CU_ASSERT_STRING_EQUAL(list[0]->email, "user@example.com");
	CU_ASSERT_STRING_EQUAL(list[0]->status, "active");
	CU_ASSERT_EQUAL(list[0]->healthy, 1);
	CU_ASSERT_EQUAL(list[0]->priority, 0);
	CU_ASSERT_EQUAL(list[0]->max_slots, 0);
	CU_ASSERT_EQUAL(list[0]->effective_cap, 0);
	CU_ASSERT_EQUAL(list[0]->in_use, 0);
	CU_ASSERT_EQUAL(list[0]->cooldown_until, 0);
	CU_ASSERT_PTR_NULL(list[0]->cooldown_reason);
	CU_ASSERT_EQUAL(list[0]->credit_count, 0);
	CU_ASSERT_EQUAL(list[0]->credits_at, 0);
	CU_ASSERT_EQUAL(list[0]->last_used, 0);
	provauth_pool_account_list_free(list, n);
	provauth_pool_reservation_list_free(held, nheld);
	/* Every provider: ordered by id. */
	CU_ASSERT_EQUAL_FATAL(s->pool_list(s, &list, &n, NULL, NULL, NULL, NULL), 0);
	CU_ASSERT_EQUAL(n, 3);
	if (n == 3)
		CU_ASSERT_STRING_EQUAL(list[2]->account_id, "z-other");
	provauth_pool_account_list_free(list, n);
	/* A never-synced account takes default_slots jobs. */
	CU_ASSERT(picks(s, (ask){ .pin = "a", .slots = 3 }, "a"));
	CU_ASSERT(picks(s, (ask){ .pin = "a", .slots = 3 }, "a"));
	CU_ASSERT(picks(s, (ask){ .pin = "a", .slots = 3 }, "a"));
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "a", .slots = 3 }), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_PTR_NULL(r);
	provauth_store_free(s);
}

static void test_order_priority(void)
{
	static const char *const ids[] = { "a", "b", "c", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_update u = update_of("c");

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	u.set_priority = 1;
	u.priority = 5;
	CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
	u = update_of("a");
	u.set_priority = 1;
	u.priority = -1;
	CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
	/* c first (its 2 slots), then b (priority 0), a last. */
	CU_ASSERT(picks(s, (ask){ 0 }, "c"));
	CU_ASSERT(picks(s, (ask){ 0 }, "c"));
	CU_ASSERT(picks(s, (ask){ 0 }, "b"));
	CU_ASSERT(picks(s, (ask){ 0 }, "b"));
	CU_ASSERT(picks(s, (ask){ 0 }, "a"));
	provauth_store_free(s);
}

static void test_order_credits(void)
{
	static const char *const ids[] = { "a", "b", "c", "d", NULL };
	provauth_store *s = store_with(ids);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(set_credits(s, "a", "web", 10), 0);
	CU_ASSERT_EQUAL(set_credits(s, "b", "web", 3), 0);
	CU_ASSERT_EQUAL(set_credits(s, "c", "web", 7), 0);
	CU_ASSERT_EQUAL(set_credits(s, "d", "openapi", 50), 0);   /* learnt, none of the kind: 0 */
	/* Fewest first: b (3), then b again (2 left, a slot left), then c. */
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 1, .slots = 5 }, "b"));
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 1, .slots = 5 }, "b"));
	CU_ASSERT_EQUAL(credit(s, "b", "web"), 1);
	/* Most first: a (10), then a (9 > 7). */
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 1, .most = 1, .slots = 5 }, "a"));
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 1, .most = 1, .slots = 5 }, "a"));
	CU_ASSERT_EQUAL(credit(s, "a", "web"), 8);
	/* Cost 2: b (1 left) and d (none of the kind) cannot; fewest of the rest is c (7) < a (8). */
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 2, .slots = 5 }, "c"));
	provauth_store_free(s);
}

static void test_order_lru_then_id(void)
{
	static const char *const ids[] = { "c", "a", "b", NULL };
	provauth_store *s = store_with(ids);

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	/* Never used first, by id; then the least recently used. */
	CU_ASSERT(picks(s, (ask){ .now = NOW, .slots = 9 }, "a"));
	CU_ASSERT(picks(s, (ask){ .now = NOW + 1, .slots = 9 }, "b"));
	CU_ASSERT(picks(s, (ask){ .now = NOW + 2, .slots = 9 }, "c"));
	CU_ASSERT(picks(s, (ask){ .now = NOW + 3, .slots = 9 }, "a"));
	CU_ASSERT(picks(s, (ask){ .now = NOW + 4, .slots = 9 }, "b"));
	CU_ASSERT_EQUAL(in_use(s, "b"), 2);
	{
		provauth_pool_account *b = row(s, "b");
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_EQUAL(b->last_used, NOW + 4);
		provauth_pool_account_free(b);
	}
	provauth_store_free(s);
}

/* ---- exclusions ---- */

static void test_exclusions(void)
{
	static const char *const ids[] = { "a-status", "b-cool", "c-full", "d-poor", "e-ok", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *r = NULL;
	provauth_pool_release_args rel;
	provauth_pool_update u;
	char *got;
	int rc;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(add_account(s, "0-invalid", PROVIDER, 1), 0);
	u = update_of("a-status");
	u.status = "disabled";
	CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
	/* b-cool cools down through a release. */
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ .pin = "b-cool" }), 0);
	memset(&rel, 0, sizeof(rel));
	rel.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	rel.reservation_id = r->id;
	rel.cooldown_until = NOW + 300;
	rel.cooldown_reason = "session_lost";
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
	provauth_pool_reservation_free(r);
	CU_ASSERT_EQUAL(set_max_slots(s, "c-full", 1), 0);
	CU_ASSERT(picks(s, (ask){ .pin = "c-full" }, "c-full"));
	CU_ASSERT_EQUAL(set_credits(s, "d-poor", "web", 1), 0);
	CU_ASSERT_EQUAL(set_credits(s, "e-ok", "web", 5), 0);

	/* Only e-ok can take a job costing 2 web credits: twice (2 slots), then nobody. */
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 2 }, "e-ok"));
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 2 }, "e-ok"));
	got = reserved(s, (ask){ .kind = "web", .cost = 2 }, &rc);
	CU_ASSERT_PTR_NULL(got);
	CU_ASSERT_EQUAL(rc, PROVAUTH_ENOACCOUNT);
	free(got);
	/* Pinned skips the credit check only. */
	CU_ASSERT(picks(s, (ask){ .pin = "d-poor", .kind = "web", .cost = 2 }, "d-poor"));
	CU_ASSERT_EQUAL(credit(s, "d-poor", "web"), 0);   /* charged, never below 0 */
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "0-invalid" }), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "a-status" }), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "b-cool" }), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "c-full" }), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_PTR_NULL(r);
	/* The cooldown ends on its own; the invalid account is listed unhealthy. */
	CU_ASSERT(picks(s, (ask){ .pin = "b-cool", .now = NOW + 300 }, "b-cool"));
	{
		provauth_pool_account *a = row(s, "0-invalid"), *b = row(s, "b-cool");
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_PTR_NOT_NULL_FATAL(b);
		CU_ASSERT_EQUAL(a->healthy, 0);
		CU_ASSERT_EQUAL(b->cooldown_until, NOW + 300);
		CU_ASSERT_STRING_EQUAL(b->cooldown_reason, "session_lost");
		provauth_pool_account_free(a);
		provauth_pool_account_free(b);
	}
	/* Unknown, or of another provider: ENOTFOUND. */
	CU_ASSERT_EQUAL(add_account(s, "x-pixiv", "pixiv", 0), 0);
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "nobody" }), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "x-pixiv" }), PROVAUTH_ENOTFOUND);
	provauth_store_free(s);
}

static void test_statuses_exclude(void)
{
	static const char *const statuses[] = { "exhausted", "banned", "disabled" };
	static const char *const ids[] = { "a", NULL };
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(statuses); i++) {
		provauth_store *s = store_with(ids);
		provauth_pool_update u = update_of("a");
		provauth_pool_reservation *r = NULL;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		u.status = statuses[i];
		CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
		CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ 0 }), PROVAUTH_ENOACCOUNT);
		u.status = "active";
		CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
		CU_ASSERT(picks(s, (ask){ 0 }, "a"));
		provauth_store_free(s);
	}
}

/* ---- caps ---- */

static void test_cap_lowered_then_probed(void)
{
	static const char *const ids[] = { "a", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *r[3] = { NULL, NULL, NULL }, *extra = NULL;
	provauth_pool_release_args rel;
	provauth_pool_account *a;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(set_max_slots(s, "a", 4), 0);
	for (i = 0; i < 3; i++)
		CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r[i], (ask){ 0 }), 0);
	/* Refused with 3 running: the cap becomes 2, probed again in 60 s. */
	memset(&rel, 0, sizeof(rel));
	rel.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	rel.reservation_id = r[2]->id;
	rel.lower_cap = 1;
	rel.cap_probe_at = NOW + 60;
	rel.cooldown_until = NOW + 6;
	rel.cooldown_reason = "concurrency";
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->effective_cap, 2);
	CU_ASSERT_EQUAL(a->cap_probe_at, NOW + 60);
	CU_ASSERT_EQUAL(a->in_use, 2);
	CU_ASSERT_EQUAL(a->max_slots, 4);
	provauth_pool_account_free(a);
	/* After the cooldown, 2 in use is the cap. */
	CU_ASSERT_EQUAL(reserve_q(s, &extra, (ask){ .now = NOW + 10 }), PROVAUTH_ENOACCOUNT);
	CU_ASSERT_EQUAL(release_id(s, r[1]->id), 0);
	CU_ASSERT(picks(s, (ask){ .now = NOW + 10 }, "a"));
	CU_ASSERT_EQUAL(reserve_q(s, &extra, (ask){ .now = NOW + 10 }), PROVAUTH_ENOACCOUNT);
	/* The probe at NOW + 60: cap 3, next probe a minute later; one more slot. */
	CU_ASSERT(picks(s, (ask){ .now = NOW + 60 }, "a"));
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->effective_cap, 3);
	CU_ASSERT_EQUAL(a->cap_probe_at, NOW + 120);
	CU_ASSERT_EQUAL(a->in_use, 3);
	provauth_pool_account_free(a);
	CU_ASSERT_EQUAL(reserve_q(s, &extra, (ask){ .now = NOW + 61 }), PROVAUTH_ENOACCOUNT);
	/* The next probe reaches max slots: no cap any more. */
	CU_ASSERT(picks(s, (ask){ .now = NOW + 120 }, "a"));
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->effective_cap, 0);
	CU_ASSERT_EQUAL(a->cap_probe_at, 0);
	CU_ASSERT_EQUAL(a->in_use, 4);
	provauth_pool_account_free(a);
	for (i = 0; i < 3; i++)
		provauth_pool_reservation_free(r[i]);
	provauth_store_free(s);
}

static void test_cap_floor_and_max_slots_drop_it(void)
{
	static const char *const ids[] = { "a", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *r = NULL;
	provauth_pool_release_args rel;
	provauth_pool_account *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ 0 }), 0);
	memset(&rel, 0, sizeof(rel));
	rel.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	rel.reservation_id = r->id;
	rel.lower_cap = 1;
	rel.cap_probe_at = NOW + 60;
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
	provauth_pool_reservation_free(r);
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->effective_cap, 1);   /* max(1, 1 - 1) */
	provauth_pool_account_free(a);
	/* A learnt max at or below the cap drops it. */
	CU_ASSERT_EQUAL(set_max_slots(s, "a", 1), 0);
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->effective_cap, 0);
	CU_ASSERT_EQUAL(a->max_slots, 1);
	provauth_pool_account_free(a);
	provauth_store_free(s);
}

/* ---- credits, release, attach ---- */

static void test_charges_and_refunds(void)
{
	static const char *const ids[] = { "a", "never", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *r = NULL;
	provauth_pool_release_args rel;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(set_credits(s, "a", "web", 10), 0);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ .pin = "a", .kind = "web", .cost = 4 }), 0);
	CU_ASSERT_STRING_EQUAL(r->credit_kind, "web");
	CU_ASSERT_EQUAL(r->cost, 4);
	CU_ASSERT_EQUAL(credit(s, "a", "web"), 6);
	memset(&rel, 0, sizeof(rel));
	rel.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	rel.reservation_id = r->id;
	rel.refund = 1;
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
	CU_ASSERT_EQUAL(credit(s, "a", "web"), 10);
	provauth_pool_reservation_free(r);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ .pin = "a", .kind = "web", .cost = 4 }), 0);
	CU_ASSERT_EQUAL(release_id(s, r->id), 0);
	CU_ASSERT_EQUAL(credit(s, "a", "web"), 6);   /* no refund asked */
	provauth_pool_reservation_free(r);
	/* Credits never learnt: the job passes and nothing is charged or invented. */
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ .pin = "never", .kind = "web", .cost = 4 }), 0);
	CU_ASSERT_EQUAL(credit(s, "never", "web"), -1);
	CU_ASSERT(picks(s, (ask){ .kind = "web", .cost = 100 }, "never"));
	provauth_pool_reservation_free(r);
	provauth_store_free(s);
}

static void test_release_and_attach(void)
{
	static const char *const ids[] = { "a", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *r = NULL, *r2 = NULL, **held = NULL;
	provauth_pool_release_args rel;
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ 0 }), 0);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r2, (ask){ 0 }), 0);
	CU_ASSERT_EQUAL(strncmp(r->id, "rsv-", 4), 0);
	CU_ASSERT_STRING_EQUAL(r->account_id, "a");
	CU_ASSERT_STRING_EQUAL(r->provider, PROVIDER);
	CU_ASSERT_EQUAL(r->created_at, NOW);
	CU_ASSERT_PTR_NULL(r->job_id);
	CU_ASSERT_PTR_NULL(r->credit_kind);
	CU_ASSERT_STRING_EQUAL(r->label, "a job");
	CU_ASSERT_EQUAL(in_use(s, "a"), 2);
	CU_ASSERT_EQUAL(s->pool_attach(s, "rsv-nothere", "job-1"), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(s->pool_attach(s, r->id, "job-1"), 0);
	CU_ASSERT_EQUAL_FATAL(s->pool_list(s, NULL, NULL, &held, &n, PROVIDER, "a"), 0);
	CU_ASSERT_EQUAL_FATAL(n, 2);
	/* Ordered by id: r was made first. */
	CU_ASSERT_STRING_EQUAL(held[0]->id, r->id);
	CU_ASSERT_STRING_EQUAL(held[0]->job_id, "job-1");
	CU_ASSERT_PTR_NULL(held[1]->job_id);
	provauth_pool_reservation_list_free(held, n);
	/* By account and job, once. */
	memset(&rel, 0, sizeof(rel));
	rel.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	rel.account_id = "a";
	rel.job_id = "job-2";
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), PROVAUTH_ENOTFOUND);
	rel.job_id = "job-1";
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
	CU_ASSERT_EQUAL(in_use(s, "a"), 1);
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(release_id(s, r->id), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(in_use(s, "a"), 1);
	CU_ASSERT_EQUAL(s->pool_attach(s, r->id, "job-3"), PROVAUTH_ENOTFOUND);
	CU_ASSERT_EQUAL(release_id(s, r2->id), 0);
	CU_ASSERT_EQUAL(release_id(s, r2->id), PROVAUTH_ENOTFOUND);
	provauth_pool_reservation_free(r2);
	CU_ASSERT_EQUAL(in_use(s, "a"), 0);
	CU_ASSERT_EQUAL(reservation_count(s), 0);
	/* A release that sets a status and a shorter cooldown than the one there. */
	provauth_pool_reservation_free(r);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ 0 }), 0);
	memset(&rel, 0, sizeof(rel));
	rel.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	rel.reservation_id = r->id;
	rel.status = "exhausted";
	rel.cooldown_until = NOW + 300;
	rel.cooldown_reason = "session_lost";
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
	provauth_pool_reservation_free(r);
	{
		provauth_pool_update u = update_of("a");
		provauth_pool_account *a;

		u.status = "active";
		CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
		CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ .pin = "a", .now = NOW + 300 }), 0);
		rel.reservation_id = r->id;
		rel.status = NULL;
		rel.cooldown_until = NOW + 6;
		rel.cooldown_reason = "concurrency";
		CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
		a = row(s, "a");
		CU_ASSERT_PTR_NOT_NULL_FATAL(a);
		CU_ASSERT_STRING_EQUAL(a->status, "active");
		CU_ASSERT_EQUAL(a->cooldown_until, NOW + 300);   /* the later one stays */
		CU_ASSERT_STRING_EQUAL(a->cooldown_reason, "session_lost");
		provauth_pool_account_free(a);
		provauth_pool_reservation_free(r);
	}
	provauth_store_free(s);
}

/* ---- update and list ---- */

static void test_update(void)
{
	static const char *const ids[] = { "a", "b", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_credit two[2] = { { "web", 5 }, { "openapi", 9 } };
	provauth_pool_update u = update_of("a");
	provauth_pool_reservation *r = NULL;
	provauth_pool_release_args rel;
	provauth_pool_account *a;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	u.set_credits = 1;
	u.credits = two;
	u.credit_count = 2;
	u.set_max_slots = 1;
	u.max_slots = 3;
	u.set_priority = 1;
	u.priority = 7;
	u.now = NOW + 5;
	CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->max_slots, 3);
	CU_ASSERT_EQUAL(a->priority, 7);
	CU_ASSERT_EQUAL(a->credits_at, NOW + 5);
	CU_ASSERT_EQUAL(a->credit_count, 2);
	provauth_pool_account_free(a);
	CU_ASSERT_EQUAL(credit(s, "a", "openapi"), 9);
	CU_ASSERT_EQUAL(credit(s, "a", "web"), 5);
	/* Replacing credits replaces every kind; unset members stay. */
	CU_ASSERT_EQUAL(set_credits(s, "a", "web", 1), 0);
	CU_ASSERT_EQUAL(credit(s, "a", "openapi"), -1);
	CU_ASSERT_EQUAL(credit(s, "a", "web"), 1);
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->credit_count, 1);
	CU_ASSERT_EQUAL(a->max_slots, 3);
	CU_ASSERT_EQUAL(a->priority, 7);
	provauth_pool_account_free(a);
	/* clear_cooldown ends a cooldown now. */
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ .pin = "a" }), 0);
	memset(&rel, 0, sizeof(rel));
	rel.version = PROVAUTH_POOL_RELEASE_ARGS_VERSION;
	rel.reservation_id = r->id;
	rel.cooldown_until = NOW + 300;
	rel.cooldown_reason = "session_lost";
	CU_ASSERT_EQUAL(s->pool_release(s, &rel), 0);
	provauth_pool_reservation_free(r);
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "a" }), PROVAUTH_ENOACCOUNT);
	u = update_of("a");
	u.clear_cooldown = 1;
	CU_ASSERT_EQUAL(s->pool_update(s, &u), 0);
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->cooldown_until, 0);
	CU_ASSERT_PTR_NULL(a->cooldown_reason);
	provauth_pool_account_free(a);
	CU_ASSERT(picks(s, (ask){ .pin = "a" }, "a"));
	/* Unknown account; a bad status. */
	u = update_of("nobody");
	u.set_priority = 1;
	CU_ASSERT_EQUAL(s->pool_update(s, &u), PROVAUTH_ENOTFOUND);
	u = update_of("a");
	u.status = "sleepy";
	CU_ASSERT_EQUAL(s->pool_update(s, &u), PROVAUTH_EINVAL);
	provauth_store_free(s);
}

/* ---- lifecycle ---- */

static void test_removed_account_state_gone(void)
{
	static const char *const ids[] = { "a", "b", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *r = NULL, **held = NULL;
	provauth_account *acc = NULL;
	provauth_pool_account *a;
	size_t n = 0;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL(set_credits(s, "a", "web", 10), 0);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ .pin = "a", .kind = "web", .cost = 1 }), 0);
	CU_ASSERT_EQUAL(s->pool_attach(s, r->id, "job-9"), 0);
	/* A put of the account (a new revision) keeps its pool state. */
	CU_ASSERT_EQUAL_FATAL(s->get(s, &acc, "a"), 0);
	CU_ASSERT_EQUAL(s->put(s, acc), 0);
	provauth_account_free(acc);
	CU_ASSERT_EQUAL(in_use(s, "a"), 1);
	CU_ASSERT_EQUAL(credit(s, "a", "web"), 9);
	/* Removed: its row, credits and reservations go; it is never chosen. */
	CU_ASSERT_EQUAL(s->remove(s, "a", 0), 0);
	CU_ASSERT_PTR_NULL(row(s, "a"));
	CU_ASSERT_EQUAL(s->pool_list(s, NULL, NULL, &held, &n, NULL, NULL), 0);
	CU_ASSERT_EQUAL(n, 0);
	provauth_pool_reservation_list_free(held, n);
	CU_ASSERT_EQUAL(release_id(s, r->id), PROVAUTH_ENOTFOUND);
	provauth_pool_reservation_free(r);
	CU_ASSERT(picks(s, (ask){ 0 }, "b"));
	CU_ASSERT_EQUAL(reserve_q(s, &r, (ask){ .pin = "a" }), PROVAUTH_ENOTFOUND);
	/* Added again: the defaults. */
	CU_ASSERT_EQUAL(add_account(s, "a", PROVIDER, 0), 0);
	a = row(s, "a");
	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(a->in_use, 0);
	CU_ASSERT_EQUAL(a->credit_count, 0);
	CU_ASSERT_EQUAL(a->credits_at, 0);
	provauth_pool_account_free(a);
	provauth_store_free(s);
}

static void test_reclaim_expired_and_counters(void)
{
	static const char *const ids[] = { "a", "b", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *old = NULL, *fresh = NULL;
	provauth_pool_reclaim_counts c;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &old, (ask){ .pin = "a", .now = NOW }), 0);
	CU_ASSERT_EQUAL(s->pool_attach(s, old->id, "job-old"), 0);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &fresh, (ask){ .pin = "b", .now = NOW + 500 }), 0);
	memset(&c, 0xff, sizeof(c));
	CU_ASSERT_EQUAL(s->pool_reclaim(s, &c, PROVIDER, NOW + 600, 900), 0);
	CU_ASSERT_EQUAL(c.dead, 0);
	CU_ASSERT_EQUAL(c.expired, 0);
	CU_ASSERT_EQUAL(c.counters_fixed, 0);
	/* Older than the ttl, job or not: gone, and its slot with it. */
	CU_ASSERT_EQUAL(s->pool_reclaim(s, &c, PROVIDER, NOW + 900, 900), 0);
	CU_ASSERT_EQUAL(c.dead, 0);
	CU_ASSERT_EQUAL(c.expired, 1);
	CU_ASSERT_EQUAL(c.counters_fixed, 1);
	CU_ASSERT_EQUAL(in_use(s, "a"), 0);
	CU_ASSERT_EQUAL(in_use(s, "b"), 1);
	CU_ASSERT_EQUAL(release_id(s, old->id), PROVAUTH_ENOTFOUND);
	/* Another provider's reclaim touches nothing here. */
	CU_ASSERT_EQUAL(s->pool_reclaim(s, &c, "pixiv", NOW + 5000, 900), 0);
	CU_ASSERT_EQUAL(c.expired, 0);
	CU_ASSERT_EQUAL(in_use(s, "b"), 1);
	CU_ASSERT_EQUAL(release_id(s, fresh->id), 0);
	provauth_pool_reservation_free(old);
	provauth_pool_reservation_free(fresh);
	provauth_store_free(s);
}

/* ---- across processes (sqlite, postgres) ---- */

static int read_byte(int fd)
{
	char c;
	ssize_t n;

	while ((n = read(fd, &c, 1)) < 0 && errno == EINTR)
		continue;
	return n == 1 ? c : -1;
}

/*
 * A child that opens the store, reserves on account `pin` (attaching
 * `job` when not NULL), says so on the pipe and waits to be killed.
 */
static pid_t reserving_child(const char *pin, const char *job)
{
	int fds[2];
	pid_t pid;

	if (pipe(fds) != 0)
		return -1;
	pid = fork();
	if (pid == 0) {
		provauth_store *s = NULL;
		provauth_pool_reservation *r = NULL;
		char ok = '0';

		close(fds[0]);
		if (open_location(&s) == 0 && reserve_q(s, &r, (ask){ .pin = pin }) == 0 &&
		    (!job || s->pool_attach(s, r->id, job) == 0))
			ok = '1';
		if (write(fds[1], &ok, 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(fds[1]);
	if (pid > 0 && read_byte(fds[0]) != '1') {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		pid = -1;
	}
	close(fds[0]);
	return pid;
}

static void kill_child(pid_t pid)
{
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

static void test_dead_holder_reclaimed(void)
{
	static const char *const ids[] = { "a", "b", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reclaim_counts c;
	pid_t orphan, with_job;
	int64_t deadline;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	parent_store = s;
	/* Our own reservation: its holder lives. */
	CU_ASSERT(picks(s, (ask){ .pin = "b" }, "b"));
	orphan = reserving_child("a", NULL);
	with_job = reserving_child("a", "job-kept");
	CU_ASSERT_FATAL(orphan > 0 && with_job > 0);
	CU_ASSERT_EQUAL(in_use(s, "a"), 2);
	CU_ASSERT_EQUAL(s->pool_reclaim(s, &c, PROVIDER, NOW, 0), 0);
	CU_ASSERT_EQUAL(c.dead, 0);
	kill_child(orphan);
	kill_child(with_job);
	/* At once: the server ends a dead client's session as soon as its socket closes. */
	deadline = pa_monotonic_ms() + 5000;
	do {
		CU_ASSERT_EQUAL_FATAL(s->pool_reclaim(s, &c, PROVIDER, NOW, 0), 0);
	} while (c.dead == 0 && pa_monotonic_ms() < deadline && usleep(10000) == 0);
	CU_ASSERT_EQUAL(c.dead, 1);
	CU_ASSERT_EQUAL(c.expired, 0);
	CU_ASSERT_EQUAL(c.counters_fixed, 1);
	CU_ASSERT_EQUAL(in_use(s, "a"), 1);
	CU_ASSERT_EQUAL(in_use(s, "b"), 1);
	CU_ASSERT_EQUAL(reservation_count(s), 2);
	CU_ASSERT_EQUAL(s->pool_reclaim(s, &c, PROVIDER, NOW, 0), 0);
	CU_ASSERT_EQUAL(c.dead, 0);
	provauth_store_free(s);
	parent_store = NULL;
}

/* ---- many reservers at once ---- */

#define WORKERS 8
#define CYCLES 50
#define ACCOUNTS 3
#define SLOTS 2

/*
 * One listing: no account above its slots, and each account's in_use equal
 * to its reservations. 1 when it holds.
 */
static int slots_hold(provauth_store *s, int *total_in_use)
{
	provauth_pool_account **list = NULL;
	provauth_pool_reservation **held = NULL;
	size_t n = 0, nheld = 0, i, j;
	int ok;

	if (s->pool_list(s, &list, &n, &held, &nheld, PROVIDER, NULL) != 0)
		return 0;
	ok = n == ACCOUNTS;
	*total_in_use = 0;
	for (i = 0; ok && i < n; i++) {
		int mine = 0;

		for (j = 0; j < nheld; j++)
			mine += !strcmp(held[j]->account_id, list[i]->account_id);
		ok = list[i]->in_use >= 0 && list[i]->in_use <= SLOTS && list[i]->in_use == mine;
		*total_in_use += list[i]->in_use;
	}
	ok = ok && (size_t)*total_in_use == nheld;
	provauth_pool_account_list_free(list, n);
	provauth_pool_reservation_list_free(held, nheld);
	return ok;
}

/* CYCLES reserve/release cycles: the number that completed, or -1 at the first broken promise. */
static int cycles(provauth_store *s)
{
	int done = 0, total;

	while (done < CYCLES) {
		provauth_pool_reservation *r = NULL;
		int rc = reserve_q(s, &r, (ask){ .slots = 9 });

		if (rc == PROVAUTH_ENOACCOUNT) {
			sched_yield();
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "cycle %d: reserve: %s\n", done, provauth_last_error());
			return -1;
		}
		if (!slots_hold(s, &total) || total < 1) {
			fprintf(stderr, "cycle %d: slots exceeded, or in use and reservations disagree\n", done);
			provauth_pool_reservation_free(r);
			return -1;
		}
		if (release_id(s, r->id) != 0) {
			fprintf(stderr, "cycle %d: release: %s\n", done, provauth_last_error());
			provauth_pool_reservation_free(r);
			return -1;
		}
		provauth_pool_reservation_free(r);
		done++;
	}
	return done;
}

static void *thread_cycles(void *arg)
{
	return (void *)(intptr_t)cycles(arg);
}

static void test_many_reservers(void)
{
	static const char *const ids[] = { "a", "b", "c", NULL };
	provauth_store *s = store_with(ids);
	int i, done = 0, total = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	parent_store = s;
	for (i = 0; ids[i]; i++)
		CU_ASSERT_EQUAL_FATAL(set_max_slots(s, ids[i], SLOTS), 0);
	if (current == MEMORY) {
		pthread_t t[WORKERS];

		for (i = 0; i < WORKERS; i++)
			CU_ASSERT_EQUAL_FATAL(pthread_create(&t[i], NULL, thread_cycles, s), 0);
		for (i = 0; i < WORKERS; i++) {
			void *n = NULL;

			pthread_join(t[i], &n);
			done += (int)(intptr_t)n;
		}
	} else {
		pid_t pids[WORKERS];

		for (i = 0; i < WORKERS; i++) {
			pids[i] = fork();
			if (pids[i] == 0) {
				provauth_store *mine = NULL;
				int n = open_location(&mine) == 0 ? cycles(mine) : -1;

				provauth_store_free(mine);
				_exit(n == CYCLES ? 0 : 1);
			}
		}
		for (i = 0; i < WORKERS; i++) {
			int status = 0;

			CU_ASSERT_FATAL(pids[i] > 0);
			waitpid(pids[i], &status, 0);
			done += WIFEXITED(status) && WEXITSTATUS(status) == 0 ? CYCLES : 0;
		}
	}
	CU_ASSERT_EQUAL(done, WORKERS * CYCLES);
	CU_ASSERT(slots_hold(s, &total));
	CU_ASSERT_EQUAL(total, 0);
	CU_ASSERT_EQUAL(reservation_count(s), 0);
	provauth_store_free(s);
	parent_store = NULL;
}

/* ---- postgres: releases wake listeners ---- */

/* The payload of the next provauth_pool notification on c within ms, or NULL (malloc). */
static char *next_pool_notification(PGconn *c, int ms)
{
	int64_t deadline = pa_monotonic_ms() + ms;
	PGnotify *n;

	for (;;) {
		struct pollfd p = { PQsocket(c), POLLIN, 0 };
		int64_t left;

		if (!PQconsumeInput(c))
			return NULL;
		if ((n = PQnotifies(c)) != NULL) {
			char *payload = strcmp(n->relname, "provauth_pool") == 0 ? pa_strdup(n->extra) : NULL;

			PQfreemem(n);
			return payload;
		}
		if ((left = deadline - pa_monotonic_ms()) <= 0)
			return NULL;
		poll(&p, 1, (int)left);
	}
}

static void test_release_notifies(void)
{
	static const char *const ids[] = { "a", NULL };
	provauth_store *s = store_with(ids);
	provauth_pool_reservation *r = NULL, *r2 = NULL;
	PGconn *c;
	PGresult *res;
	char *payload;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	c = PQconnectdb(location);
	CU_ASSERT_EQUAL_FATAL(PQstatus(c), CONNECTION_OK);
	res = PQexec(c, "LISTEN provauth_pool");
	CU_ASSERT_EQUAL(PQresultStatus(res), PGRES_COMMAND_OK);
	PQclear(res);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ 0 }), 0);
	/* Reserving takes a slot: nobody needs waking. */
	payload = next_pool_notification(c, 200);
	CU_ASSERT_PTR_NULL(payload);
	free(payload);
	CU_ASSERT_EQUAL(release_id(s, r->id), 0);
	payload = next_pool_notification(c, 5000);
	CU_ASSERT_PTR_NOT_NULL(payload);
	if (payload)
		CU_ASSERT_STRING_EQUAL(payload, PROVIDER);
	free(payload);
	/* A refused second release changes nothing and says nothing. */
	CU_ASSERT_EQUAL(release_id(s, r->id), PROVAUTH_ENOTFOUND);
	payload = next_pool_notification(c, 200);
	CU_ASSERT_PTR_NULL(payload);
	free(payload);
	provauth_pool_reservation_free(r);
	/* Once the cap is known: a slot freed beside a free one wakes nobody; the one of a full account does. */
	CU_ASSERT_EQUAL_FATAL(set_max_slots(s, "a", 2), 0);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ 0 }), 0);
	CU_ASSERT_EQUAL(release_id(s, r->id), 0);
	provauth_pool_reservation_free(r);
	payload = next_pool_notification(c, 300);
	CU_ASSERT_PTR_NULL(payload);
	free(payload);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r, (ask){ 0 }), 0);
	CU_ASSERT_EQUAL_FATAL(reserve_q(s, &r2, (ask){ 0 }), 0);
	CU_ASSERT_EQUAL(release_id(s, r2->id), 0);
	payload = next_pool_notification(c, 5000);
	CU_ASSERT_PTR_NOT_NULL(payload);
	free(payload);
	CU_ASSERT_EQUAL(release_id(s, r->id), 0);
	provauth_pool_reservation_free(r);
	provauth_pool_reservation_free(r2);
	PQfinish(c);
	provauth_store_free(s);
}

/* ---- suites ---- */

static int suite_memory(void)
{
	current = MEMORY;
	return 0;
}

static int suite_sqlite(void)
{
	current = SQLITE;
	return 0;
}

static int suite_postgres(void)
{
	current = POSTGRES;
	return 0;
}

#define CONTRACT_TESTS \
	{ "defaults of never-synced accounts", test_defaults }, \
	{ "ranked by priority", test_order_priority }, \
	{ "ranked by credits, fewest or most first", test_order_credits }, \
	{ "ranked by last use, then id", test_order_lru_then_id }, \
	{ "health, status, cooldown, slots and credits exclude", test_exclusions }, \
	{ "exhausted, banned and disabled exclude", test_statuses_exclude }, \
	{ "a cap lowered by a release is probed upward", test_cap_lowered_then_probed }, \
	{ "the cap floor, and max slots dropping a cap", test_cap_floor_and_max_slots_drop_it }, \
	{ "charges and refunds", test_charges_and_refunds }, \
	{ "release by id or job, attach, ENOTFOUND twice", test_release_and_attach }, \
	{ "update", test_update }, \
	{ "a removed account's pool state goes", test_removed_account_state_gone }, \
	{ "reclaim of expired reservations and counters", test_reclaim_expired_and_counters }, \
	{ "8 reservers x 50 cycles on 3 accounts of 2 slots", test_many_reservers }

int main(int argc, char **argv)
{
	static const pa_test memory_tests[] = { CONTRACT_TESTS, PA_TEST_END };
	static const pa_test process_tests[] = {
		CONTRACT_TESTS,
		{ "a dead reserver's slot is reclaimed, an attached job's is not", test_dead_holder_reclaimed },
		PA_TEST_END
	};
	static const pa_test postgres_tests[] = {
		CONTRACT_TESTS,
		{ "a dead reserver's slot is reclaimed, an attached job's is not", test_dead_holder_reclaimed },
		{ "a release freeing a full account notifies provauth_pool", test_release_notifies },
		PA_TEST_END
	};
	static const pa_test_suite all[] = {
		{ "memory", suite_memory, NULL, memory_tests },
		{ "sqlite", suite_sqlite, NULL, process_tests },
		{ "postgres", suite_postgres, NULL, postgres_tests },
		PA_TEST_SUITE_END
	};
	static const pa_test_suite without_postgres[] = {
		{ "memory", suite_memory, NULL, memory_tests },
		{ "sqlite", suite_sqlite, NULL, process_tests },
		PA_TEST_SUITE_END
	};
	int rc, pg;

	/* The tests give the key; one from the caller's environment would not be used anyway. */
	unsetenv("PROVAUTH_STORE_KEY");
	if (!mkdtemp(tmpdir))
		return 1;
	pg = pa_pg_start();
	if (pg != 0 && pg != 77) {
		pa_test_rmtree(tmpdir);
		return 1;
	}
	rc = pa_test_run(argc, argv, pg == 0 ? all : without_postgres);
	free(location);
	pa_test_rmtree(tmpdir);
	return rc;
}
