/*
 * fake-pixiv: the fake pixiv server as a program, for demos and for tests
 * written in other languages. Prints "PORT=<n>" once listening, serves
 * /auth/token, /v1/..., /v2/... and the /__control/ API, and exits on
 * SIGTERM, SIGINT or end of standard input.
 *
 *   fake-pixiv [--expires-in N] [--rotate] [--revoke-old] [--standard]
 *              [--user REFRESH_TOKEN:USER_ID:NAME[:MAIL]]...
 */
#include "config.h"
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fake_pixiv.h"

static void usage(void)
{
	fprintf(stderr, "usage: fake-pixiv [--expires-in N] [--rotate] [--revoke-old] [--standard] "
	                "[--user REFRESH_TOKEN:USER_ID:NAME[:MAIL]]...\n");
}

/* End of input is the parent's way of saying "done" without knowing our pid. */
static void *watch_stdin(void *arg)
{
	char buf[256];

	(void)arg;
	while (read(STDIN_FILENO, buf, sizeof(buf)) > 0)
		;
	kill(getpid(), SIGTERM);
	return NULL;
}

static int add_user(fake_pixiv *f, const char *spec)
{
	char *copy = strdup(spec), *tok, *id, *name, *mail;
	int rc;

	if (!copy)
		return -1;
	tok = copy;
	id = strchr(tok, ':');
	if (id)
		*id++ = '\0';
	name = id ? strchr(id, ':') : NULL;
	if (name)
		*name++ = '\0';
	mail = name ? strchr(name, ':') : NULL;
	if (mail)
		*mail++ = '\0';
	rc = name ? fake_pixiv_add_user(f, tok, id, name, mail) : -1;
	free(copy);
	return rc;
}

int main(int argc, char **argv)
{
	fake_pixiv *f = NULL;
	sigset_t set;
	pthread_t reader;
	int i, sig = 0, rotate = 0, revoke_old = 0;

	/* Block the signals before any thread starts so that only sigwait sees them. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (fake_pixiv_start(&f) < 0) {
		fprintf(stderr, "fake-pixiv: cannot listen on 127.0.0.1\n");
		return 1;
	}
	fake_pixiv_enable_control(f, 1);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--expires-in") == 0 && i + 1 < argc) {
			fake_pixiv_set_expires_in(f, strtoll(argv[++i], NULL, 10));
		} else if (strcmp(argv[i], "--rotate") == 0) {
			rotate = 1;
		} else if (strcmp(argv[i], "--revoke-old") == 0) {
			revoke_old = 1;
		} else if (strcmp(argv[i], "--standard") == 0) {
			fake_pixiv_set_standard(f, 1, 1);
		} else if (strcmp(argv[i], "--user") == 0 && i + 1 < argc) {
			if (add_user(f, argv[++i]) < 0) {
				fprintf(stderr, "fake-pixiv: --user wants REFRESH_TOKEN:USER_ID:NAME[:MAIL]\n");
				fake_pixiv_stop(f);
				return 2;
			}
		} else {
			usage();
			fake_pixiv_stop(f);
			return 2;
		}
	}
	fake_pixiv_set_rotation(f, rotate, revoke_old);

	printf("PORT=%u\n", (unsigned int)fake_pixiv_port(f));
	fflush(stdout);

	if (pthread_create(&reader, NULL, watch_stdin, NULL) == 0)
		pthread_detach(reader);
	sigwait(&set, &sig);
	fake_pixiv_stop(f);
	return 0;
}
