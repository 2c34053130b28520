/*
 * provauthd's logs: one JSON object per line (the library's format), on
 * stderr, which systemd's journal keeps. The library's own events arrive
 * already redacted through the manager's callback (world.c); the daemon's
 * events never carry a secret field. One lock keeps lines whole.
 */
#include "config.h"
#include <stdio.h>
#include "daemon.h"

void pad_log(pad_daemon *d, provauth_log_level level, const char *event, const provauth_log_field *f,
             size_t n)
{
	FILE *out = d && d->log ? d->log : stderr;

	if (d)
		pthread_mutex_lock(&d->log_lock);
	provauth_log_file_json(level, event, f, n, out);
	if (d)
		pthread_mutex_unlock(&d->log_lock);
}
