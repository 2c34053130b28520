#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pa_test.h"

static pthread_mutex_t log_mu = PTHREAD_MUTEX_INITIALIZER;
static char *log_buf;
static size_t log_len;

/* Out of memory would silently hide the very lines a test looks for. */
static void append_locked(const char *s, size_t n)
{
	char *grown = realloc(log_buf, log_len + n + 2);

	if (!grown)
		abort();
	log_buf = grown;
	memcpy(log_buf + log_len, s, n);
	log_len += n;
	log_buf[log_len++] = '\n';
	log_buf[log_len] = '\0';
}

void pa_test_log_add(const char *line)
{
	pthread_mutex_lock(&log_mu);
	append_locked(line, strlen(line));
	pthread_mutex_unlock(&log_mu);
}

void pa_test_log_capture(provauth_log_level level, const char *event, const provauth_log_field *f, size_t n,
                         void *payload)
{
	char *line = NULL;
	size_t len = 0, i;
	FILE *m;

	(void)level;
	(void)payload;
	/* No fixed-size line: a secret past its end would go unseen. */
	if (!(m = open_memstream(&line, &len)))
		abort();
	fputs(event, m);
	for (i = 0; i < n; i++) {
		if (f[i].type == PROVAUTH_FIELD_INT || f[i].type == PROVAUTH_FIELD_BOOL)
			fprintf(m, " %s=%lld", f[i].key, (long long)f[i].num);
		else
			fprintf(m, " %s=%s", f[i].key, f[i].str ? f[i].str : "");
	}
	if (fclose(m) != 0)
		abort();
	pthread_mutex_lock(&log_mu);
	append_locked(line, len);
	pthread_mutex_unlock(&log_mu);
	free(line);
}

int pa_test_log_contains(const char *s)
{
	int found;

	pthread_mutex_lock(&log_mu);
	found = log_buf && strstr(log_buf, s) != NULL;
	pthread_mutex_unlock(&log_mu);
	return found;
}

int pa_test_log_count(const char *event, const char *with)
{
	size_t el = strlen(event);
	const char *p, *eol;
	int count = 0;

	pthread_mutex_lock(&log_mu);
	for (p = log_buf; p && *p; p = eol + 1) {
		eol = strchr(p, '\n'); /* every line ends with one */
		if (strncmp(p, event, el) != 0 || (p[el] != ' ' && p[el] != '\n'))
			continue;
		if (with && !memmem(p, (size_t)(eol - p), with, strlen(with)))
			continue;
		count++;
	}
	pthread_mutex_unlock(&log_mu);
	return count;
}

const char *pa_test_log_text(void)
{
	return log_buf;
}

void pa_test_log_reset(void)
{
	pthread_mutex_lock(&log_mu);
	free(log_buf);
	log_buf = NULL;
	log_len = 0;
	pthread_mutex_unlock(&log_mu);
}
