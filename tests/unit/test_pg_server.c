/*
 * The PostgreSQL test harness itself (tests/support/pg_server.c and
 * pg-cluster.sh): the server starts, takes the passfile's password and
 * refuses another, a restart drops live connections and comes back on the
 * same port, new databases are empty and distinct, and stop leaves neither
 * a process nor a file behind. The postgres store's tests trust all of it.
 */
#include "config.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include <libpq-fe.h>
#include "../support/pa_test.h"
#include "../support/pg_server.h"

static char tmpdir[] = "/tmp/provauth-pgtest-XXXXXX";

static int suite_init(void)
{
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int suite_cleanup(void)
{
	return pa_test_rmtree(tmpdir);
}

/* The first line of `path`, without its newline; malloc or NULL. */
static char *first_line(const char *path)
{
	char line[4096], *nl;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	nl = strchr(line, '\n');
	if (nl)
		*nl = '\0';
	return strdup(line);
}

/*
 * Whether pid runs. A zombie does not: it holds nothing but its pid, and
 * reaping it is its parent's job (init's, for a daemonised postmaster; a
 * container's init may never do it).
 */
static int process_runs(long pid)
{
	char path[64], line[512], *paren;
	FILE *f;

	if (kill((pid_t)pid, 0) < 0)
		return 0;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	paren = strrchr(line, ')');
	return !(paren && paren[1] == ' ' && paren[2] == 'Z');
}

static void test_started(void)
{
	long long one = 0, port = 0;
	char *password = pa_pg_server_password();
	struct stat st;

	CU_ASSERT_PTR_NOT_NULL_FATAL(pa_pg_url());
	CU_ASSERT_PTR_NOT_NULL(strstr(pa_pg_url(), "@127.0.0.1:"));
	CU_ASSERT_EQUAL(pa_pg_query_int(pa_pg_url(), "SELECT 1", &one), 0);
	CU_ASSERT_EQUAL(one, 1);
	/* The server we reached is the one on the port we were told, over TCP. */
	CU_ASSERT_EQUAL(pa_pg_query_int(pa_pg_url(), "SELECT inet_server_port()", &port), 0);
	CU_ASSERT_EQUAL(port, pa_pg_port());
	/* The password lives only in the passfile, readable by us alone, and not in the URL. */
	CU_ASSERT_PTR_NOT_NULL_FATAL(password);
	CU_ASSERT(strlen(password) >= 32);
	CU_ASSERT_PTR_NULL(strstr(pa_pg_url(), password));
	CU_ASSERT_EQUAL_FATAL(stat(pa_pg_passfile(), &st), 0);
	CU_ASSERT_EQUAL(st.st_mode & 0777, 0600);
	CU_ASSERT_STRING_EQUAL(getenv("PGPASSFILE"), pa_pg_passfile());
	free(password);
}

/* The caller's libpq environment must be gone, or tests could reach another server. */
static void test_environment_is_ours(void)
{
	extern char **environ;
	char **e;

	for (e = environ; *e; e++)
		if (strncmp(*e, "PG", 2) == 0)
			CU_ASSERT(strncmp(*e, "PGPASSFILE=", 11) == 0);
}

static void test_wrong_password_refused(void)
{
	char *path = NULL, *url = NULL;
	long long one = 0;
	FILE *f;

	CU_ASSERT_FATAL(asprintf(&path, "%s/wrong-pgpass", tmpdir) > 0);
	f = fopen(path, "w");
	CU_ASSERT_PTR_NOT_NULL_FATAL(f);
	fprintf(f, "127.0.0.1:%d:*:provauth:not-the-password\n", pa_pg_port());
	fclose(f);
	chmod(path, 0600);
	CU_ASSERT_FATAL(asprintf(&url, "%s?passfile=%s", pa_pg_url(), path) > 0);
	CU_ASSERT_EQUAL(pa_pg_query_int(url, "SELECT 1", &one), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(pa_pg_sql_error(), "password authentication failed"));
	free(url);
	/* No password at all is refused as well: the server does not trust loopback. */
	CU_ASSERT_FATAL(asprintf(&url, "%s?passfile=%s/none", pa_pg_url(), tmpdir) > 0);
	CU_ASSERT_EQUAL(pa_pg_query_int(url, "SELECT 1", &one), -1);
	free(url);
	free(path);
}

static void test_restart_drops_connections(void)
{
	PGconn *c = PQconnectdb(pa_pg_url()), *again;
	PGresult *r;
	long long port = 0;

	CU_ASSERT_FATAL(PQstatus(c) == CONNECTION_OK);
	r = PQexec(c, "SELECT 1");
	CU_ASSERT(PQresultStatus(r) == PGRES_TUPLES_OK);
	PQclear(r);
	CU_ASSERT_EQUAL_FATAL(pa_pg_restart(), 0);
	r = PQexec(c, "SELECT 1");
	CU_ASSERT(PQresultStatus(r) != PGRES_TUPLES_OK);
	PQclear(r);
	CU_ASSERT(PQstatus(c) == CONNECTION_BAD);
	PQfinish(c);
	again = PQconnectdb(pa_pg_url());
	CU_ASSERT(PQstatus(again) == CONNECTION_OK);
	PQfinish(again);
	CU_ASSERT_EQUAL(pa_pg_query_int(pa_pg_url(), "SELECT inet_server_port()", &port), 0);
	CU_ASSERT_EQUAL(port, pa_pg_port());
}

static void test_pause_and_resume(void)
{
	long long one = 0;

	CU_ASSERT_EQUAL_FATAL(pa_pg_pause(), 0);
	CU_ASSERT_EQUAL(pa_pg_query_int(pa_pg_url(), "SELECT 1", &one), -1);
	CU_ASSERT_EQUAL_FATAL(pa_pg_resume(), 0);
	CU_ASSERT_EQUAL(pa_pg_query_int(pa_pg_url(), "SELECT 1", &one), 0);
	CU_ASSERT_EQUAL(one, 1);
}

static void test_new_databases(void)
{
	char *a = pa_pg_fresh_database(), *b = pa_pg_fresh_database();
	long long n = -1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_PTR_NOT_NULL_FATAL(b);
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
	CU_ASSERT_EQUAL(pa_pg_query_int(a, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* A table made in one is not in the other. */
	CU_ASSERT_EQUAL(pa_pg_run_sql(a, "CREATE TABLE t (x int); INSERT INTO t VALUES (42)"), 0);
	CU_ASSERT_EQUAL(pa_pg_query_int(a, "SELECT x FROM t", &n), 0);
	CU_ASSERT_EQUAL(n, 42);
	CU_ASSERT_EQUAL(pa_pg_query_int(b, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'", &n), 0);
	CU_ASSERT_EQUAL(n, 0);
	/* The owner is the test role, so tests may create and drop what they like. */
	CU_ASSERT_EQUAL(pa_pg_query_int(b, "SELECT (pg_get_userbyid(datdba) = 'provauth')::int FROM pg_database "
	                                   "WHERE datname = current_database()", &n), 0);
	CU_ASSERT_EQUAL(n, 1);
	CU_ASSERT_PTR_NULL(pa_pg_new_database("no'quote"));
	free(a);
	free(b);
}

/* Runs pg-cluster.sh start DIR OWNER quietly; its exit status. */
static int start_cluster_for(const char *dir, pid_t owner)
{
	char *script = NULL, owner_text[32];
	int status = -1;
	pid_t pid;

	if (asprintf(&script, "%s/tests/support/pg-cluster.sh", getenv("PA_SRCDIR")) < 0)
		return -1;
	snprintf(owner_text, sizeof(owner_text), "%ld", (long)owner);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);

		dup2(null, 1);
		execl("/bin/bash", "bash", script, "start", dir, owner_text, (char *)NULL);
		_exit(127);
	}
	free(script);
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* A test that crashes leaves no server behind: the watcher stops it when its owner is gone. */
static void test_dead_owner_stops_cluster(void)
{
	char *dir = NULL, *record = NULL, *cluster, *pidfile = NULL, *pid_text;
	long postmaster;
	struct stat st;
	pid_t owner;
	int i;

	CU_ASSERT_FATAL(asprintf(&dir, "%s/crashed", tmpdir) > 0);
	CU_ASSERT_EQUAL_FATAL(mkdir(dir, 0700), 0);
	owner = fork();
	CU_ASSERT_FATAL(owner >= 0);
	if (owner == 0) {
		for (;;)
			pause();
	}
	CU_ASSERT_EQUAL_FATAL(start_cluster_for(dir, owner), 0);
	CU_ASSERT_FATAL(asprintf(&record, "%s/cluster-dir", dir) > 0);
	cluster = first_line(record);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cluster);
	CU_ASSERT_FATAL(asprintf(&pidfile, "%s/data/postmaster.pid", cluster) > 0);
	pid_text = first_line(pidfile);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pid_text);
	postmaster = strtol(pid_text, NULL, 10);
	CU_ASSERT(process_runs(postmaster));

	CU_ASSERT_EQUAL(kill(owner, SIGKILL), 0);
	CU_ASSERT_EQUAL(waitpid(owner, NULL, 0), owner);
	for (i = 0; i < 250 && (process_runs(postmaster) || stat(cluster, &st) == 0 || stat(record, &st) == 0); i++)
		usleep(20000);
	CU_ASSERT(!process_runs(postmaster));
	CU_ASSERT_EQUAL(stat(cluster, &st), -1);
	/* Nor the password: the passfile went with the cluster. */
	CU_ASSERT_EQUAL(stat(record, &st), -1);
	free(pid_text);
	free(pidfile);
	free(cluster);
	free(record);
	free(dir);
}

static void test_stop_leaves_nothing(void)
{
	char *state = strdup(pa_pg_state_dir()), *record = NULL, *cluster, *pidfile = NULL, *pid_text, *watcher_file = NULL;
	char *watcher_text;
	long postmaster, watcher;
	long long one;
	struct stat st;
	int i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(state);
	CU_ASSERT_FATAL(asprintf(&record, "%s/cluster-dir", state) > 0);
	cluster = first_line(record);
	CU_ASSERT_PTR_NOT_NULL_FATAL(cluster);
	CU_ASSERT_FATAL(asprintf(&pidfile, "%s/data/postmaster.pid", cluster) > 0);
	pid_text = first_line(pidfile);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pid_text);
	postmaster = strtol(pid_text, NULL, 10);
	CU_ASSERT_FATAL(postmaster > 1);
	CU_ASSERT(process_runs(postmaster));
	CU_ASSERT_FATAL(asprintf(&watcher_file, "%s/watcher.pid", state) > 0);
	watcher_text = first_line(watcher_file);
	CU_ASSERT_PTR_NOT_NULL_FATAL(watcher_text);
	watcher = strtol(watcher_text, NULL, 10);
	CU_ASSERT(process_runs(watcher));

	pa_pg_stop();
	CU_ASSERT_PTR_NULL(pa_pg_url());
	CU_ASSERT(!process_runs(postmaster));
	/* The watcher is sent SIGTERM: give it a moment to go. */
	for (i = 0; i < 50 && process_runs(watcher); i++)
		usleep(20000);
	CU_ASSERT(!process_runs(watcher));
	CU_ASSERT_EQUAL(stat(cluster, &st), -1);
	CU_ASSERT_EQUAL(stat(state, &st), -1);
	/* Stopping twice is harmless. */
	pa_pg_stop();
	CU_ASSERT_EQUAL(pa_pg_query_int("postgresql://provauth@127.0.0.1:1/provauth", "SELECT 1", &one), -1);
	free(watcher_text);
	free(watcher_file);
	free(pid_text);
	free(pidfile);
	free(cluster);
	free(record);
	free(state);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "started, reachable, password in the passfile only", test_started },
		{ "no PG* variable of the caller left", test_environment_is_ours },
		{ "a wrong password is refused", test_wrong_password_refused },
		{ "restart drops live connections, same port after", test_restart_drops_connections },
		{ "pause and resume", test_pause_and_resume },
		{ "new databases are empty and distinct", test_new_databases },
		{ "a dead owner's cluster is stopped by the watcher", test_dead_owner_stops_cluster },
		{ "stop leaves no process and no file", test_stop_leaves_nothing },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "pg_server", suite_init, suite_cleanup, tests },
		PA_TEST_SUITE_END
	};
	int rc;

	/* Exported before the start so the test of the environment sees it dropped. */
	setenv("PGHOST", "elsewhere.invalid", 1);
	setenv("PGSERVICE", "not-ours", 1);
	rc = pa_pg_start();
	if (rc != 0)
		return rc == 77 ? 77 : 1;
	return pa_test_run(argc, argv, suites);
}
