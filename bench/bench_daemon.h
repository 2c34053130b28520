/*
 * provauthd for the benchmarks that drive it (bench/daemon, bench/keeper):
 * the hash its settings hold for a token, and the binary started on a
 * settings file with its stderr in DIR/daemon.log.
 */
#ifndef BENCH_DAEMON_H
#define BENCH_DAEMON_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

/* The lowercase hex SHA-256 of `s`: a daemon.tokens entry's sha256. */
void bench_sha256_hex(char out[65], const char *s);
/*
 * Starts $PROVAUTHD (default ./daemon/provauthd, the build tree's) on
 * `settings`. With `url`, waits up to 10 s for DIR/ready and copies the
 * daemon's URL from it (the benchmark exits on failure); without, returns
 * at once.
 */
pid_t bench_daemon_start(const char *settings, const char *dir, char *url, size_t url_size);

/*
 * popen(cmd, "r") and pclose for a program that must inherit none of this
 * process's descriptors. wrk sizes its event loop for its own connections
 * (10 + 3 per connection); the fake's and libcurl's sockets it inherited
 * pushed its own past that size, and each that did not fit counted as a
 * "connect" socket error.
 */
FILE *bench_popen_alone(const char *cmd, pid_t *pid);
int bench_pclose_alone(FILE *f, pid_t pid);

#endif /* BENCH_DAEMON_H */
