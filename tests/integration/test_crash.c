/*
 * Crash safety: a process that renews credentials is SIGKILLed at random
 * points, and what it left in the sqlite store must still authenticate.
 *
 * The parent runs the fake servers in-process and owns a store in a
 * temporary directory. For every kill it starts a child (this program,
 * re-executed with --child) that opens the store through the real manager
 * and real plugins and renews credentials in a loop:
 *  - pixiv, with refresh-token rotation and revocation of the old token, and
 *    access tokens that expire at once, so every call rotates;
 *  - pixverse, where every password login ends the account's older
 *    sessions: the child alternates explicit reauths with kicking its own
 *    session (through the fake's control endpoint) and letting a call
 *    recover on its own.
 * The child publishes what it is doing (starting, calling the API,
 * exchanging credentials with the provider, writing the store) in a shared
 * mapped file, so the parent can tell where each kill landed. Kills land
 * during start-up, between calls, inside the token exchange, inside the
 * store write and inside API calls (some children get a slowed-down API
 * to widen that window).
 *
 * After each kill the parent opens the store afresh and checks that the
 * record decodes and that a new manager on it makes an authenticated call.
 * pixiv: unless the kill landed inside the token exchange or the store
 * write, the stored refresh token is the one the server holds current. A
 * kill after the server rotated but before the commit loses the new token
 * (nothing can store a reply that never arrived); those are counted, and
 * the next call must fail with a clear error naming the account.
 * pixverse: the stored record keeps its password and auth method, and the
 * call succeeds; outside a recovery it needs no new login.
 *
 * PA_CRASH_KILLS (default 30 per provider) and PA_CRASH_SEED reproduce a run.
 */
#include "config.h"
#include <CUnit/Basic.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <provauth/provauth.h>
#include <provauth/store.h>
#include "../fake/fake_pixiv.h"
#include "../fake/fake_pixverse.h"
#include "../support/pa_test.h"

#define STR_EQ(a, b) CU_ASSERT((a) != NULL && (b) != NULL && strcmp((a), (b)) == 0)

/* Where the child was when it died. */
enum phase {
	PH_STARTUP = 0,  /* exec, plugin loading, store open */
	PH_CALL,         /* an API call (or between calls), no renewal in flight */
	PH_KICKED,       /* pixverse: own session kicked (or a step failed), not yet replaced */
	PH_EXCHANGE,     /* refresh or login request in flight, nothing stored yet */
	PH_WRITE,        /* inside the store's put */
	PH_COUNT
};

static const char *const phase_names[PH_COUNT] = {
	"startup", "api call", "session kicked", "token exchange", "store write"
};

/* The mapped file the child writes and the parent reads after the kill. */
typedef struct shared {
	atomic_int phase;
	atomic_int ready;
	atomic_long iterations;
	atomic_int failures;
	char last_error[512];
} shared;

static char self_exe[4096];
static char tmpdir[64];
static shared *sh;
static int kills_per_provider = 30;
/* How long a killed child's requests may take to land on a loaded machine. */
#define IDLE_WAIT_MS 10000
static unsigned int seed;

/*
 * pixiv managers run on clocks a day apart, each ahead of the one before:
 * every access token that the previous manager stored is then due, so a call
 * must refresh (and every refresh rotates).
 */
static int64_t clock_days;

static int64_t days_ahead(void *payload)
{
	return (int64_t)time(NULL) + 86400 * *(int64_t *)payload;
}

/* ------------------------------------------------------------------------ */
/* The child                                                                */
/* ------------------------------------------------------------------------ */

static shared *map_shared(const char *dir, int create)
{
	char path[256];
	void *p;
	int fd;

	snprintf(path, sizeof(path), "%s/phase", dir);
	if ((fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0600)) < 0)
		return NULL;
	if (create && ftruncate(fd, sizeof(shared)) != 0) {
		close(fd);
		return NULL;
	}
	p = mmap(NULL, sizeof(shared), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return p == MAP_FAILED ? NULL : p;
}

/* Marks the phase around every put of the forwarding store over the sqlite store. */
static long mark_before(pa_fwd_op op, void *payload)
{
	(void)payload;
	return op == PA_FWD_PUT ? atomic_exchange(&sh->phase, PH_WRITE) : 0;
}

