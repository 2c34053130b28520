/*
 * Per-token rate limits: a token bucket, so a client may burst up to
 * `burst` requests and then goes on at `rate` a second. The server keeps
 * one bucket per token name (so a reload that keeps a token keeps its
 * bucket), and one per client address for wrong tokens; this file is the
 * arithmetic alone.
 */
#include "config.h"
#include "daemon.h"

int64_t pad_bucket_take(pad_bucket *b, double rate, double burst, double now)
{
	double wait;
	int64_t whole;

	if (rate <= 0)
		return 0;
	if (b->last <= 0) {
		b->level = burst;
	} else if (now > b->last) {
		b->level += (now - b->last) * rate;
		if (b->level > burst)
			b->level = burst;
	}
	b->last = now;
	if (b->level >= 1.0) {
		b->level -= 1.0;
		return 0;
	}
	wait = (1.0 - b->level) / rate;
	whole = (int64_t)wait;
	if ((double)whole < wait)
		whole++;
	return whole < 1 ? 1 : whole;
}

int64_t pad_bucket_wait(const pad_bucket *b, double rate, double burst, double now)
{
	pad_bucket copy = *b;

	return pad_bucket_take(&copy, rate, burst, now);
}
