/*
 * The test's loopback TCP proxy (tcp_proxy.h). One thread polls the
 * listening socket, a wake-up pipe and both ends of every connection;
 * requests from other threads (cut, stop) go through the pipe and are
 * acknowledged under a mutex, so that when pa_tcp_proxy_cut returns the
 * connections are closed and no later byte of theirs is forwarded.
 */
#include "config.h"
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "tcp_proxy.h"

/* More than the connections a test opens: pools of a few processes. */
#define PROXY_MAX_PAIRS 64
#define PROXY_BUF_SIZE 16384

enum { CMD_NONE = 0, CMD_CUT, CMD_STOP };

typedef struct pair {
	int client, server; /* -1 when the slot is free */
} pair;

struct pa_tcp_proxy {
	pthread_t thread;
	int listen_fd, wake[2];
	unsigned short port, upstream_port;
	pthread_mutex_t mu;
	pthread_cond_t done;
	int cmd;          /* the request in hand, CMD_NONE once carried out */
	int cut_count;    /* what the latest cut closed */
	int running;
	long accepted;
	pair pairs[PROXY_MAX_PAIRS];
};

/* Closes with a reset rather than a orderly FIN: a dropped link, not a goodbye. */
static void close_reset(int fd)
{
	struct linger lg = { 1, 0 };

	if (fd < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	close(fd);
}

static void pair_close(pair *pr)
{
	close_reset(pr->client);
	close_reset(pr->server);
	pr->client = pr->server = -1;
}

static int connect_upstream(unsigned short port)
{
	struct sockaddr_in sa;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void accept_one(pa_tcp_proxy *p)
{
	int c = accept4(p->listen_fd, NULL, NULL, SOCK_CLOEXEC), s, i;

	if (c < 0)
		return;
	if ((s = connect_upstream(p->upstream_port)) < 0) {
		close_reset(c);
		return;
	}
	for (i = 0; i < PROXY_MAX_PAIRS; i++)
		if (p->pairs[i].client < 0) {
			p->pairs[i].client = c;
			p->pairs[i].server = s;
			pthread_mutex_lock(&p->mu);
			p->accepted++;
			pthread_mutex_unlock(&p->mu);
			return;
		}
	close_reset(c);
	close_reset(s);
}

/* Moves what is readable on `from` to `to` (blocking writes: loopback, small replies). 0, or -1 at the end. */
static int forward(int from, int to)
{
	char buf[PROXY_BUF_SIZE];
	ssize_t n = read(from, buf, sizeof(buf)), off = 0, w;

	if (n <= 0)
		return n < 0 && (errno == EINTR || errno == EAGAIN) ? 0 : -1;
	while (off < n) {
		if ((w = send(to, buf + off, (size_t)(n - off), MSG_NOSIGNAL)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		off += w;
	}
	return 0;
}

/* Carries out a cut or a stop asked by another thread; 1 when the loop is to end. */
static int serve_command(pa_tcp_proxy *p)
{
	char drain[16];
	int i, cut = 0, cmd;

	while (read(p->wake[0], drain, sizeof(drain)) > 0)
		;
	pthread_mutex_lock(&p->mu);
	cmd = p->cmd;
	pthread_mutex_unlock(&p->mu);
	if (cmd == CMD_NONE)
		return 0;
	for (i = 0; i < PROXY_MAX_PAIRS; i++)
		if (p->pairs[i].client >= 0) {
			pair_close(&p->pairs[i]);
			cut++;
		}
	pthread_mutex_lock(&p->mu);
	p->cut_count = cut;
	p->cmd = CMD_NONE;
	if (cmd == CMD_STOP)
		p->running = 0;
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
	return cmd == CMD_STOP;
}

static void *proxy_main(void *arg)
{
	pa_tcp_proxy *p = arg;
	struct pollfd fds[2 + 2 * PROXY_MAX_PAIRS];
	int slot[2 + 2 * PROXY_MAX_PAIRS];

	for (;;) {
		int n = 0, i, k;

		fds[n++] = (struct pollfd){ p->wake[0], POLLIN, 0 };
		fds[n++] = (struct pollfd){ p->listen_fd, POLLIN, 0 };
		for (i = 0; i < PROXY_MAX_PAIRS; i++)
			if (p->pairs[i].client >= 0) {
				slot[n] = i;
				fds[n++] = (struct pollfd){ p->pairs[i].client, POLLIN, 0 };
				slot[n] = i;
				fds[n++] = (struct pollfd){ p->pairs[i].server, POLLIN, 0 };
			}
		if (poll(fds, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		/* A command first: nothing is forwarded on a connection once a cut was asked. */
		if (fds[0].revents && serve_command(p))
			return NULL;
		for (k = 2; k < n; k++) {
			pair *pr = &p->pairs[slot[k]];
			int from = fds[k].fd;

			if (!fds[k].revents || pr->client < 0 || (from != pr->client && from != pr->server))
				continue;
			if (forward(from, from == pr->client ? pr->server : pr->client) < 0)
				pair_close(pr);
		}
		if (fds[1].revents & POLLIN)
			accept_one(p);
	}
	pthread_mutex_lock(&p->mu);
	p->running = 0;
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

int pa_tcp_proxy_start(pa_tcp_proxy **out, unsigned short upstream_port)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	pa_tcp_proxy *p;
	int i;

	*out = NULL;
	if (!(p = calloc(1, sizeof(*p))))
		return -1;
	p->upstream_port = upstream_port;
	p->wake[0] = p->wake[1] = -1;
	for (i = 0; i < PROXY_MAX_PAIRS; i++)
		p->pairs[i].client = p->pairs[i].server = -1;
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->done, NULL);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((p->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    bind(p->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(p->listen_fd, 64) != 0 ||
	    getsockname(p->listen_fd, (struct sockaddr *)&sa, &len) != 0 ||
	    pipe2(p->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		goto fail;
	p->port = ntohs(sa.sin_port);
	p->running = 1;
	if (pthread_create(&p->thread, NULL, proxy_main, p) != 0) {
		p->running = 0;
		goto fail;
	}
	*out = p;
	return 0;
fail:
	if (p->listen_fd >= 0)
		close(p->listen_fd);
	if (p->wake[0] >= 0) {
		close(p->wake[0]);
		close(p->wake[1]);
	}
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
	return -1;
}

unsigned short pa_tcp_proxy_port(const pa_tcp_proxy *p)
{
	return p->port;
}

/* Hands the proxy thread a command and waits until it is carried out; its count, or -1. */
static int command(pa_tcp_proxy *p, int cmd)
{
	int cut;

	pthread_mutex_lock(&p->mu);
	if (!p->running) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	p->cmd = cmd;
	pthread_mutex_unlock(&p->mu);
	if (write(p->wake[1], "x", 1) < 0 && errno != EAGAIN)
		return -1;
	pthread_mutex_lock(&p->mu);
	while (p->cmd != CMD_NONE && p->running)
		pthread_cond_wait(&p->done, &p->mu);
	cut = p->cut_count;
	pthread_mutex_unlock(&p->mu);
	return cut;
}

int pa_tcp_proxy_cut(pa_tcp_proxy *p)
{
	return command(p, CMD_CUT);
}

long pa_tcp_proxy_accepted(pa_tcp_proxy *p)
{
	long n;

	pthread_mutex_lock(&p->mu);
	n = p->accepted;
	pthread_mutex_unlock(&p->mu);
	return n;
}

void pa_tcp_proxy_stop(pa_tcp_proxy *p)
{
	int i;

	if (!p)
		return;
	command(p, CMD_STOP);
	pthread_join(p->thread, NULL);
	for (i = 0; i < PROXY_MAX_PAIRS; i++)
		pair_close(&p->pairs[i]);
	close(p->listen_fd);
	close(p->wake[0]);
	close(p->wake[1]);
	pthread_cond_destroy(&p->done);
	pthread_mutex_destroy(&p->mu);
	free(p);
}
