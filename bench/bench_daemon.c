/* provauthd for the benchmarks (bench_daemon.h). */
#include "config.h"
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <openssl/evp.h>
#include "bench_util.h"
#include "bench_daemon.h"

void bench_sha256_hex(char out[65], const char *s)
{
	unsigned char d[32];
	unsigned int len = 0, i;

	EVP_Digest(s, strlen(s), d, &len, EVP_sha256(), NULL);
	for (i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", d[i]);
}

pid_t bench_daemon_start(const char *settings, const char *dir, char *url, size_t url_size)
{
	const char *bin = getenv("PROVAUTHD") ? getenv("PROVAUTHD") : "./daemon/provauthd";
	char ready[600], log[600], buf[1024];
	pid_t pid;
	int i;

	snprintf(ready, sizeof(ready), "%s/ready", dir);
	snprintf(log, sizeof(log), "%s/daemon.log", dir);
	if ((pid = fork()) < 0)
		bench_die("fork");
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (fd >= 0)
			dup2(fd, 2);
		close_range(3, ~0U, 0); /* the benchmark's sockets are not the daemon's */
		execl(bin, bin, "--config", settings, (char *)NULL);
		_exit(127);
	}
	if (!url)
		return pid;
	for (i = 0; i < 200; i++) {
		FILE *f = fopen(ready, "r");
		if (f) {
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			char *u, *end;
			fclose(f);
			buf[n] = '\0';
			if ((u = strstr(buf, "\"url\":\"")) && (end = strchr(u + 7, '"'))) {
				snprintf(url, url_size, "%.*s", (int)(end - u - 7), u + 7);
				return pid;
			}
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			fprintf(stderr, "bench: provauthd exited at start; its log is %s\n", log);
			exit(1);
		}
		usleep(50000);
	}
	fprintf(stderr, "bench: provauthd did not become ready in 10 s (%s)\n", log);
	kill(pid, SIGKILL);
	exit(1);
}

FILE *bench_popen_alone(const char *cmd, pid_t *pid)
{
	int fds[2];

	if (pipe2(fds, O_CLOEXEC) != 0)
		return NULL;
	if ((*pid = fork()) < 0) {
		close(fds[0]);
		close(fds[1]);
		return NULL;
	}
	if (*pid == 0) {
		dup2(fds[1], 1);
		close_range(3, ~0U, 0);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	return fdopen(fds[0], "r");
}

int bench_pclose_alone(FILE *f, pid_t pid)
{
	int status = 0;

	fclose(f);
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return status;
}
