/*
 * What the tool writes on standard output and standard error: terminal
 * control characters escaped, and write errors turned into a failure.
 *
 * Names, emails and messages come from servers; written raw, an escape
 * sequence in a nickname would drive the user's terminal (retitle it, clear
 * it, hide lines). Rather than trusting every printf to escape its
 * arguments, both streams pass through a filter that writes control bytes
 * as "\xNN": newline and tab stay, so tables and lines keep their shape.
 * JSON output is not changed by it: the JSON writer escapes control
 * characters itself.
 */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli.h"

typedef struct out_filter {
	int fd;
	int c2_pending;  /* the last byte written was 0xC2, which may start a C1 control */
} out_filter;

static out_filter filters[2] = { { STDOUT_FILENO, 0 }, { STDERR_FILENO, 0 } };

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int is_control(unsigned char c)
{
	return (c < 0x20 && c != '\n' && c != '\t') || c == 0x7f;
}

/*
 * Escapes C0 controls but newline and tab, DEL, and C1 controls in their
 * UTF-8 form (0xC2 0x80..0x9F: 0x9B is CSI for terminals that honour it).
 * A 0xC2 at the end of one chunk is held until the next byte is known.
 */
static ssize_t filter_write(void *cookie, const char *buf, size_t size)
{
	out_filter *f = cookie;
	char out[1024];
	size_t i, o = 0;

	for (i = 0; i < size; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (o + 8 > sizeof(out)) {
			if (write_all(f->fd, out, o) < 0)
				return -1;
			o = 0;
		}
		if (f->c2_pending) {
			f->c2_pending = 0;
			if (c >= 0x80 && c <= 0x9f) {
				o += (size_t)snprintf(out + o, sizeof(out) - o, "\\u%04x", c);
				continue;
			}
			out[o++] = (char)0xc2;
		}
		if (c == 0xc2) {
			f->c2_pending = 1;
			continue;
		}
		if (is_control(c))
			o += (size_t)snprintf(out + o, sizeof(out) - o, "\\x%02x", c);
		else
			out[o++] = (char)c;
	}
	if (o && write_all(f->fd, out, o) < 0)
		return -1;
	return (ssize_t)size;
}

static int filter_flush_pending(out_filter *f)
{
	if (!f->c2_pending)
		return 0;
	f->c2_pending = 0;
	return write_all(f->fd, "\xc2", 1);
}

static int filter_close(void *cookie)
{
	out_filter *f = cookie;
	int rc = filter_flush_pending(f);

	/* Closing stdout reports what a full disk or a lost NFS server kept back. */
	if (f->fd == STDOUT_FILENO && close(f->fd) != 0 && errno != EINTR)
		rc = -1;
	return rc;
}

/* Makes sure fd is open, on /dev/null if it is not; returns whether it was open. */
static int hold_fd(int fd, int flags)
{
	int n;

	if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
		return 1;
	if ((n = open("/dev/null", flags)) >= 0 && n != fd) {
		dup2(n, fd);
		close(n);
	}
	return 0;
}

int cli_output_init(void)
{
	static const cookie_io_functions_t io = { NULL, filter_write, NULL, filter_close };
	int out_open;
	FILE *f;

	/*
	 * A closed descriptor 0, 1 or 2 would be taken by the next open():
	 * the store or the log file would then receive what is printed. Each
	 * is held on /dev/null; a closed standard output is also an error,
	 * reported before anything is done, since nothing could be shown.
	 */
	hold_fd(STDIN_FILENO, O_RDONLY);
	hold_fd(STDERR_FILENO, O_WRONLY);
	out_open = hold_fd(STDOUT_FILENO, O_WRONLY);
	if ((f = fopencookie(&filters[1], "w", io)) != NULL) {
		setvbuf(f, NULL, _IONBF, 0);
		stderr = f;
	}
	if (!out_open) {
		cli_error("standard output is closed; nothing could be shown");
		return -1;
	}
	if ((f = fopencookie(&filters[0], "w", io)) != NULL) {
		/* Line buffered on a terminal, as stdio would have chosen. */
		setvbuf(f, NULL, isatty(STDOUT_FILENO) ? _IOLBF : _IOFBF, BUFSIZ);
		stdout = f;
	}
	return 0;
}

int cli_output_finish(int r)
{
	int err = 0;

	errno = 0;
	if (fflush(stdout) != 0 || ferror(stdout))
		err = errno ? errno : EIO;
	if (fclose(stdout) != 0 && !err)
		err = errno ? errno : EIO;
	if (err) {
		cli_error("cannot write standard output: %s", strerror(err));
		if (r == CLI_EXIT_OK)
			r = CLI_EXIT_ERROR;
	}
	fflush(stderr);
	return r;
}