static int mark_after(pa_fwd_op op, int rc, long before, void *payload)
{
	(void)payload;
	if (op == PA_FWD_PUT)
		atomic_store(&sh->phase, (int)before);
	return rc;
}

static int ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && strcmp(s + a - b, suffix) == 0;
}

static void child_log(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                      void *payload)
{
	size_t i;
	int ok = 1;

	(void)level; (void)payload;
	if (ends_with(event, "_refresh_attempt") || ends_with(event, "_auto_reauth_attempt")) {
		atomic_store(&sh->phase, PH_EXCHANGE);
	} else if (ends_with(event, "_refresh_completed") || ends_with(event, "_auto_reauth_completed")) {
		for (i = 0; i < n; i++)
			if (strcmp(f[i].key, "success") == 0 && f[i].type == PROVAUTH_FIELD_BOOL)
				ok = f[i].num != 0;
		/*
		 * A failed step (the refresh of a kicked session is refused) leaves
		 * the session as dead as before: the recovery goes on to a login,
		 * and a kill now still finds a superseded token in the store.
		 */
		atomic_store(&sh->phase, ok ? PH_CALL : PH_KICKED);
	}
}

static void child_fail(const char *what)
{
	atomic_fetch_add(&sh->failures, 1);
	snprintf(sh->last_error, sizeof(sh->last_error), "%s: %s", what, provauth_last_error());
}

static void settings_yaml(char *buf, size_t size, const char *provider, const char *url)
{
	if (strcmp(provider, "pixiv") == 0)
		snprintf(buf, size,
		         "store:\n  path: %s/accounts.db\n  key_file: %s/accounts.key\n"
		         "http:\n  timeout_ms: 10000\n"
		         "session:\n  recovery_wait_ms: 10000\n  lease_ttl_ms: 200\n"
		         "providers:\n  pixiv:\n    token_url: %s/auth/token\n    api_base_url: %s/\n"
		         "    retry_max: 2\n    retry_base_ms: 5\n    retry_max_ms: 20\n",
		         tmpdir, tmpdir, url, url);
	else
		snprintf(buf, size,
		         "store:\n  path: %s/accounts.db\n  key_file: %s/accounts.key\n"
		         "http:\n  timeout_ms: 10000\n"
		         "session:\n  recovery_wait_ms: 10000\n  lease_ttl_ms: 200\n"
		         "providers:\n  pixverse:\n    auto_reauth_enabled: true\n    reauth_cooldown: 0\n"
		         "    base_url: %s\n    openapi_base_url: %s/\n    web_origin: https://app.pixverse.test\n",
		         tmpdir, tmpdir, url, url);
}

static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p; (void)u;
	return size * n;
}

/* Ends the account's current pixverse session from the outside, as a login elsewhere would. */
static void kick(const char *url, const char *email)
{
	char target[512];
	CURL *c = curl_easy_init();

	if (!c)
		return;
	snprintf(target, sizeof(target), "%s/__control/kick?email=%s", url, email);
	curl_easy_setopt(c, CURLOPT_URL, target);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_perform(c);
	curl_easy_cleanup(c);
}

