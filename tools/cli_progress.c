/*
 * The progress line: "provauth: contacting pixverse..." on stderr, but only
 * for a person watching a terminal and only once a network wait has lasted
 * longer than a moment. A fast command prints nothing extra; a slow one says
 * why nothing is happening yet. A helper thread waits for the deadline, so
 * the command's own thread never has to poll.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Long enough that a loopback or nearby server never triggers it. */
#define PROGRESS_DEFAULT_DELAY_MS 500

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_t thread;
	int running;   /* a thread was started and not yet joined */
	int done;      /* the wait is over: the thread must not print */
	char line[256];
} progress = { .mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER };

/* PROVAUTH_PROGRESS_DELAY_MS lets tests (and impatient people) pick the delay. */
static long progress_delay_ms(void)
{
	const char *s = getenv("PROVAUTH_PROGRESS_DELAY_MS");
	char *end;
	long v;

	if (!s || !*s)
		return PROGRESS_DEFAULT_DELAY_MS;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 0 || v > 60000)
		return PROGRESS_DEFAULT_DELAY_MS;
	return v;
}

static void *progress_main(void *arg)
{
	struct timespec deadline;
	long ms = (long)(intptr_t)arg;

	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += ms / 1000;
	deadline.tv_nsec += (ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&progress.mu);
	while (!progress.done &&
	       pthread_cond_timedwait(&progress.cv, &progress.mu, &deadline) != ETIMEDOUT)
		;
	if (!progress.done)
		fprintf(stderr, "provauth: %s\n", progress.line);
	pthread_mutex_unlock(&progress.mu);
	return NULL;
}

void cli_progress(const char *fmt, ...)
{
	pthread_condattr_t attr;
	va_list ap;

	if (progress.running || !isatty(STDERR_FILENO))
		return;
	va_start(ap, fmt);
	vsnprintf(progress.line, sizeof(progress.line), fmt, ap);
	va_end(ap);
	/* The deadline is on the monotonic clock: a clock step must not fire it. */
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_destroy(&progress.cv);
	pthread_cond_init(&progress.cv, &attr);
	pthread_condattr_destroy(&attr);
	progress.done = 0;
	/* No thread, no line: the command itself goes on regardless. */
	if (pthread_create(&progress.thread, NULL, progress_main,
	                   (void *)(intptr_t)progress_delay_ms()) == 0)
		progress.running = 1;
}

void cli_progress_done(void)
{
	if (!progress.running)
		return;
	pthread_mutex_lock(&progress.mu);
	progress.done = 1;
	pthread_cond_signal(&progress.cv);
	pthread_mutex_unlock(&progress.mu);
	pthread_join(progress.thread, NULL);
	progress.running = 0;
}
