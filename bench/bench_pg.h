/*
 * What the postgres benchmarks share: the server ./dev bench started (its
 * URL in PA_PG_URL, the password in the PGPASSFILE it wrote), a fresh
 * database of their own on it, a bare libpq connection for the baselines
 * and the postgres store opened with a fixed benchmark key.
 */
#ifndef BENCH_PG_H
#define BENCH_PG_H

#include <libpq-fe.h>
#include <provauth/store.h>

/*
 * The server's URL from PA_PG_URL, or NULL after saying on stderr that the
 * postgres part of `bench` is skipped (./dev bench could not start one).
 */
const char *bench_pg_server(const char *bench);
/*
 * Drops and creates database `name` on the server `url` names, and returns
 * a conninfo string for it (malloc'ed; the password stays in the passfile).
 * Exits the benchmark when the server refuses.
 */
char *bench_pg_fresh_database(const char *url, const char *name);
/* A bare libpq connection (the baselines' client); exits on failure. */
PGconn *bench_pg_connect(const char *conninfo);
/* Runs a statement without parameters that returns no rows; exits on failure. */
void bench_pg_exec(PGconn *c, const char *sql);
/* The postgres store on conninfo, pool_size connections (0: the default), the benchmark's key. */
provauth_store *bench_pg_store_open(const char *conninfo, int pool_size);

#endif /* BENCH_PG_H */
