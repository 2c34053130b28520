/* Small string and memory helpers shared by the core. */
#include "config.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>
#include "internal.h"

char *pa_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

char *pa_strndup(const char *s, size_t n)
{
	return s ? strndup(s, n) : NULL;
}

char *pa_sprintf(const char *fmt, ...)
{
	va_list ap;
	char *out = NULL;

	va_start(ap, fmt);
	if (vasprintf(&out, fmt, ap) < 0)
		out = NULL;
	va_end(ap);
	return out;
}

void pa_wipe(void *p, size_t n)
{
	if (!p || !n)
		return;
#ifdef HAVE_EXPLICIT_BZERO
	explicit_bzero(p, n);
#else
	volatile unsigned char *v = p;
	while (n--)
		*v++ = 0;
#endif
}

void pa_secret_free(char *s)
{
	if (!s)
		return;
	pa_wipe(s, strlen(s));
	free(s);
}

int pa_set_string(char **dst, const char *src)
{
	char *copy = NULL;

	if (src && !(copy = strdup(src)))
		return pa_error_oom();
	pa_secret_free(*dst);
	*dst = copy;
	return 0;
}

int pa_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

int64_t pa_monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int pa_stat_trust(const struct stat *st)
{
	if (st->st_uid != 0 && st->st_uid != geteuid())
		return PA_UNTRUSTED_OWNER;
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX)))
		return PA_UNTRUSTED_MODE;
	return PA_TRUSTED;
}
