/*
 * notify/'s own header: the pieces of a webhook delivery that can be
 * judged alone (signature, body, back-off, dead letter), for notifier.c
 * and the tests.
 */
#ifndef PAD_NOTIFY_H
#define PAD_NOTIFY_H

#include <stddef.h>
#include <stdint.h>
#include "daemon.h"

/* hex HMAC-SHA256(secret, "<timestamp>.<body>") into out (65 bytes); 0 or PROVAUTH_ERROR. */
int pad_webhook_sign(char out[65], const char *secret, int64_t timestamp, const char *body, size_t len);
/* A random delivery id, uuid-shaped (36 characters and a NUL). */
int pad_delivery_id(char out[37]);
/*
 * The delivery's JSON body: {"id","event","account_id","provider","reason",
 * "message","at"}; NULL fields are null. Never a secret: its fields are
 * ids, fixed words and the library's messages (which carry none).
 */
char *pad_webhook_body(const char *id, const char *event, const char *account_id, const char *provider,
                       const char *reason, const char *message, int64_t at);
/*
 * Delay before retry `attempt` (1, 2, ...): backoff_ms doubled per retry,
 * at most max_backoff_ms, then -+ up to a quarter of itself by `rnd` in
 * [0, 1) so that daemons retrying the same receiver spread out.
 */
int64_t pad_backoff_ms(const pad_webhook_config *c, int64_t attempt, double rnd);
/*
 * Appends one line to the dead letter `path` (created 0600; a symlink is
 * refused: O_NOFOLLOW), the line and its newline in one write(2) so that
 * daemons appending at once never interleave. 0 or a negative code.
 */
int pad_dead_letter_append(const char *path, const char *line);

#endif /* PAD_NOTIFY_H */