/* argv: --child pixiv|pixverse DIR URL ACCOUNT_ID EMAIL CLOCK_DAYS; loops until killed. */
static int child_main(int argc, char **argv)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	static const pa_fwd_hooks hooks = { mark_before, mark_after, NULL };
	provauth_store *inner, *store;
	const char *provider, *url, *id;
	char yaml[2048], db[256], key[256];
	int64_t days = 0;
	long i;

	if (argc < 6)
		return 2;
	provider = argv[2];
	snprintf(tmpdir, sizeof(tmpdir), "%s", argv[3]);
	url = argv[4];
	id = argv[5];
	if (!(sh = map_shared(tmpdir, 0)))
		return 3;
	snprintf(db, sizeof(db), "%s/accounts.db", tmpdir);
	snprintf(key, sizeof(key), "%s/accounts.key", tmpdir);
	so.key_file = key;
	if (provauth_store_sqlite_open(&inner, db, &so) < 0 || pa_fwd_store_new(&store, inner, &hooks) < 0) {
		child_fail("store");
		return 4;
	}
	settings_yaml(yaml, sizeof(yaml), provider, url);
	if (provauth_settings_parse(&s, yaml, strlen(yaml), "crash-child.yaml") < 0) {
		child_fail("settings");
		return 5;
	}
	opts.store = store;
	opts.log = child_log;
	if (argc > 7 && (days = strtoll(argv[7], NULL, 10)) > 0) {
		opts.clock = days_ahead;
		opts.clock_payload = &days;
	}
	if (provauth_manager_new(&m, s, &opts) < 0) {
		child_fail("manager");
		return 6;
	}
	atomic_store(&sh->phase, PH_CALL);
	atomic_store(&sh->ready, 1);
	for (i = 0;; i++) {
		char *out = NULL;

		if (strcmp(provider, "pixiv") == 0) {
			if (provauth_call(&out, m, id, "user_detail", NULL, 0) < 0)
				child_fail("user_detail");
		} else {
			if (i % 2 == 0) {
				if (provauth_account_reauth(m, id, NULL) < 0)
					child_fail("reauth");
			} else {
				atomic_store(&sh->phase, PH_KICKED);
				kick(url, argv[6]);
			}
			if (provauth_call(&out, m, id, "credits", NULL, 0) < 0)
				child_fail("credits");
		}
		provauth_free(out);
		atomic_store(&sh->phase, PH_CALL);
		atomic_fetch_add(&sh->iterations, 1);
		if (atomic_load(&sh->failures) > 0)
			return 7; /* the parent reports last_error */
	}
}

/* ------------------------------------------------------------------------ */
/* The parent                                                               */
/* ------------------------------------------------------------------------ */

static void quiet_log(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                      void *payload)
{
	(void)level; (void)event; (void)f; (void)n; (void)payload;
}

static int suite_init(void)
{
	const char *v;
	ssize_t n;

	if (!getenv("PROVAUTH_PLUGIN_PATH")) {
		fprintf(stderr, "PROVAUTH_PLUGIN_PATH is not set (run through make check)\n");
		return -1;
	}
	if ((v = getenv("PA_CRASH_KILLS")) && atoi(v) > 0)
		kills_per_provider = atoi(v);
	seed = (v = getenv("PA_CRASH_SEED")) ? (unsigned int)strtoul(v, NULL, 10)
	                                     : (unsigned int)time(NULL) ^ (unsigned int)getpid();
	fprintf(stderr, "test_crash: seed %u (PA_CRASH_SEED reproduces), %d kills per provider\n", seed,
	        kills_per_provider);
	srand(seed);
	if ((n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1)) <= 0)
		return -1;
	self_exe[n] = '\0';
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/pa-crash-XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	if (!(sh = map_shared(tmpdir, 1)))
		return -1;
	return 0;
}

static int suite_clean(void)
{
	if (sh)
		munmap(sh, sizeof(*sh));
	pa_test_rmtree(tmpdir);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}


static provauth_manager *open_manager(const char *provider, const char *url)
{
	provauth_manager_options opts = PROVAUTH_MANAGER_OPTIONS_INIT;
	provauth_settings *s = NULL;
	provauth_manager *m = NULL;
	char yaml[2048];

	settings_yaml(yaml, sizeof(yaml), provider, url);
	CU_ASSERT_FATAL(provauth_settings_parse(&s, yaml, strlen(yaml), "crash-parent.yaml") == 0);
	opts.log = quiet_log;
	if (strcmp(provider, "pixiv") == 0) {
		clock_days++;
		opts.clock = days_ahead;
		opts.clock_payload = &clock_days;
	}
	if (provauth_manager_new(&m, s, &opts) < 0)
		fprintf(stderr, "manager on %s/accounts.db: %s\n", tmpdir, provauth_last_error());
	provauth_settings_free(s);
	return m;
}

