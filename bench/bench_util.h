/*
 * Helpers shared by the benchmarks: a monotonic clock, medians, and a
 * no-op log sink. Each benchmark prints exactly one summary line on stdout
 * ("name key=value ...") and its diagnostics on stderr.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <provauth/provauth.h>
#include <provauth/plugin.h>

/* Nanoseconds on CLOCK_MONOTONIC. */
uint64_t bench_now_ns(void);
/* Median of n values (sorts v in place); 0 for n == 0. */
double bench_median(double *v, size_t n);
double bench_min(const double *v, size_t n);
/* Value at quantile q (0..1) by the nearest-rank method; sorts v in place. */
double bench_quantile(double *v, size_t n, double q);
/* Discards every log event: logging must not be what a benchmark measures. */
void bench_log_quiet(provauth_log_level level, const char *event, const provauth_log_field *fields,
                     size_t nfields, void *payload);
/* Aborts the benchmark with the library's last error. */
void bench_die(const char *what) __attribute__((noreturn));
/* An integer from the environment (e.g. PA_BENCH_ROUNDS), or def. */
long bench_env_long(const char *name, long def);
/* Resident set size of this process in KiB (from /proc/self/statm). */
long bench_rss_kib(void);

/*
 * An in-process provider whose every callback succeeds doing nothing, so a
 * benchmark measures the manager and store alone. The callbacks are exported
 * for variants (e.g. one with a refresh).
 */
extern const provauth_provider bench_noop_provider;
int bench_noop_init(void **state, const provauth_host *h, const provauth_setting *s);
void bench_noop_fini(void *state);
int bench_noop_build(void *state, const provauth_account *a, provauth_session *s, provauth_update *u);
int bench_noop_classify(void *state, const provauth_failure *f, provauth_outcome *o);

#endif /* BENCH_UTIL_H */
