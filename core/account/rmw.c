/*
 * The store's read-modify-write: read an account, change it, write it back
 * version-checked, and on PROVAUTH_ECONFLICT (another thread or process
 * wrote first) start again from a fresh read. Every change the core makes
 * to a stored account goes through here, so the retry rule is written once.
 */
#include "config.h"
#include <assert.h>
#include <stdlib.h>
#include "internal.h"

/*
 * Writes that lose the race this many times in a row give up: a writer
 * that keeps losing is fighting a loop elsewhere, and a caller waiting on
 * it learns so (PROVAUTH_ECONFLICT) instead of spinning for good. Eight
 * covers every burst of concurrent recoveries the tests and benchmarks
 * produce with room to spare.
 */
#define PA_RMW_RETRIES 8

int pa_account_rmw(pa_account_rmw_op *op)
{
	int attempt, rc = PROVAUTH_ECONFLICT;

	op->stage = PA_RMW_READ;
	op->kept = NULL;
	op->attempts = 0;
	for (attempt = 0; attempt < PA_RMW_RETRIES; attempt++) {
		provauth_account *a = NULL;

		op->attempts++;
		op->stage = PA_RMW_READ;
		rc = op->read ? op->read(&a, op->payload) : op->store->get(op->store, &a, op->id);
		if (rc < 0)
			return rc;
		assert(a != NULL);
		op->stage = PA_RMW_CHANGE;
		rc = op->change(a, op->payload);
		if (rc < 0 || rc == PA_RMW_UNCHANGED) {
			if (rc == PA_RMW_UNCHANGED && op->keep)
				op->kept = a;
			else
				provauth_account_free(a);
			return rc < 0 ? rc : 0;
		}
		op->stage = PA_RMW_WRITE;
		rc = op->store->put(op->store, a);
		if (rc != PROVAUTH_ECONFLICT) {
			if (rc == 0 && op->keep)
				op->kept = a;
			else
				provauth_account_free(a);
			return rc;
		}
		provauth_account_free(a);
	}
	/* Only lost races end the loop: any other outcome returned above. */
	assert(rc == PROVAUTH_ECONFLICT);
	return rc;
}