/* A fresh read of the account straight from the file: it must decode. */
static provauth_account *read_stored(const char *id)
{
	provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;
	provauth_store *st = NULL;
	provauth_account *a = NULL;
	char db[256], key[256];

	snprintf(db, sizeof(db), "%s/accounts.db", tmpdir);
	snprintf(key, sizeof(key), "%s/accounts.key", tmpdir);
	so.key_file = key;
	if (provauth_store_sqlite_open(&st, db, &so) < 0) {
		fprintf(stderr, "store after kill: %s\n", provauth_last_error());
		return NULL;
	}
	if (st->get(st, &a, id) < 0)
		fprintf(stderr, "account after kill: %s\n", provauth_last_error());
	provauth_store_free(st);
	return a;
}

/*
 * Starts a child and kills it. Every sixth kill lands at a random moment of
 * its start-up; the others wait for it to be ready and then up to 40 ms.
 * Returns the phase it died in, or -1 if it died on its own.
 */
static int spawn_and_kill(int k, const char *provider, const char *url, const char *id, const char *email)
{
	char days[32];
	char *argv[] = { self_exe, "--child", (char *)provider, tmpdir, (char *)url, (char *)id,
	                 (char *)(email ? email : ""), days, NULL };
	int64_t waited = 0;
	int status;
	pid_t pid;

	/* The child's clock is ahead of every pixiv manager before it. */
	snprintf(days, sizeof(days), "%lld", strcmp(provider, "pixiv") == 0 ? (long long)++clock_days : 0LL);
	atomic_store(&sh->phase, PH_STARTUP);
	atomic_store(&sh->ready, 0);
	atomic_store(&sh->iterations, 0);
	atomic_store(&sh->failures, 0);
	sh->last_error[0] = '\0';
	if ((pid = fork()) == 0) {
		execv(self_exe, argv);
		_exit(127);
	}
	CU_ASSERT_FATAL(pid > 0);
	if (k % 6 == 0) {
		sleep_ms(rand() % 15);
	} else {
		while (!atomic_load(&sh->ready) && waited < 10000 && waitpid(pid, &status, WNOHANG) == 0) {
			sleep_ms(1);
			waited++;
		}
		sleep_ms(rand() % 41);
	}
	kill(pid, SIGKILL);
	CU_ASSERT_FATAL(waitpid(pid, &status, 0) == pid);
	if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
		fprintf(stderr, "child %s died on its own (status %d): %s\n", provider, status, sh->last_error);
		return -1;
	}
	return atomic_load(&sh->phase);
}

static void report(const char *provider, const int landed[PH_COUNT], const char *extra)
{
	int i;

	fprintf(stderr, "test_crash: %s kills by phase:", provider);
	for (i = 0; i < PH_COUNT; i++)
		if (landed[i])
			fprintf(stderr, " %s=%d", phase_names[i], landed[i]);
	fprintf(stderr, "; %s\n", extra);
}

/* ---- pixiv ---- */

static int pixiv_users;

/* A new fake user and its account, imported by the parent; returns the fake user id. */
static int pixiv_account(fake_pixiv *fk, provauth_manager *m, char **id)
{
	char rt[64], uid[16], name[32], mail[64];
	int n = ++pixiv_users;

	snprintf(rt, sizeof(rt), "rtCRASH-%d-%08x", n, (unsigned int)rand());
	snprintf(uid, sizeof(uid), "%d", 7000 + n);
	snprintf(name, sizeof(name), "crash%d", n);
	snprintf(mail, sizeof(mail), "crash%d@example.com", n);
	CU_ASSERT_FATAL(fake_pixiv_add_user(fk, rt, uid, name, mail) == 0);
	*id = NULL;
	if (provauth_account_import(id, m, "pixiv", "refresh_token", rt) < 0)
		fprintf(stderr, "import: %s\n", provauth_last_error());
	CU_ASSERT_FATAL(*id != NULL);
	return 7000 + n;
}

