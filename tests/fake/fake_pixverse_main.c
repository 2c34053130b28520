/*
 * fake-pixverse: the fake Pixverse API as a program, for the demo and for
 * manual runs. Prints "PORT=<n>" once listening, then serves until SIGTERM,
 * SIGINT or end of standard input (so a parent that dies takes it along;
 * --no-stdin turns that off for runs with stdin on /dev/null).
 */
#include "config.h"
#include "fake_pixverse.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void usage(FILE *out)
{
	fputs("usage: fake-pixverse [options]\n"
	      "  --port N                 listen on 127.0.0.1:N (default: a free port)\n"
	      "  --accounts FILE          accounts JSON (default: built-in demo accounts\n"
	      "                           alice@, dave@ (password), bob@ (Google-only),\n"
	      "                           eve@ (blocked), all @example.com)\n"
	      "  --token-ttl SECONDS      token lifetime (default 30 days)\n"
	      "  --login-limit N          logins per account per window (default 5)\n"
	      "  --login-limit-global N   logins per server per window (default 5)\n"
	      "  --login-window SECONDS   login limit window (default 60)\n"
	      "  --refresh-delivery HOW   cookie | bearer | header (default cookie)\n"
	      "  --openapi-total-credits  answer Resp.total_credits instead of credits\n"
	      "  --job-queue-ms MS        generation jobs stay queued MS ms (default 1000)\n"
	      "  --job-process-ms MS      then processing MS ms (default 3000)\n"
	      "  --early-cdn-ms MS        a video's first MS ms of processing show\n"
	      "                           status 10 with size 0 (default 1000)\n"
	      "  --no-control             disable the /__control/ endpoints\n"
	      "  --no-stdin               do not stop at end of standard input\n"
	      "  -v, --verbose            log one line per request to stderr\n"
	      "Prints PORT=<n> on stdout once listening.\n", out);
}

static int parse_num(long *out, const char *s, long min, long max, const char *opt)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || !*s || *end || v < min || v > max) {
		fprintf(stderr, "fake-pixverse: %s: '%s' is not a number in [%ld, %ld]\n",
			opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "port", required_argument, NULL, 'p' },
		{ "accounts", required_argument, NULL, 'a' },
		{ "token-ttl", required_argument, NULL, 't' },
		{ "login-limit", required_argument, NULL, 'l' },
		{ "login-limit-global", required_argument, NULL, 'g' },
		{ "login-window", required_argument, NULL, 'w' },
		{ "refresh-delivery", required_argument, NULL, 'r' },
		{ "openapi-total-credits", no_argument, NULL, 'T' },
		{ "job-queue-ms", required_argument, NULL, 'Q' },
		{ "job-process-ms", required_argument, NULL, 'P' },
		{ "early-cdn-ms", required_argument, NULL, 'E' },
		{ "no-control", no_argument, NULL, 'C' },
		{ "no-stdin", no_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	fake_pixverse_options opts;
	fake_pixverse *srv;
	const char *accounts = NULL;
	int watch_stdin = 1, c;
	long v;
	char err[512];

	memset(&opts, 0, sizeof(opts));
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			if (parse_num(&v, optarg, 0, 65535, "--port") < 0)
				return 2;
			opts.port = (unsigned short)v;
			break;
		case 'a':
			accounts = optarg;
			break;
		case 't':
			if (parse_num(&v, optarg, 1, 10L * 365 * 86400, "--token-ttl") < 0)
				return 2;
			opts.token_ttl = v;
			break;
		case 'l':
		case 'g':
			if (parse_num(&v, optarg, 1, 1000000, c == 'l' ? "--login-limit" :
				      "--login-limit-global") < 0)
				return 2;
			if (c == 'l')
				opts.login_limit = (unsigned)v;
			else
				opts.login_limit_global = (unsigned)v;
			break;
		case 'w':
			if (parse_num(&v, optarg, 1, 86400, "--login-window") < 0)
				return 2;
			opts.login_window = v;
			break;
		case 'r':
			if (!strcmp(optarg, "cookie"))
				opts.refresh_delivery = FAKE_PV_REFRESH_COOKIE;
			else if (!strcmp(optarg, "bearer"))
				opts.refresh_delivery = FAKE_PV_REFRESH_BEARER;
			else if (!strcmp(optarg, "header"))
				opts.refresh_delivery = FAKE_PV_REFRESH_TOKEN_HEADER;
			else {
				fprintf(stderr, "fake-pixverse: --refresh-delivery: '%s' is not "
					"cookie, bearer or header\n", optarg);
				return 2;
			}
			break;
		case 'T':
			opts.openapi_total_credits = 1;
			break;
		case 'Q':
		case 'P':
		case 'E':
			/* 0 in the options means the default: ask for 1 ms at least. */
			if (parse_num(&v, optarg, 1, 86400L * 1000, c == 'Q' ? "--job-queue-ms" :
				      c == 'P' ? "--job-process-ms" : "--early-cdn-ms") < 0)
				return 2;
			if (c == 'Q')
				opts.job_queue_ms = v;
			else if (c == 'P')
				opts.job_process_ms = v;
			else
				opts.early_cdn_ms = v;
			break;
		case 'C':
			opts.no_control_http = 1;
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
	if (optind < argc) {
		fprintf(stderr, "fake-pixverse: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	if (fake_main_catch_signals() < 0) {
		fprintf(stderr, "fake-pixverse: pipe: %s\n", strerror(errno));
		return 1;
	}

	srv = fake_pixverse_start(&opts, err, sizeof(err));
	if (!srv) {
		fprintf(stderr, "fake-pixverse: %s\n", err);
		return 1;
	}
	if (accounts ? fake_pixverse_load_accounts(srv, accounts, err, sizeof(err)) :
		       fake_pixverse_add_demo_accounts(srv)) {
		fprintf(stderr, "fake-pixverse: %s\n", accounts ? err : "cannot add demo accounts");
		fake_pixverse_stop(srv);
		return 1;
	}
	printf("PORT=%d\n", fake_pixverse_port(srv));
	fflush(stdout);

	fake_main_wait(watch_stdin);

	fake_pixverse_stop(srv);
	return 0;
}
