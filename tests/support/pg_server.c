/*
 * The test processes' private PostgreSQL server (pg_server.h): runs
 * tests/support/pg-cluster.sh with this process as the owner its watcher
 * outlives, and keeps the URL and passfile it prints. The script is run
 * with fork and exec, not a shell command line, so no path is ever quoted.
 */
#include "config.h"
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libpq-fe.h>
#include "pa_test.h"
#include "pg_server.h"

extern char **environ;

static char state_dir[64];
static char *url;
static char *passfile;
static int port;
static pid_t owner;
static int at_exit_registered;
static int database_count;
static char last_error[512];

static char *script_path(void)
{
	const char *src = getenv("PA_SRCDIR");
	const char *rel = "/tests/support/pg-cluster.sh";
	size_t size;
	char *p;

	if (!src || !*src) {
		fprintf(stderr, "pg_server: PA_SRCDIR is not set (make check sets it)\n");
		return NULL;
	}
	size = strlen(src) + strlen(rel) + 1;
	p = malloc(size);
	if (p)
		snprintf(p, size, "%s%s", src, rel);
	return p;
}

/*
 * Runs the script with `cmd` on our state directory (and `arg` when not
 * NULL); its stdout goes to *out (malloc, NUL-terminated) when out is not
 * NULL, its stderr to ours. Returns its exit status, or -1.
 */
