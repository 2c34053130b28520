/*
 * The daemon's record of an account, kept in the store so every daemon on
 * it shares it: account metadata key "provauthd",
 * {"kept_at", "synced_at", "failed_at", "notified", "notified_reason"}. Written by the
 * library's revision rules (re-read and retried on PROVAUTH_ECONFLICT), so
 * a change decided on a stale read never lands: the compare-and-set that
 * makes "kept once" and "notified once" hold across daemons.
 */
#ifndef PAD_RECORD_H
#define PAD_RECORD_H

#include <stdint.h>
#include "daemon.h"

typedef struct pad_record {
	int64_t kept_at;        /* last refresh or probe, unix s; 0 never */
	int64_t synced_at;      /* last credit sync; 0 never */
	int64_t failed_at;      /* last failed attempt; 0 none (cleared by a success) */
	char notified[16];      /* "needs_human", "recovered" or "" (never notified) */
	char notified_reason[32];
} pad_record;

/* The record in the account's metadata (zeros when absent or unreadable). */
void pad_record_of(pad_record *r, const provauth_account *a);
/*
 * Read-modify-write: `change` sees the stored record and the account,
 * returns 1 to write what it left in the record, 0 to leave the store
 * alone, or a negative code. *written (optional) says whether this call's
 * write landed. Retried on a lost race, at most a few times.
 */
typedef int (*pad_record_change)(pad_record *r, const provauth_account *a, void *arg);
int pad_record_update(provauth_manager *m, const char *id, pad_record_change change, void *arg, int *written);

#endif /* PAD_RECORD_H */
