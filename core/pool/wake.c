/*
 * Waiting for a free slot. A release in this process wakes this process's
 * waiters at once; releases elsewhere (other processes, other hosts) are
 * seen by asking the store again, which waiters do at least every
 * PA_POOL_RECHECK_MS (acquire.c).
 */
#include "config.h"
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>
#include "pool/pool.h"

struct pa_pool_waker {
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* on CLOCK_MONOTONIC */
	uint64_t generation;     /* bumped by every release */
};

int pa_pool_waker_new(pa_pool_waker **out)
{
	pa_pool_waker *w = calloc(1, sizeof(*w));
	pthread_condattr_t attr;

	*out = NULL;
	if (!w)
		return pa_error_oom();
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	if (pthread_mutex_init(&w->mu, NULL) != 0 || pthread_cond_init(&w->cv, &attr) != 0) {
		pthread_condattr_destroy(&attr);
		free(w);
		return pa_error_set(PROVAUTH_ERROR, "pool: cannot create a condition variable");
	}
	pthread_condattr_destroy(&attr);
	*out = w;
	return 0;
}

void pa_pool_waker_free(pa_pool_waker *w)
{
	if (!w)
		return;
	pthread_cond_destroy(&w->cv);
	pthread_mutex_destroy(&w->mu);
	free(w);
}

uint64_t pa_pool_waker_generation(pa_pool_waker *w)
{
	uint64_t g;

	pthread_mutex_lock(&w->mu);
	g = w->generation;
	pthread_mutex_unlock(&w->mu);
	return g;
}

void pa_pool_waker_signal(pa_pool_waker *w)
{
	pthread_mutex_lock(&w->mu);
	w->generation++;
	pthread_cond_broadcast(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

void pa_pool_waker_wait(pa_pool_waker *w, uint64_t seen, int64_t timeout_ms)
{
	struct timespec deadline;

	if (timeout_ms <= 0)
		return;
	clock_gettime(CLOCK_MONOTONIC, &deadline);
	deadline.tv_sec += (time_t)(timeout_ms / 1000);
	deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (deadline.tv_nsec >= 1000000000L) {
		deadline.tv_sec++;
		deadline.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&w->mu);
	while (w->generation == seen)
		if (pthread_cond_timedwait(&w->cv, &w->mu, &deadline) == ETIMEDOUT)
			break;
	pthread_mutex_unlock(&w->mu);
}