static int run_script(const char *cmd, const char *arg, char **out)
{
	char *script = script_path(), *buf = NULL;
	size_t len = 0, size = 0;
	int fds[2], status;
	pid_t pid;
	char owner_text[32];

	if (!script)
		return -1;
	if (pipe(fds) < 0) {
		free(script);
		return -1;
	}
	snprintf(owner_text, sizeof(owner_text), "%ld", (long)owner);
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (strcmp(cmd, "start") == 0)
			execl("/bin/bash", "bash", script, cmd, state_dir, owner_text, (char *)NULL);
		else
			execl("/bin/bash", "bash", script, cmd, state_dir, arg, (char *)NULL);
		_exit(127);
	}
	free(script);
	close(fds[1]);
	if (pid < 0) {
		close(fds[0]);
		return -1;
	}
	for (;;) {
		ssize_t n;

		if (len + 256 > size) {
			char *bigger = realloc(buf, size = size * 2 + 512);

			if (!bigger)
				break;
			buf = bigger;
		}
		n = read(fds[0], buf + len, size - len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (buf)
		buf[len] = '\0';
	if (out)
		*out = buf;
	else
		free(buf);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The value of `name='value'` or `name=value` on a line of text; malloc, or NULL. */
static char *assignment(const char *text, const char *name)
{
	size_t n = strlen(name), len;
	const char *p = text, *v, *end;
	char *copy;

	while (p && *p) {
		if (strncmp(p, name, n) == 0 && p[n] == '=') {
			v = p + n + 1;
			end = strchr(v, '\n');
			len = end ? (size_t)(end - v) : strlen(v);
			if (len >= 2 && v[0] == '\'' && v[len - 1] == '\'') {
				v++;
				len -= 2;
			}
			copy = malloc(len + 1);
			if (copy) {
				memcpy(copy, v, len);
				copy[len] = '\0';
			}
			return copy;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return NULL;
}

/* Drops every PG* variable: the caller's PGHOST, PGSERVICE or PGPASSWORD must not reach libpq. */
static void unset_pg_environment(void)
{
	for (;;) {
		char name[256];
		char **e;
		size_t n = 0;

		for (e = environ; *e; e++)
			if (strncmp(*e, "PG", 2) == 0)
				break;
		if (!*e)
			return;
		while ((*e)[n] && (*e)[n] != '=' && n < sizeof(name) - 1) {
			name[n] = (*e)[n];
			n++;
		}
		name[n] = '\0';
		if (unsetenv(name) < 0)
			return;
	}
}

static void stop_at_exit(void)
{
	/* A forked child that exits must not take its parent's server down. */
	if (getpid() == owner)
		pa_pg_stop();
}

int pa_pg_start(void)
{
	char *out = NULL, *port_text;
	int rc;

	if (url)
		return 0;
	unset_pg_environment();
	owner = getpid();
	snprintf(state_dir, sizeof(state_dir), "/tmp/provauth-pgstate-XXXXXX");
	if (!mkdtemp(state_dir)) {
		perror("pg_server: mkdtemp");
		return -1;
	}
	if (!at_exit_registered) {
		atexit(stop_at_exit);
		at_exit_registered = 1;
	}
	rc = run_script("start", NULL, &out);
	if (rc != 0) {
		free(out);
		/* A start that failed half-way may have left a server running: stop takes whatever is there. */
		if (rc != 77)
			run_script("stop", NULL, NULL);
		pa_test_rmtree(state_dir);
		state_dir[0] = '\0';
		if (rc == 77)
			return 77;
		fprintf(stderr, "pg_server: pg-cluster.sh start failed (exit %d)\n", rc);
		return -1;
	}
	url = out ? assignment(out, "PA_PG_URL") : NULL;
	passfile = out ? assignment(out, "PGPASSFILE") : NULL;
	port_text = out ? assignment(out, "PA_PG_PORT") : NULL;
	port = port_text ? (int)strtol(port_text, NULL, 10) : 0;
	free(port_text);
	free(out);
	if (!url || !passfile || port <= 0) {
		fprintf(stderr, "pg_server: pg-cluster.sh start printed no URL, passfile or port\n");
		pa_pg_stop();
		return -1;
	}
	setenv("PGPASSFILE", passfile, 1);
	return 0;
}

const char *pa_pg_url(void)
{
	return url;
}

int pa_pg_port(void)
{
	return port;
}

const char *pa_pg_passfile(void)
{
	return passfile;
}

const char *pa_pg_state_dir(void)
{
	return state_dir[0] ? state_dir : NULL;
}

char *pa_pg_new_database(const char *name)
{
	char *out = NULL, *nl;

	if (!url)
		return NULL;
	if (run_script("createdb", name, &out) != 0 || !out || strncmp(out, "postgresql://", 13) != 0) {
		fprintf(stderr, "pg_server: createdb %s failed\n", name);
		free(out);
		return NULL;
	}
	nl = strchr(out, '\n');
	if (nl)
		*nl = '\0';
	return out;
}

char *pa_pg_fresh_database(void)
{
	char name[64];

	snprintf(name, sizeof(name), "t%ld_%d", (long)getpid(), ++database_count);
	return pa_pg_new_database(name);
}

int pa_pg_restart(void)
{
	return url && run_script("restart", NULL, NULL) == 0 ? 0 : -1;
}

int pa_pg_pause(void)
{
	return url && run_script("pause", NULL, NULL) == 0 ? 0 : -1;
}

int pa_pg_resume(void)
{
	return url && run_script("resume", NULL, NULL) == 0 ? 0 : -1;
}

static PGconn *connect_to(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (c && PQstatus(c) == CONNECTION_OK)
		return c;
	snprintf(last_error, sizeof(last_error), "%s", c ? PQerrorMessage(c) : "out of memory");
	PQfinish(c);
	return NULL;
}

int pa_pg_query_int(const char *conninfo, const char *sql, long long *out)
{
	PGconn *c = connect_to(conninfo);
	PGresult *r;
	int rc = -1;

	if (!c)
		return -1;
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1 || PQnfields(r) != 1) {
		snprintf(last_error, sizeof(last_error), "%s: %s", sql,
		         PQresultStatus(r) == PGRES_TUPLES_OK ? "not one value" : PQerrorMessage(c));
	} else {
		*out = PQgetisnull(r, 0, 0) ? -1 : strtoll(PQgetvalue(r, 0, 0), NULL, 10);
		rc = 0;
	}
	PQclear(r);
	PQfinish(c);
	return rc;
}

int pa_pg_run_sql(const char *conninfo, const char *sql)
{
	PGconn *c = connect_to(conninfo);
	PGresult *r;
	int rc = -1;

	if (!c)
		return -1;
	r = PQexec(c, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
		rc = 0;
	else
		snprintf(last_error, sizeof(last_error), "%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	return rc;
}

const char *pa_pg_sql_error(void)
{
	return last_error;
}

char *pa_pg_server_password(void)
{
	char line[512], *colon, *nl;
	FILE *f;
	int i;

	if (!passfile || !(f = fopen(passfile, "r")))
		return NULL;
	if (!fgets(line, sizeof(line), f)) {
		fclose(f);
		return NULL;
	}
	fclose(f);
	/* host:port:database:user:password */
	colon = line;
	for (i = 0; i < 4 && colon; i++) {
		colon = strchr(colon, ':');
		if (colon)
			colon++;
	}
	if (!colon)
		return NULL;
	nl = strchr(colon, '\n');
	if (nl)
		*nl = '\0';
	return strdup(colon);
}

void pa_pg_stop(void)
{
	if (!state_dir[0])
		return;
	run_script("stop", NULL, NULL);
	pa_test_rmtree(state_dir);
	state_dir[0] = '\0';
	free(url);
	free(passfile);
	url = passfile = NULL;
	port = 0;
}