static void test_pixiv_rotation_kills(void)
{
	fake_pixiv *fk = NULL;
	provauth_manager *m;
	char *id = NULL, uid[16], extra[160];
	int landed[PH_COUNT] = { 0 }, lost = 0, k, user;
	long rotations = 0;

	CU_ASSERT_FATAL(fake_pixiv_start(&fk) == 0);
	fake_pixiv_set_rotation(fk, 1, 1);
	/* Every access token is due for renewal at once: each call rotates the refresh token. */
	fake_pixiv_set_expires_in(fk, 1);
	CU_ASSERT_PTR_NOT_NULL_FATAL(m = open_manager("pixiv", fake_pixiv_base_url(fk)));
	user = pixiv_account(fk, m, &id);
	provauth_manager_free(m);

	for (k = 0; k < kills_per_provider; k++) {
		provauth_account *a;
		char *current, *out = NULL;
		long before = fake_pixiv_count(fk, FAKE_PIXIV_TOKEN);
		int phase, rc, in_flight;

		/* Half the children get a slow API, so more kills land while a fresh token is in use. */
		fake_pixiv_set_fault(fk, FAKE_PIXIV_API, FAKE_PIXIV_FAULT_DELAY, 5 + rand() % 20, k % 2 ? -1 : 0);
		phase = spawn_and_kill(k, "pixiv", fake_pixiv_base_url(fk), id, NULL);
		fake_pixiv_set_fault(fk, FAKE_PIXIV_API, FAKE_PIXIV_FAULT_NONE, 0, 0);
		CU_ASSERT_FATAL(phase >= 0);
		landed[phase]++;
		in_flight = phase == PH_EXCHANGE || phase == PH_WRITE;
		/* A request the child sent may still be in the server's hands: let it land first. */
		CU_ASSERT_FATAL(fake_pixiv_wait_idle(fk, IDLE_WAIT_MS) == 0);
		rotations += fake_pixiv_count(fk, FAKE_PIXIV_TOKEN) - before;

		a = read_stored(id);
		CU_ASSERT_FATAL(a != NULL);
		CU_ASSERT(PA_CRED(a, REFRESH_TOKEN) && *PA_CRED(a, REFRESH_TOKEN));
		CU_ASSERT(PA_CRED(a, ACCESS_TOKEN) && *PA_CRED(a, ACCESS_TOKEN));
		snprintf(uid, sizeof(uid), "%d", user);
		current = fake_pixiv_current_refresh_token(fk, uid);
		CU_ASSERT_FATAL(current != NULL);

		m = open_manager("pixiv", fake_pixiv_base_url(fk));
		CU_ASSERT_FATAL(m != NULL);
		if (PA_CRED(a, REFRESH_TOKEN) && strcmp(PA_CRED(a, REFRESH_TOKEN), current) == 0) {
			rc = provauth_call(&out, m, id, "user_detail", NULL, 0);
			if (rc < 0)
				fprintf(stderr, "kill %d (%s): call after the kill: %s\n", k, phase_names[phase],
				        provauth_last_error());
			CU_ASSERT(rc == 0);
		} else {
			/*
			 * The server rotated, the child died before its commit: the
			 * new token died with it. Only a kill inside the exchange or
			 * the write may do that; the next call must say what is wrong.
			 */
			if (!in_flight)
				fprintf(stderr, "kill %d: stored refresh token is dead after a kill in phase '%s'\n", k,
				        phase_names[phase]);
			CU_ASSERT(in_flight);
			lost++;
			rc = provauth_call(&out, m, id, "user_detail", NULL, 0);
			CU_ASSERT(rc == PROVAUTH_EAUTH);
			CU_ASSERT(strstr(provauth_last_error(), id) != NULL);
			CU_ASSERT(strstr(provauth_last_error(), PA_CRED(a, REFRESH_TOKEN)) == NULL);
			free(id);
			user = pixiv_account(fk, m, &id);
		}
		provauth_free(out);
		provauth_manager_free(m);
		provauth_account_free(a);
		free(current);
	}
	free(id);
	fake_pixiv_stop(fk);
	snprintf(extra, sizeof(extra), "%ld rotations by the children, %d kills lost the rotated token "
	         "between the server's reply and the commit", rotations, lost);
	report("pixiv", landed, extra);
	/* Most kills must land outside that window, or the test proves little. */
	CU_ASSERT(lost <= kills_per_provider / 2);
}

/* ---- pixverse ---- */

