/*
 * Secrets for the tool: from a file, an environment variable or standard
 * input, never from argv (ps and shell histories show argv). Buffers that
 * held a secret are wiped before they are freed.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "cli.h"

#define SECRET_MAX (1024 * 1024)

static void wipe(void *p, size_t n)
{
	if (p)
		explicit_bzero(p, n);
}

void cli_secret_free(char *secret)
{
	if (secret) {
		wipe(secret, strlen(secret));
		free(secret);
	}
}

/* A growing buffer that never leaves an unwiped copy behind when it grows. */
typedef struct secret_buf {
	char *data;
	size_t len, cap;
} secret_buf;

static int buf_reserve(secret_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *grown;

	while (cap - b->len < more + 1)
		cap *= 2;
	if (cap == b->cap)
		return 0;
	if (!(grown = malloc(cap)))
		return -1;
	if (b->data) {
		memcpy(grown, b->data, b->len);
		wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = grown;
	b->cap = cap;
	return 0;
}

static void buf_free(secret_buf *b)
{
	if (b->data) {
		wipe(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/*
 * Reads fd to its end (or to the first newline when `one_line`), at most
 * SECRET_MAX bytes. Returns 0, -1 with errno on a read error, or -2 when
 * the input is too big.
 */
static int read_fd(secret_buf *b, int fd, int one_line)
{
	for (;;) {
		ssize_t n;

		if (buf_reserve(b, 4096) < 0)
			return -1;
		n = read(fd, b->data + b->len, b->cap - b->len - 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		b->len += (size_t)n;
		if (b->len > SECRET_MAX)
			return -2;
		if (one_line && memchr(b->data + b->len - (size_t)n, '\n', (size_t)n))
			break;
	}
	b->data[b->len] = '\0';
	return 0;
}

/*
 * Reads from the terminal on stdin without echo: one line, or up to Ctrl-D
 * for input that may span lines (a pasted browser export).
 */
static int read_terminal(secret_buf *b, const char *prompt, int multi_line)
{
	struct termios saved, quiet;
	int restore = 0, rc;

	fprintf(stderr, "%s", prompt);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &saved) == 0) {
		quiet = saved;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		quiet.c_lflag |= ECHONL;
		/* TCSANOW, not TCSAFLUSH: keep what was pasted before the prompt showed. */
		restore = tcsetattr(STDIN_FILENO, TCSANOW, &quiet) == 0;
	}
	rc = read_fd(b, STDIN_FILENO, !multi_line);
	if (restore)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	if (multi_line)
		fputc('\n', stderr);
	return rc;
}

static void strip_newline(secret_buf *b)
{
	if (b->len > 0 && b->data[b->len - 1] == '\n') {
		b->data[--b->len] = '\0';
		if (b->len > 0 && b->data[b->len - 1] == '\r')
			b->data[--b->len] = '\0';
	}
}

/* A single line from a terminal ends at its newline; whatever follows is not part of it. */
static void cut_at_newline(secret_buf *b)
{
	char *nl = memchr(b->data, '\n', b->len);

	if (nl) {
		wipe(nl + 1, b->len - (size_t)(nl + 1 - b->data));
		b->len = (size_t)(nl + 1 - b->data);
		b->data[b->len] = '\0';
	}
}

int cli_secret_read(char **out, const char *what, const char *file, const char *env_var,
                    const char *prompt, int multi_line)
{
	secret_buf b = { NULL, 0, 0 };
	const char *source;
	int rc;

	*out = NULL;
	if (file) {
		int fd = open(file, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			cli_error("cannot open %s (the %s): %s", file, what, strerror(errno));
			return CLI_EXIT_ERROR;
		}
		rc = read_fd(&b, fd, 0);
		if (rc == -1)
			cli_error("cannot read %s (the %s): %s", file, what, strerror(errno));
		close(fd);
		source = file;
	} else if (env_var) {
		const char *v = getenv(env_var);
		if (!v) {
			cli_error("environment variable %s (the %s) is not set", env_var, what);
			return CLI_EXIT_ERROR;
		}
		rc = strlen(v) > SECRET_MAX ? -2 : 0;
		if (rc == 0 && buf_reserve(&b, strlen(v)) < 0)
			rc = -3;
		if (rc == 0) {
			memcpy(b.data, v, strlen(v) + 1);
			b.len = strlen(v);
		}
		source = env_var;
	} else {
		if (isatty(STDIN_FILENO)) {
			rc = read_terminal(&b, prompt, multi_line);
			if (rc == 0 && !multi_line)
				cut_at_newline(&b);
		} else {
			rc = read_fd(&b, STDIN_FILENO, 0);
		}
		if (rc == -1)
			cli_error("cannot read the %s from standard input: %s", what, strerror(errno));
		source = "standard input";
	}
	if (rc == -2)
		cli_error("the %s in %s is larger than %d bytes", what, source, SECRET_MAX);
	else if (rc == -3)
		cli_error("out of memory");
	if (rc == 0) {
		strip_newline(&b);
		if (b.len == 0) {
			cli_error("no %s in %s", what, source);
			rc = -1;
		} else if (strlen(b.data) != b.len) {
			cli_error("the %s in %s contains a NUL byte", what, source);
			rc = -1;
		}
	}
	if (rc < 0) {
		buf_free(&b);
		return CLI_EXIT_ERROR;
	}
	/* The caller frees with cli_secret_free, which wipes strlen bytes: the slack is wiped here. */
	wipe(b.data + b.len, b.cap - b.len);
	*out = b.data;
	return 0;
}
