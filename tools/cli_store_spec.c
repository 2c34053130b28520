/*
 * Stores named on the command line (`provauth store migrate --to/--from`,
 * `store check --store`): "postgresql://..." or "postgres://..." URIs and
 * libpq "key=value" strings open the postgres store, "sqlite:PATH" or a
 * plain path the sqlite store. Command lines are visible to every user of
 * the machine (ps, /proc/PID/cmdline) and stay in shell histories, so a
 * spec carrying a password is refused before anything is opened, and is
 * never echoed: the password belongs in PGPASSWORD or a libpq passfile.
 * libpq parses the spec here exactly as it will when connecting, so a
 * password hidden in a query parameter is caught too.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <libpq-fe.h>
#include <provauth/store.h>
#include "cli.h"

/* "host=... dbname=...": a keyword, optional blanks, then '='. */
static int looks_like_conninfo(const char *s)
{
	const char *p = s;

	while (isspace((unsigned char)*p))
		p++;
	if (!isalpha((unsigned char)*p))
		return 0;
	while (isalnum((unsigned char)*p) || *p == '_')
		p++;
	while (*p == ' ' || *p == '\t')
		p++;
	return *p == '=';
}

static int has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

/*
 * Whether libpq would take a password from `conninfo`: 1 yes, 0 no, -1 it
 * does not parse. libpq's own message is not shown: it may quote the text.
 */
static int conninfo_password(const char *conninfo)
{
	PQconninfoOption *opts, *o;
	char *err = NULL;
	int found = 0;

	if (!(opts = PQconninfoParse(conninfo, &err))) {
		PQfreemem(err);
		return -1;
	}
	for (o = opts; o->keyword; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val && o->val[0])
			found = 1;
	PQconninfoFree(opts);
	return found;
}

int cli_store_spec_parse(cli_store_spec *out, const char *command, const char *option, const char *spec)
{
	const char *target = spec;
	int pw;

	memset(out, 0, sizeof(*out));
	if (has_prefix(spec, "postgresql://") || has_prefix(spec, "postgres://") || looks_like_conninfo(spec)) {
		out->is_postgres = 1;
		if ((pw = conninfo_password(spec)) < 0)
			return cli_usage_error(command, "%s: not a PostgreSQL connection URI or \"key=value\" "
			                       "string libpq accepts (it is not repeated here: it may hold a secret)",
			                       option);
		if (pw)
			return cli_usage_error(command, "%s: the connection string holds a password, which is "
			                       "refused: command lines are visible to other users of this machine "
			                       "(ps) and stay in shell histories. Leave the password out and give it "
			                       "in PGPASSWORD or in a libpq password file (~/.pgpass, PGPASSFILE)",
			                       option);
	} else if (has_prefix(spec, "sqlite:")) {
		target = spec + strlen("sqlite:");
	}
	if (!target[0])
		return cli_usage_error(command, "%s: no sqlite file named after \"sqlite:\"", option);
	if (!(out->target = strdup(target))) {
		cli_error("out of memory");
		return CLI_EXIT_ERROR;
	}
	out->shown = out->target;
	return -1;
}

int cli_store_spec_open(provauth_store **out, const cli_store_spec *spec, const char *key_file,
                        int must_exist)
{
	struct stat st;
	int rc;

	*out = NULL;
	if (spec->is_postgres) {
		provauth_postgres_options po = PROVAUTH_POSTGRES_OPTIONS_INIT;

		po.key_file = key_file;
		po.no_create = must_exist;
		rc = provauth_store_postgres_open(out, spec->target, &po);
	} else {
		provauth_sqlite_options so = PROVAUTH_SQLITE_OPTIONS_INIT;

		/* Opening a sqlite file creates it: a store that is only read must exist first. */
		if (must_exist && stat(spec->target, &st) != 0 && errno == ENOENT) {
			cli_error("no store at %s", spec->target);
			return CLI_EXIT_ERROR;
		}
		so.key_file = key_file;
		rc = provauth_store_sqlite_open(out, spec->target, &so);
	}
	if (rc < 0)
		return cli_fail(rc);
	return 0;
}

void cli_store_spec_free(cli_store_spec *spec)
{
	free(spec->target);
	memset(spec, 0, sizeof(*spec));
}
