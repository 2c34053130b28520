/*
 * provauthd: serves libprovauth over HTTP (see daemon.h for its rooms).
 *
 *   provauthd [--config FILE]        serve until SIGTERM; SIGHUP reloads
 *   provauthd --check [--config FILE] check the settings file and exit
 *   provauthd --hash-token           print the SHA-256 of a token read on stdin
 *   provauthd --version
 *
 * Signals are taken by one thread with sigwait, so no handler runs inside
 * a library call: every other thread blocks them.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include "daemon.h"

#define DEFAULT_CONFIG SYSCONFDIR "/provauth/provauthd.yaml"

enum { EXIT_USAGE = 2, EXIT_CONFIG = 3, EXIT_START = 4 };

int64_t pad_now(void)
{
	return (int64_t)time(NULL);
}

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: provauthd [--config FILE]          serve (SIGHUP reloads, SIGTERM drains)\n"
	        "       provauthd --check [--config FILE]  check the settings and exit\n"
	        "       provauthd --hash-token             read a token on stdin, print its sha256\n"
	        "       provauthd --version\n"
	        "FILE defaults to $PROVAUTH_CONFIG, else " DEFAULT_CONFIG ".\n");
}

/* The token is a secret: read it without echo from a terminal, print only its hash. */
static int hash_token(void)
{
	char buf[4096];
	unsigned char digest[32];
	unsigned int dlen = 0, i;
	struct termios saved, quiet;
	int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
	char *got;
	size_t len;

	if (tty) {
		fprintf(stderr, "token (not shown, then Enter): ");
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	got = fgets(buf, sizeof(buf), stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
		fprintf(stderr, "\n");
	}
	if (!got) {
		fprintf(stderr, "provauthd: no token on stdin\n");
		return EXIT_USAGE;
	}
	len = strcspn(buf, "\r\n");
	if (len < 16) {
		OPENSSL_cleanse(buf, sizeof(buf));
		fprintf(stderr, "provauthd: a token needs at least 16 characters (e.g. openssl rand -hex 32)\n");
		return EXIT_USAGE;
	}
	EVP_Digest(buf, len, digest, &dlen, EVP_sha256(), NULL);
	OPENSSL_cleanse(buf, sizeof(buf));
	for (i = 0; i < dlen; i++)
		printf("%02x", digest[i]);
	printf("\n");
	return 0;
}

/* {"pid":N,"url":"..."} written whole (temp file + rename), for supervisors and tests. */
static int write_ready_file(const char *path, const char *url)
{
	char tmp[4096];
	FILE *f;
	int fd;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		return -1;
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		return -1;
	if (!(f = fdopen(fd, "w"))) {
		close(fd);
		return -1;
	}
	fprintf(f, "{\"pid\":%ld,\"url\":\"%s\"}\n", (long)getpid(), url);
	if (fclose(f) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	return 0;
}

static void drain(pad_daemon *d);

/*
 * A start that failed half-way stops what it started (threads joined, the
 * world let go) before the exit status says why: an exit with threads still
 * running could write a webhook's dead letter half-way.
 */
static int fail_start(pad_daemon *d, const char *what, int rc)
{
	/* The listener says why in its own log line: the library's last error is not its to set. */
	const char *why = *provauth_last_error() ? provauth_last_error() : "see the error logged above";
	const provauth_log_field f[] = { PAD_F_STR("stage", what), PAD_F_STR("error", why), PAD_F_INT("code", rc) };
	pad_world *w;

	pad_log(d, PROVAUTH_LOG_ERROR, "start_failed", f, PAD_ARRAY_LEN(f));
	fprintf(stderr, "provauthd: %s: %s\n", what, why);
	if (d->world) {
		drain(d);
		pthread_mutex_lock(&d->world_lock);
		w = d->world;
		d->world = NULL;
		pthread_mutex_unlock(&d->world_lock);
		pad_world_put(w);
	}
	return rc == PROVAUTH_ECONFIG ? EXIT_CONFIG : EXIT_START;
}

/* Drain: refuse new work, let what is in flight finish, then stop each room. */
static void drain(pad_daemon *d)
{
	pad_world *w = pad_world_get(d);
	int64_t timeout = w ? w->config->drain_timeout : 30;
	const provauth_log_field f[] = { PAD_F_INT("in_flight", d->server ? pad_server_in_flight(d->server) : 0),
	                                 PAD_F_INT("drain_timeout", timeout) };

	pad_world_put(w);
	atomic_store(&d->draining, 1);
	pad_log(d, PROVAUTH_LOG_INFO, "draining", f, PAD_ARRAY_LEN(f));
	if (d->keeper)
		pad_keeper_stop(d->keeper);
	if (d->server)
		pad_server_stop(d->server, timeout);
	if (d->notifier)
		pad_notifier_stop(d->notifier);
	d->keeper = NULL;
	d->server = NULL;
	d->notifier = NULL;
}

/* keeper.enabled is read again at a reload: the keeper starts or stops with it. */
static void keeper_follows_settings(pad_daemon *d)
{
	pad_world *w = pad_world_get(d);
	int enabled = w && w->config->keeper.enabled;
	int rc;

	pad_world_put(w);
	if (enabled && !d->keeper) {
		if ((rc = pad_keeper_start(&d->keeper, d)) < 0) {
			const provauth_log_field f[] = { PAD_F_STR("error", provauth_last_error()), PAD_F_INT("code", rc) };
			pad_log(d, PROVAUTH_LOG_ERROR, "keeper_start_failed", f, PAD_ARRAY_LEN(f));
			d->keeper = NULL;
		}
	} else if (!enabled && d->keeper) {
		pad_keeper_stop(d->keeper);
		d->keeper = NULL;
	}
}

static int serve(pad_daemon *d)
{
	sigset_t set;
	pad_world *w;
	int rc, sig;

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((rc = pad_world_load(&w, d)) < 0)
		return fail_start(d, "settings", rc);
	w->generation = d->generations = 1;
	d->world = w;
	pad_metric_set("provauthd_world_generation", "", 1);
	pad_metric_set("provauthd_up", "", 1);
	if ((rc = pad_notifier_start(&d->notifier, d)) < 0)
		return fail_start(d, "webhooks", rc);
	if ((rc = pad_server_start(&d->server, d)) < 0)
		return fail_start(d, "listen", rc);
	if (w->config->keeper.enabled && (rc = pad_keeper_start(&d->keeper, d)) < 0)
		return fail_start(d, "keeper", rc);
	atomic_store(&d->ready, 1);
	if (w->config->ready_file && write_ready_file(w->config->ready_file, pad_server_url(d->server)) < 0)
		return fail_start(d, "ready_file", PROVAUTH_EIO);
	{
		const provauth_log_field f[] = { PAD_F_STR("url", pad_server_url(d->server)),
		                                 PAD_F_STR("version", provauth_version()),
		                                 PAD_F_INT("tokens", w->config->ntokens),
		                                 PAD_F_BOOL("keeper", d->keeper != NULL) };
		pad_log(d, PROVAUTH_LOG_INFO, "serving", f, PAD_ARRAY_LEN(f));
	}
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (pad_reload(d) == 0)
				keeper_follows_settings(d);
			continue;
		}
		break;
	}
	drain(d);
	{
		const provauth_log_field f[] = { PAD_F_STR("signal", sig == SIGINT ? "SIGINT" : "SIGTERM") };
		pad_log(d, PROVAUTH_LOG_INFO, "stopped", f, PAD_ARRAY_LEN(f));
	}
	pthread_mutex_lock(&d->world_lock);
	w = d->world;
	d->world = NULL;
	pthread_mutex_unlock(&d->world_lock);
	pad_world_put(w);
	return 0;
}

