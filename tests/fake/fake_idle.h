/*
 * Waiting until a fake server has nothing in hand: no open connection and
 * none queued for accept().
 *
 * A client killed with SIGKILL can leave a request behind that the server
 * has not read yet; the server still carries it out (a login that ends the
 * stored session, a token exchange that rotates the stored refresh token).
 * A test that checks the store right after such a kill must first let
 * those requests land, or it blames the next kill for what this one left.
 *
 * Header-only so that the fake pixiv, which does not link fake_common, can
 * share it. Register fake_idle_notify with MHD_OPTION_NOTIFY_CONNECTION and
 * the fake_idle as its closure.
 */
#ifndef PA_FAKE_IDLE_H
#define PA_FAKE_IDLE_H

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <time.h>

#include <microhttpd.h>

typedef struct fake_idle {
	atomic_int open; /* connections accepted and not yet closed */
} fake_idle;

static inline void fake_idle_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
                                    enum MHD_ConnectionNotificationCode code)
{
	fake_idle *t = cls;

	(void)conn;
	(void)socket_context;
	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		atomic_fetch_add(&t->open, 1);
	else if (code == MHD_CONNECTION_NOTIFY_CLOSED)
		atomic_fetch_sub(&t->open, 1);
}

/* Connections the kernel completed that the server has not accepted yet; -1 if unknown. */
static inline int fake_idle_backlog(struct MHD_Daemon *d)
{
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_LISTEN_FD);
	struct tcp_info ti;
	socklen_t len = sizeof(ti);

	if (!info || getsockopt(info->listen_fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0)
		return -1;
	/* On a listening socket Linux reports its accept queue length here. */
	return (int)ti.tcpi_unacked;
}

/*
 * 0 once the server has been idle for several polls in a row (a connection
 * is briefly in neither count between accept() and the notification), or
 * -1 after timeout_ms.
 */
static inline int fake_idle_wait(struct MHD_Daemon *d, fake_idle *t, long timeout_ms)
{
	const struct timespec poll = { 0, 5 * 1000000L };
	long waited = 0;
	int quiet = 0;

	for (;;) {
		if (atomic_load(&t->open) == 0 && fake_idle_backlog(d) == 0)
			quiet++;
		else
			quiet = 0;
		if (quiet >= 4)
			return 0;
		if (waited >= timeout_ms)
			return -1;
		nanosleep(&poll, NULL);
		waited += 5;
	}
}

#endif
