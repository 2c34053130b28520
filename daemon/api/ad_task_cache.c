/*
 * The ad-watch task GET /v1/accounts/{id}/pixverse-status shows, kept in the
 * account's metadata for daemon.ad_task_max_age seconds (the notes: 5
 * minutes unless force). Credits are what a caller polls; the task moves
 * slowly, and reading it is a second request to the provider on every poll.
 * Kept in the store, not in this process, so every daemon of a fleet serves
 * the same copy and a restart does not throw it away.
 *
 * metadata["ad_watch_task"] = {"task": {...} or null (none), "synced_at": unix s}
 */
#include "config.h"
#include <string.h>
#include "api.h"

#define AD_TASK_KEY "ad_watch_task"
/* Lost races before giving up: each loss means another writer just stored the account. */
#define AD_TASK_TRIES 8

int pad_ad_task_cached(json_object **task, const provauth_account *a, int64_t now, int64_t max_age)
{
	json_object *meta, *kept, *t, *at;
	int fresh = 0;

	*task = NULL;
	if (max_age <= 0 || !a->metadata || !(meta = json_tokener_parse(a->metadata)))
		return 0;
	if (json_object_object_get_ex(meta, AD_TASK_KEY, &kept) && json_object_is_type(kept, json_type_object) &&
	    json_object_object_get_ex(kept, "synced_at", &at) && json_object_is_type(at, json_type_int) &&
	    json_object_object_get_ex(kept, "task", &t) && (!t || json_object_is_type(t, json_type_object))) {
		int64_t synced = json_object_get_int64(at);

		/* A copy from the future (a clock set back) is not trusted either. */
		if (synced <= now && now - synced < max_age) {
			*task = json_object_get(t);
			fresh = 1;
		}
	}
	json_object_put(meta);
	return fresh;
}

int pad_ad_task_keep(provauth_manager *m, const char *id, json_object *task, int64_t now)
{
	json_object *kept = json_object_new_object();
	provauth_account *a = NULL;
	int rc = PROVAUTH_ECONFLICT, tries;

	if (!kept)
		return PROVAUTH_ENOMEM;
	json_object_object_add(kept, "task", json_object_get(task));
	json_object_object_add(kept, "synced_at", json_object_new_int64(now));
	for (tries = 0; tries < AD_TASK_TRIES && rc == PROVAUTH_ECONFLICT; tries++) {
		if ((rc = provauth_account_get(&a, m, id)) < 0)
			break;
		/* Replaces only the revision just read: PROVAUTH_ECONFLICT when anyone wrote since. */
		if ((rc = provauth_account_set_metadata(a, AD_TASK_KEY,
		                                        json_object_to_json_string_ext(kept, JSON_C_TO_STRING_PLAIN))) == 0)
			rc = provauth_account_put(m, a);
		provauth_account_free(a);
		a = NULL;
	}
	json_object_put(kept);
	return rc;
}
