/*
 * fake-bearer: the tiny bearer-token API the example plugin
 * (examples/plugin/bearer.c) talks to, on 127.0.0.1:
 *   POST /token   {"refresh_token": R}  -> {"access_token", "expires_in", "email"}
 *                 unknown R: 400 {"error": "invalid_grant"}
 *   GET  /whoami  Authorization: Bearer A -> {"email": ...}
 *                 anything but the user's current A: 401 {"error": "invalid_token"}
 * A new token replaces the user's previous one. Besides the common control
 * endpoints (stats, faults: endpoints "token" and "whoami"):
 *   POST /__control/revoke?email=X   X's current access token answers 401
 * Prints PORT=<n>, serves until SIGTERM/SIGINT or end of standard input.
 */
#include "config.h"
#include "fake_common.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_USERS 16

typedef struct user {
	char *email;
	char *refresh_token;
	char access_token[64];  /* "" when none is valid */
} user;

typedef struct bearer {
	user users[MAX_USERS];
	size_t nusers;
	long ttl;
	unsigned long serial, issued;
} bearer;

enum { ROUTE_TOKEN, ROUTE_WHOAMI };

static const fake_route routes[] = {
	{ "token", "POST", "/token" },
	{ "whoami", "GET", "/whoami" },
};

static void error_reply(fake_response *resp, unsigned status, const char *error)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "error", json_object_new_string(error));
	fake_response_json(resp, status, o);
}

static void handle_token(bearer *b, const fake_request *req, fake_response *resp)
{
	json_object *in = fake_json_parse(req->body, req->body_len), *rt, *o;
	user *u = NULL;
	size_t i;

	if (in && json_object_object_get_ex(in, "refresh_token", &rt) && json_object_is_type(rt, json_type_string))
		for (i = 0; i < b->nusers && !u; i++)
			if (!strcmp(b->users[i].refresh_token, json_object_get_string(rt)))
				u = &b->users[i];
	json_object_put(in);
	if (!u) {
		error_reply(resp, 400, "invalid_grant");
		return;
	}
	/* Distinct per issue, so a test can tell old tokens from new ones. */
	snprintf(u->access_token, sizeof(u->access_token), "at-%lu-%ld", ++b->serial, (long)getpid());
	b->issued++;
	o = json_object_new_object();
	json_object_object_add(o, "access_token", json_object_new_string(u->access_token));
	json_object_object_add(o, "expires_in", json_object_new_int64(b->ttl));
	json_object_object_add(o, "email", json_object_new_string(u->email));
	fake_response_json(resp, 200, o);
}

static void handle_whoami(bearer *b, const fake_request *req, fake_response *resp)
{
	const char *auth = fake_request_header(req, "Authorization");
	json_object *o;
	size_t i;

	if (auth && !strncmp(auth, "Bearer ", 7))
		for (i = 0; i < b->nusers; i++)
			if (b->users[i].access_token[0] && !strcmp(b->users[i].access_token, auth + 7)) {
				o = json_object_new_object();
				json_object_object_add(o, "email", json_object_new_string(b->users[i].email));
				fake_response_json(resp, 200, o);
				return;
			}
	error_reply(resp, 401, "invalid_token");
}

static void handle(void *ctx, const fake_request *req, fake_response *resp)
{
	if (req->route == ROUTE_TOKEN)
		handle_token(ctx, req, resp);
	else
		handle_whoami(ctx, req, resp);
}

static void control(void *ctx, const fake_request *req, fake_response *resp)
{
	bearer *b = ctx;
	const char *email = fake_request_arg(req, "email");
	size_t i;

	if (strcmp(req->path, "/__control/revoke") != 0)
		return;
	for (i = 0; i < b->nusers; i++)
		if (email && !strcmp(b->users[i].email, email)) {
			b->users[i].access_token[0] = '\0';
			fake_control_ok(resp, NULL);
			return;
		}
	fake_control_error(resp, "revoke: unknown user '%s'", email ? email : "");
}

static void stats(void *ctx, json_object *o)
{
	json_object_object_add(o, "tokens_issued", json_object_new_int64((int64_t)((bearer *)ctx)->issued));
}

static void usage(FILE *out)
{
	fputs("usage: fake-bearer [--user EMAIL=REFRESH_TOKEN]... [--token-ttl S] [--no-stdin] [-v]\n"
	      "Default user: ann@example.com=rt-ann. Prints PORT=<n> once listening.\n", out);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "token-ttl", required_argument, NULL, 't' },
		{ "no-stdin", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	static bearer b;
	fake_server_options opts;
	fake_server *srv;
	char err[512], *eq;
	int watch_stdin = 1, c, rc = 0;
	size_t i;

	memset(&opts, 0, sizeof(opts));
	b.ttl = 3600;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'u':
			if (!(eq = strchr(optarg, '=')) || eq == optarg || !eq[1] || b.nusers == MAX_USERS) {
				fprintf(stderr, "fake-bearer: --user: want EMAIL=REFRESH_TOKEN (at most %d)\n", MAX_USERS);
				return 2;
			}
			b.users[b.nusers].email = strndup(optarg, (size_t)(eq - optarg));
			b.users[b.nusers++].refresh_token = strdup(eq + 1);
			break;
		case 't':
			b.ttl = strtol(optarg, NULL, 10);
			if (b.ttl < 1) {
				fprintf(stderr, "fake-bearer: --token-ttl: want a positive number of seconds\n");
				return 2;
			}
			break;
		case 'S':
			watch_stdin = 0;
			break;
		case 'v':
			opts.log = stderr;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (b.nusers == 0) {
		b.users[0].email = strdup("ann@example.com");
		b.users[0].refresh_token = strdup("rt-ann");
		b.nusers = 1;
	}
	for (i = 0; i < b.nusers; i++)
		if (!b.users[i].email || !b.users[i].refresh_token) {
			fprintf(stderr, "fake-bearer: out of memory\n");
			return 1;
		}

	if (fake_main_catch_signals() < 0) {
		fprintf(stderr, "fake-bearer: pipe: %s\n", strerror(errno));
		return 1;
	}

	opts.routes = routes;
	opts.nroutes = sizeof(routes) / sizeof(routes[0]);
	opts.handle = handle;
	opts.control = control;
	opts.stats = stats;
	opts.ctx = &b;
	if (fake_server_start(&srv, &opts, err, sizeof(err)) < 0) {
		fprintf(stderr, "fake-bearer: %s\n", err);
		rc = 1;
	} else {
		printf("PORT=%d\n", fake_server_port(srv));
		fflush(stdout);
		fake_main_wait(watch_stdin);
		fake_server_stop(srv);
	}
	for (i = 0; i < b.nusers; i++) {
		free(b.users[i].email);
		free(b.users[i].refresh_token);
	}
	return rc;
}
