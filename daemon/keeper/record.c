/* The daemon's per-account record in the store (record.h says why there). */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "record.h"

#define PAD_RECORD_KEY "provauthd"
/* Lost races before giving up: each loss means another daemon just wrote the account. */
#define PAD_RECORD_TRIES 8

static void copy_str(char *dst, size_t n, json_object *o, const char *key)
{
	json_object *v;

	dst[0] = '\0';
	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, n, "%s", json_object_get_string(v));
}

static int64_t get_int(json_object *o, const char *key)
{
	json_object *v;

	return json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_int)
	       ? json_object_get_int64(v) : 0;
}

void pad_record_of(pad_record *r, const provauth_account *a)
{
	json_object *meta, *rec;

	memset(r, 0, sizeof(*r));
	if (!a || !a->metadata || !(meta = json_tokener_parse(a->metadata)))
		return;
	if (json_object_object_get_ex(meta, PAD_RECORD_KEY, &rec) && json_object_is_type(rec, json_type_object)) {
		r->kept_at = get_int(rec, "kept_at");
		r->synced_at = get_int(rec, "synced_at");
		r->failed_at = get_int(rec, "failed_at");
		copy_str(r->notified, sizeof(r->notified), rec, "notified");
		copy_str(r->notified_reason, sizeof(r->notified_reason), rec, "notified_reason");
	}
	json_object_put(meta);
}

static int record_set(provauth_account *a, const pad_record *r)
{
	json_object *o = json_object_new_object();
	int rc;

	if (!o)
		return PROVAUTH_ENOMEM;
	json_object_object_add(o, "kept_at", json_object_new_int64(r->kept_at));
	json_object_object_add(o, "synced_at", json_object_new_int64(r->synced_at));
	json_object_object_add(o, "failed_at", json_object_new_int64(r->failed_at));
	json_object_object_add(o, "notified", json_object_new_string(r->notified));
	json_object_object_add(o, "notified_reason", json_object_new_string(r->notified_reason));
	rc = provauth_account_set_metadata(a, PAD_RECORD_KEY, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return rc;
}

int pad_record_update(provauth_manager *m, const char *id, pad_record_change change, void *arg, int *written)
{
	provauth_account *a = NULL;
	pad_record r;
	int rc = PROVAUTH_ECONFLICT, tries;

	if (written)
		*written = 0;
	for (tries = 0; tries < PAD_RECORD_TRIES && rc == PROVAUTH_ECONFLICT; tries++) {
		if ((rc = provauth_account_get(&a, m, id)) < 0)
			return rc;
		pad_record_of(&r, a);
		rc = change(&r, a, arg);
		if (rc == 1 && (rc = record_set(a, &r)) == 0)
			/* Replaces only the revision just read: PROVAUTH_ECONFLICT if anyone wrote since. */
			if ((rc = provauth_account_put(m, a)) == 0 && written)
				*written = 1;
		provauth_account_free(a);
		a = NULL;
	}
	return rc;
}
