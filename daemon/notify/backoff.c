/* The wait between a failed delivery and its next try. */
#include "config.h"
#include "notify.h"

int64_t pad_backoff_ms(const pad_webhook_config *c, int64_t attempt, double rnd)
{
	int64_t d = c->backoff_ms > 0 ? c->backoff_ms : 1, max = c->max_backoff_ms > 0 ? c->max_backoff_ms : d;
	int64_t i, spread;

	for (i = 1; i < attempt && d < max; i++)
		d *= 2;
	if (d > max)
		d = max;
	/* -+25 %: rnd 0 is the shortest, rnd near 1 the longest. */
	spread = d / 4;
	d += (int64_t)((rnd * 2.0 - 1.0) * (double)spread);
	return d > 0 ? d : 1;
}
