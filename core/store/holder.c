/*
 * The identity of a lease holder, precise enough to tell that it died: a pid
 * alone is not (pids are reused, mean nothing on another host or in another
 * pid namespace), so the boot id, the pid namespace and the process start
 * time go with it. Anything unknown counts as alive: the lease TTL then
 * applies as before.
 */
#include "config.h"
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "internal.h"
#include "store/private.h"

static void read_boot_id(char *out, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");
	size_t n;

	out[0] = '\0';
	if (!f)
		return;
	if (fgets(out, (int)len, f)) {
		n = strcspn(out, "\n");
		out[n] = '\0';
	} else {
		out[0] = '\0';
	}
	fclose(f);
}

static int64_t pid_namespace(void)
{
	struct stat sb;

	return stat("/proc/self/ns/pid", &sb) == 0 ? (int64_t)sb.st_ino : 0;
}

/*
 * Field 22 (starttime) of /proc/PID/stat, and whether the process is a
 * zombie (state Z or X: dead, only not yet reaped). The command name (field
 * 2) may hold spaces and parentheses: fields are counted after its last ')'.
 * Returns 0 when read, -ESRCH when there is no such process, -1 otherwise.
 */
static int proc_start(int64_t pid, int64_t *start, int *zombie)
{
	char path[64], buf[1024], *p;
	unsigned long long ticks;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%lld/stat", (long long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return errno == ENOENT ? -ESRCH : -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return n == 0 ? -ESRCH : -1;
	buf[n] = '\0';
	if (!(p = strrchr(buf, ')')) || p[1] != ' ')
		return -1;
	p += 2;
	*zombie = *p == 'Z' || *p == 'X';
	/* p is at field 3 (state); starttime is field 22. */
	for (field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return -1;
		p++;
	}
	if (!isdigit((unsigned char)*p) || sscanf(p, "%llu", &ticks) != 1)
		return -1;
	*start = (int64_t)ticks;
	return 0;
}

/*
 * A process's identity does not change while it lives, and every pool
 * reservation records it: it is read once per process (a fork is a new
 * process, told by its pid) instead of three /proc reads per reservation.
 */
static pthread_mutex_t self_mu = PTHREAD_MUTEX_INITIALIZER;
static pa_lease_holder self_cached;

void pa_lease_holder_self(pa_lease_holder *h)
{
	int64_t pid = (int64_t)getpid();
	int zombie = 0;

	pthread_mutex_lock(&self_mu);
	if (self_cached.pid != pid || !self_cached.start) {
		memset(&self_cached, 0, sizeof(self_cached));
		self_cached.pid = pid;
		read_boot_id(self_cached.boot_id, sizeof(self_cached.boot_id));
		self_cached.pidns = pid_namespace();
		if (proc_start(pid, &self_cached.start, &zombie) < 0)
			self_cached.start = 0;
	}
	*h = self_cached;
	pthread_mutex_unlock(&self_mu);
}

int pa_lease_holder_dead(const pa_lease_holder *h)
{
	pa_lease_holder me;
	int64_t start = 0;
	int zombie = 0, rc;

	if (h->pid <= 0 || !h->boot_id[0] || !h->pidns || !h->start)
		return 0;
	pa_lease_holder_self(&me);
	/* Another boot or another host sharing the file, or another pid namespace: its pids are not ours. */
	if (!me.boot_id[0] || strcmp(me.boot_id, h->boot_id) != 0 || me.pidns != h->pidns)
		return 0;
	rc = proc_start(h->pid, &start, &zombie);
	if (rc == -ESRCH)
		return 1;
	if (rc < 0)
		return 0;
	return zombie || start != h->start;
}
