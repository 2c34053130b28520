/*
 * What the fake server programs (fake-pixverse, fake-bearer) share around
 * their server: stopping cleanly on SIGTERM or SIGINT, and with the parent
 * that started them (end of standard input), so a test or the demo that
 * dies never leaves a server behind.
 */
#include "config.h"
#include "fake_common.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

/* A signal handler may only write(2): it wakes the poll below through this pipe. */
static int signal_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
	int saved = errno;
	char c = (char)sig;

	if (write(signal_pipe[1], &c, 1) < 0) {
		/* The pipe is full: a wake-up is already pending. */
	}
	errno = saved;
}

int fake_main_catch_signals(void)
{
	struct sigaction sa;

	if (pipe(signal_pipe) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

void fake_main_wait(int watch_stdin)
{
	struct pollfd fds[2] = { { signal_pipe[0], POLLIN, 0 }, { watch_stdin ? STDIN_FILENO : -1, POLLIN, 0 } };
	char buf[256];
	ssize_t n;

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		if (fds[0].revents)
			return;
		if (fds[1].revents &&
		    ((n = read(STDIN_FILENO, buf, sizeof(buf))) == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)))
			return;
	}
}