static int check(pad_daemon *d)
{
	provauth_settings *s = NULL;
	pad_config *c = NULL;
	int rc;

	if ((rc = provauth_settings_load(&s, d->settings_path)) < 0 || (rc = pad_check_store(s)) < 0 ||
	    (rc = pad_config_load(&c, s)) < 0) {
		fprintf(stderr, "provauthd: %s\n", provauth_last_error());
		provauth_settings_free(s);
		return EXIT_CONFIG;
	}
	printf("%s: ok (listen %s, %zu token%s, keeper %s, webhook %s)\n", d->settings_path, c->listen,
	       c->ntokens, c->ntokens == 1 ? "" : "s", c->keeper.enabled ? "on" : "off",
	       c->webhook.url ? "on" : "off");
	pad_config_free(c);
	provauth_settings_free(s);
	return 0;
}

int main(int argc, char **argv)
{
	pad_daemon d;
	const char *config = NULL;
	int do_check = 0, i, rc;

	memset(&d, 0, sizeof(d));
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
			config = argv[++i];
		else if (strncmp(argv[i], "--config=", 9) == 0)
			config = argv[i] + 9;
		else if (strcmp(argv[i], "--check") == 0)
			do_check = 1;
		else if (strcmp(argv[i], "--hash-token") == 0)
			return hash_token();
		else if (strcmp(argv[i], "--version") == 0) {
			printf("provauthd %s\n", provauth_version());
			return 0;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "provauthd: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!config)
		config = getenv("PROVAUTH_CONFIG");
	if (!config || !*config)
		config = DEFAULT_CONFIG;
	if (!(d.settings_path = strdup(config)))
		return EXIT_START;
	pthread_mutex_init(&d.world_lock, NULL);
	pthread_mutex_init(&d.log_lock, NULL);
	d.log = stderr;
	d.started_at = pad_now();
	rc = do_check ? check(&d) : (provauth_process_harden(), serve(&d));
	free(d.settings_path);
	return rc;
}
