/*
 * The ad-watch task GET /v1/accounts/{id}/pixverse-status shows, kept for
 * daemon.ad_task_max_age seconds (the notes: 5 minutes unless force).
 * Credits are what a caller polls; the task moves slowly, and reading it is
 * a second request to the provider on every poll.
 *
 * Two places: the account's metadata in the store, so every daemon of a
 * fleet serves the same copy and a restart keeps it,
 *
 *   metadata["ad_watch_task"] = {"task": {...} or null (none), "synced_at": unix s}
 *
 * and, in front of it, this world's memory, so the common call costs no
 * store read of its own: the status call reads the account anyway. The
 * store is read when memory has no fresh copy (another daemon may have
 * one), at most once per account per max_age.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "api.h"

#define AD_TASK_KEY "ad_watch_task"
/* Lost races before giving up: each loss means another writer just stored the account. */
#define AD_TASK_TRIES 8
#define AD_TASK_BUCKETS 1024
/* Beyond this many accounts the memory keeps no more: the store still does. */
#define AD_TASK_MAX_ENTRIES 100000

typedef struct ad_entry {
	struct ad_entry *next;
	char *id;
	char *task;                 /* JSON text: an object, or "null" */
	int64_t synced_at;
} ad_entry;

struct pad_ad_tasks {
	pthread_mutex_t mu;
	ad_entry *buckets[AD_TASK_BUCKETS];
	size_t count;
};

static size_t bucket_of(const char *id)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 16777619u;
	return h % AD_TASK_BUCKETS;
}

static int fresh(int64_t synced, int64_t now, int64_t max_age)
{
	/* A copy from the future (a clock set back) is not trusted. */
	return max_age > 0 && synced <= now && now - synced < max_age;
}

pad_ad_tasks *pad_ad_tasks_new(void)
{
	pad_ad_tasks *t = calloc(1, sizeof(*t));

	if (t)
		pthread_mutex_init(&t->mu, NULL);
	return t;
}

void pad_ad_tasks_free(pad_ad_tasks *t)
{
	ad_entry *e;
	size_t i;

	if (!t)
		return;
	for (i = 0; i < AD_TASK_BUCKETS; i++)
		while ((e = t->buckets[i])) {
			t->buckets[i] = e->next;
			free(e->id);
			free(e->task);
			free(e);
		}
	pthread_mutex_destroy(&t->mu);
	free(t);
}

int pad_ad_task_recent(json_object **task, pad_ad_tasks *t, const char *id, int64_t now, int64_t max_age)
{
	char *text = NULL;
	ad_entry *e;
	int found = 0;

	*task = NULL;
	if (!t || max_age <= 0)
		return 0;
	pthread_mutex_lock(&t->mu);
	for (e = t->buckets[bucket_of(id)]; e; e = e->next)
		if (strcmp(e->id, id) == 0) {
			if (fresh(e->synced_at, now, max_age) && (text = strdup(e->task)))
				found = 1;
			break;
		}
	pthread_mutex_unlock(&t->mu);
	/* Parsed outside the lock: every status call of the daemon comes by here. */
	if (found) {
		*task = json_tokener_parse(text);
		found = *task != NULL || strcmp(text, "null") == 0;
	}
	free(text);
	return found;
}

void pad_ad_task_remember(pad_ad_tasks *t, const char *id, json_object *task, int64_t synced_at)
{
	const char *json = task ? json_object_to_json_string_ext(task, JSON_C_TO_STRING_PLAIN) : "null";
	char *copy = strdup(json);
	size_t b = bucket_of(id);
	ad_entry *e;

	if (!t || !copy) {
		free(copy);
		return;
	}
	pthread_mutex_lock(&t->mu);
	for (e = t->buckets[b]; e; e = e->next)
		if (strcmp(e->id, id) == 0)
			break;
	if (e && e->synced_at <= synced_at) {
		free(e->task);
		e->task = copy;
		e->synced_at = synced_at;
		copy = NULL;
	} else if (!e && t->count < AD_TASK_MAX_ENTRIES && (e = calloc(1, sizeof(*e))) && (e->id = strdup(id))) {
		e->task = copy;
		e->synced_at = synced_at;
		e->next = t->buckets[b];
		t->buckets[b] = e;
		t->count++;
		copy = NULL;
	} else if (e && !e->id) {
		free(e);
	}
	pthread_mutex_unlock(&t->mu);
	free(copy);
}

int pad_ad_task_cached(json_object **task, int64_t *synced_at, const provauth_account *a, int64_t now,
                       int64_t max_age)
{
	json_object *meta, *kept, *t, *at;
	int found = 0;

	*task = NULL;
	if (max_age <= 0 || !a->metadata || !(meta = json_tokener_parse(a->metadata)))
		return 0;
	if (json_object_object_get_ex(meta, AD_TASK_KEY, &kept) && json_object_is_type(kept, json_type_object) &&
	    json_object_object_get_ex(kept, "synced_at", &at) && json_object_is_type(at, json_type_int) &&
	    json_object_object_get_ex(kept, "task", &t) && (!t || json_object_is_type(t, json_type_object)) &&
	    fresh(json_object_get_int64(at), now, max_age)) {
		*synced_at = json_object_get_int64(at);
		*task = json_object_get(t);
		found = 1;
	}
	json_object_put(meta);
	return found;
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