static void test_pixverse_login_kills(void)
{
	fake_pixverse_options fo;
	fake_pixverse_account fa;
	fake_pixverse *srv;
	provauth_manager *m;
	char err[256], *tok, input[4096], *id = NULL, extra[160];
	const char *email = "crash@example.com", *password = "pw-CRASH-7f3a";
	int landed[PH_COUNT] = { 0 }, needed_login = 0, k;
	unsigned long logins = 0;

	memset(&fo, 0, sizeof(fo));
	fo.login_limit = FAKE_PV_UNLIMITED;
	fo.login_limit_global = FAKE_PV_UNLIMITED;
	CU_ASSERT_PTR_NOT_NULL_FATAL(srv = fake_pixverse_start(&fo, err, sizeof(err)));
	memset(&fa, 0, sizeof(fa));
	fa.email = email;
	fa.password = password;
	fa.credit_daily = 5;
	CU_ASSERT_FATAL(fake_pixverse_add_account(srv, &fa) > 0);

	CU_ASSERT_PTR_NOT_NULL_FATAL(m = open_manager("pixverse", fake_pixverse_url(srv)));
	CU_ASSERT_PTR_NOT_NULL_FATAL(tok = fake_pixverse_login_token(srv, email));
	snprintf(input, sizeof(input), "Cookie: _ai_token=%s", tok);
	free(tok);
	CU_ASSERT_FATAL(provauth_account_import(&id, m, "pixverse", "cookies", input) == 0);
	CU_ASSERT_FATAL(provauth_account_reauth(m, id, password) == 0);
	provauth_manager_free(m);

	for (k = 0; k < kills_per_provider; k++) {
		provauth_account *a;
		char *out = NULL;
		unsigned long before;
		int phase, rc;

		fake_pixverse_clear_faults(srv);
		if (k % 2)
			fake_pixverse_inject_fault(srv, FAKE_PV_EP_CREDITS, FAKE_FAULT_DELAY, 1000, 5 + rand() % 20);
		before = fake_pixverse_logins_ok(srv);
		phase = spawn_and_kill(k, "pixverse", fake_pixverse_url(srv), id, email);
		fake_pixverse_clear_faults(srv);
		CU_ASSERT_FATAL(phase >= 0);
		landed[phase]++;
		/*
		 * A login or kick the child sent may still be in the server's
		 * hands; landing after the check below, it would end the session
		 * that the next child stores and be blamed on the next kill.
		 */
		CU_ASSERT_FATAL(fake_server_wait_idle(fake_pixverse_server(srv), IDLE_WAIT_MS) == 0);
		logins += fake_pixverse_logins_ok(srv) - before;

		a = read_stored(id);
		CU_ASSERT_FATAL(a != NULL);
		STR_EQ(PA_CRED(a, PASSWORD), password);
		CU_ASSERT(provauth_account_auth_method(a) == PROVAUTH_AUTH_PASSWORD);
		CU_ASSERT(PA_CRED(a, JWT) && *PA_CRED(a, JWT));

		before = fake_pixverse_logins_ok(srv);
		m = open_manager("pixverse", fake_pixverse_url(srv));
		CU_ASSERT_FATAL(m != NULL);
		rc = provauth_call(&out, m, id, "credits", NULL, 0);
		if (rc < 0)
			fprintf(stderr, "kill %d (%s): call after the kill: %s\n", k, phase_names[phase],
			        provauth_last_error());
		CU_ASSERT(rc == 0);
		if (fake_pixverse_logins_ok(srv) != before) {
			/* The stored token was superseded: only a kill inside a recovery leaves that. */
			needed_login++;
			if (phase == PH_CALL || phase == PH_STARTUP)
				fprintf(stderr, "kill %d: stored token dead after a kill in phase '%s'\n", k, phase_names[phase]);
			CU_ASSERT(phase != PH_CALL && phase != PH_STARTUP);
		}
		provauth_free(out);
		provauth_manager_free(m);
		provauth_account_free(a);
	}
	free(id);
	fake_pixverse_stop(srv);
	snprintf(extra, sizeof(extra), "%lu logins by the children, %d stored tokens superseded (recovered "
	         "by password login)", logins, needed_login);
	report("pixverse", landed, extra);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "pixiv: SIGKILL during refresh-token rotation", test_pixiv_rotation_kills },
		{ "pixverse: SIGKILL during password reauth", test_pixverse_login_kills },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "crash", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END
	};

	if (argc > 1 && strcmp(argv[1], "--child") == 0)
		return child_main(argc, argv);
	return pa_test_run(argc, argv, suites);
}
