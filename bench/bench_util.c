/* The helpers every benchmark shares (see bench_util.h). */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>
#include "bench_util.h"

uint64_t bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

double bench_quantile(double *v, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

double bench_median(double *v, size_t n)
{
	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_min(const double *v, size_t n)
{
	double m = n ? v[0] : 0;
	size_t i;

	for (i = 1; i < n; i++)
		if (v[i] < m)
			m = v[i];
	return m;
}

void bench_log_quiet(provauth_log_level level, const char *event, const provauth_log_field *fields,
                     size_t nfields, void *payload)
{
	(void)level; (void)event; (void)fields; (void)nfields; (void)payload;
}

void bench_die(const char *what)
{
	fprintf(stderr, "bench: %s: %s\n", what, provauth_last_error());
	exit(1);
}

long bench_env_long(const char *name, long def)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return def;
	n = strtol(v, &end, 10);
	return *end || n <= 0 ? def : n;
}

long bench_rss_kib(void)
{
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, resident = 0;

	if (!f)
		return -1;
	if (fscanf(f, "%ld %ld", &size, &resident) != 2)
		resident = -1;
	fclose(f);
	return resident < 0 ? -1 : resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int bench_noop_init(void **state, const provauth_host *h, const provauth_setting *s)
{
	(void)h; (void)s;
	*state = NULL;
	return 0;
}

void bench_noop_fini(void *state)
{
	(void)state;
}

int bench_noop_build(void *state, const provauth_account *a, provauth_session *s, provauth_update *u)
{
	(void)state; (void)a; (void)s; (void)u;
	return 0;
}

int bench_noop_classify(void *state, const provauth_failure *f, provauth_outcome *o)
{
	(void)state; (void)f; (void)o;
	return 0;
}

const provauth_provider bench_noop_provider = {
	PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR, sizeof(provauth_provider),
	"benchnoop", "no-op provider for the benchmarks", "1",
	NULL, bench_noop_init, bench_noop_fini, bench_noop_build, NULL, bench_noop_classify, NULL, NULL,
	{ NULL, NULL, NULL, NULL }, NULL, 0, NULL, NULL, 0, NULL
};
