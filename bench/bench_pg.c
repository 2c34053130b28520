/*
 * Helpers of the postgres benchmarks (see bench_pg.h). Each benchmark works
 * in a database of its own, dropped and created afresh, so runs neither see
 * each other's accounts nor depend on what a previous run left.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "bench_pg.h"
#include "bench_util.h"

/*
 * Every process of a benchmark, children included, seals with this key: a
 * shared postgres store needs the same key on every host. It is a benchmark
 * constant, not a secret.
 */
static const unsigned char bench_key[32] = "provauth-bench-key-0123456789abc";

const char *bench_pg_server(const char *bench)
{
	const char *url = getenv("PA_PG_URL");

	if (url && *url)
		return url;
	fprintf(stderr, "%s: no PostgreSQL server (PA_PG_URL unset): the postgres part is skipped\n", bench);
	return NULL;
}

static void die_pg(PGconn *c, const char *what)
{
	fprintf(stderr, "bench: %s: %s", what, c ? PQerrorMessage(c) : "out of memory\n");
	exit(1);
}

/* The server's notices ("database ... does not exist, skipping") are not the benchmark's output. */
static void ignore_notice(void *payload, const char *message)
{
	(void)payload;
	(void)message;
}

PGconn *bench_pg_connect(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	if (!c || PQstatus(c) != CONNECTION_OK)
		die_pg(c, "connecting to the benchmark server");
	PQsetNoticeProcessor(c, ignore_notice, NULL);
	return c;
}

void bench_pg_exec(PGconn *c, const char *sql)
{
	PGresult *r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK) {
		fprintf(stderr, "bench: %s: %s", sql, PQerrorMessage(c));
		exit(1);
	}
	PQclear(r);
}

/* Appends key='value' to buf, quoted as libpq's conninfo syntax wants. */
static void append_option(char *buf, size_t size, const char *key, const char *value)
{
	size_t len = strlen(buf);
	const char *p;

	len += (size_t)snprintf(buf + len, len < size ? size - len : 0, "%s%s='", len ? " " : "", key);
	for (p = value; *p && len + 3 < size; p++) {
		if (*p == '\'' || *p == '\\')
			buf[len++] = '\\';
		buf[len++] = *p;
	}
	if (len + 2 >= size) {
		fprintf(stderr, "bench: the server's connection string is too long\n");
		exit(1);
	}
	buf[len++] = '\'';
	buf[len] = '\0';
}

/* The options of url with dbname replaced; a password in the URL is dropped (the passfile has it). */
static char *conninfo_for(const char *url, const char *dbname)
{
	PQconninfoOption *opts, *o;
	char *err = NULL, *out;
	size_t size = 4096;

	if (!(opts = PQconninfoParse(url, &err))) {
		fprintf(stderr, "bench: PA_PG_URL: %s", err ? err : "cannot be parsed\n");
		exit(1);
	}
	if (!(out = calloc(1, size)))
		bench_die("out of memory");
	for (o = opts; o->keyword; o++) {
		if (!o->val || strcmp(o->keyword, "dbname") == 0 || strcmp(o->keyword, "password") == 0)
			continue;
		append_option(out, size, o->keyword, o->val);
	}
	append_option(out, size, "dbname", dbname);
	PQconninfoFree(opts);
	return out;
}

char *bench_pg_fresh_database(const char *url, const char *name)
{
	char *admin = conninfo_for(url, "postgres"), sql[256];
	PGconn *c = bench_pg_connect(admin);

	/* FORCE: a killed earlier run may have left a connection behind. */
	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS \"%s\" WITH (FORCE)", name);
	bench_pg_exec(c, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE \"%s\"", name);
	bench_pg_exec(c, sql);
	PQfinish(c);
	free(admin);
	return conninfo_for(url, name);
}

provauth_store *bench_pg_store_open(const char *conninfo, int pool_size)
{
	provauth_postgres_options po = PROVAUTH_POSTGRES_OPTIONS_INIT;
	provauth_store *st = NULL;

	po.key = bench_key;
	po.pool_size = pool_size;
	if (provauth_store_postgres_open(&st, conninfo, &po) < 0)
		bench_die("opening the postgres store");
	return st;
}
