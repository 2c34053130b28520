/*
 * A private PostgreSQL server for the CUnit tests: the C side of
 * tests/support/pg-cluster.sh (found through PA_SRCDIR, which the test
 * environment sets). One cluster per test process, on a free loopback port,
 * with password authentication through a passfile of its own; it is stopped
 * at exit, and by the script's watcher if the process dies first.
 *
 * Tests stay hermetic: pa_pg_start points PGPASSFILE at the cluster's
 * passfile and drops every other PG* variable (PGHOST, PGSERVICE,
 * PGPASSWORD ...), so neither this process nor its children reach the
 * caller's servers, service files or ~/.pgpass.
 */
#ifndef PA_PG_SERVER_H
#define PA_PG_SERVER_H

/*
 * Starts this process's private cluster (once; stopped at exit). 0 started,
 * 77 skip (reason printed: only outside CI), -1 failed (reason printed).
 * Sets PGPASSFILE and unsets the other PG* variables in the environment, so
 * children inherit it.
 */
int pa_pg_start(void);
/* The "provauth" database's URL (no password in it); NULL before pa_pg_start. */
const char *pa_pg_url(void);
/* The loopback port the server listens on; 0 before pa_pg_start. */
int pa_pg_port(void);
/* The passfile holding the password ("127.0.0.1:PORT:*:provauth:PASSWORD"). */
const char *pa_pg_passfile(void);
/* The script's state directory (cluster-dir, port, pgpass ...), for tests of the harness. */
const char *pa_pg_state_dir(void);
/* A new empty database `name` (a-z, 0-9, _): its URL (malloc) or NULL (reason printed). */
char *pa_pg_new_database(const char *name);
/* A new empty database with a name of its own in this process ("t<pid>_<n>"): its URL (malloc) or NULL. */
char *pa_pg_fresh_database(void);
/* Stop then start on the same port: clients see their connections dropped. 0 or -1. */
int pa_pg_restart(void);
/* Stops the server, keeping its data; pa_pg_resume starts it again on the same port. 0 or -1. */
int pa_pg_pause(void);
int pa_pg_resume(void);
/* One-value query via libpq, for tests: 0 and *out, or -1 (see pa_pg_sql_error). A NULL value reads as -1. */
int pa_pg_query_int(const char *url, const char *sql, long long *out);
/* Runs sql (any number of statements, no result wanted): 0 or -1 (see pa_pg_sql_error). */
int pa_pg_run_sql(const char *url, const char *sql);
/* What the last failed pa_pg_query_int / pa_pg_run_sql said. */
const char *pa_pg_sql_error(void);
/* The server's password, read from the passfile: malloc, or NULL. For tests proving it never leaks. */
char *pa_pg_server_password(void);
/* Stops the cluster and removes its files; the next pa_pg_start makes a new one. */
void pa_pg_stop(void);

#endif /* PA_PG_SERVER_H */
