/*
 * The client identity Pixverse ties a session to: the ai-trace-id and
 * ai-anonymous-id headers. The service answers 10005 ("logged in
 * elsewhere") to a session used with other ids than it was created with,
 * so both stay fixed per account (notes: pixverse-generation.md A.1):
 * taken from the browser when an import carries them, else generated once
 * at import or login, kept in the account's metadata (they are not secret)
 * as trace_id, anonymous_id and ids_at (when they were set, host clock).
 *
 * After a 10005 the ids are dropped: once the account's recorded health
 * says the session died of a 10005 later than the ids were set, the next
 * session gets fresh ones (and stores them, so that happens once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pixverse.h"

int pv_id_ok(const char *s)
{
	size_t n = s ? strlen(s) : 0, i;

	if (n < 8 || n >= PV_ID_MAX)
		return 0;
	for (i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-'))
			return 0;
	}
	return 1;
}

/* 1 when the account's session health says the session ended with a 10005 at or after `since`. */
static int dropped_by_10005(const provauth_health *health, int has_since, int64_t since)
{
	if (!health->state || strcmp(health->state, "invalid") != 0 || !health->code ||
	    strcmp(health->code, "10005") != 0)
		return 0;
	/* Ids set in the very second of the 10005 count as its successors: they came with a new session. */
	return !has_since || since < health->at;
}

int pv_ids_fresh(const pv_state *st, pv_client_ids *out)
{
	const provauth_host *h = st->host;
	char t[37], a[37];
	int rc;

	if ((rc = h->uuid4(h, t)) < 0 || (rc = h->uuid4(h, a)) < 0)
		return rc;
	snprintf(out->trace_id, sizeof(out->trace_id), "%s", t);
	snprintf(out->anonymous_id, sizeof(out->anonymous_id), "%s", a);
	return 0;
}

int pv_ids_for(const pv_state *st, const provauth_account *acct, pv_client_ids *out)
{
	const provauth_host *h = st->host;
	const char *metadata_json = acct->metadata;
	provauth_json *meta = NULL;
	const char *t = NULL, *a = NULL;
	int64_t since = 0;
	int has_since = 0, generated = 0, rc;
	pv_client_ids fresh;

	memset(out, 0, sizeof(*out));
	if (metadata_json && *metadata_json)
		meta = h->json_parse(metadata_json, strlen(metadata_json));
	if (meta && h->json_type(meta) == PROVAUTH_JSON_OBJECT) {
		has_since = h->json_int(h->json_get(meta, "ids_at"), &since) == 0;
		if (!dropped_by_10005(&acct->state.health, has_since, since)) {
			t = h->json_string(h->json_get(meta, "trace_id"));
			a = h->json_string(h->json_get(meta, "anonymous_id"));
		}
	}
	if (pv_id_ok(t))
		snprintf(out->trace_id, sizeof(out->trace_id), "%s", t);
	if (pv_id_ok(a))
		snprintf(out->anonymous_id, sizeof(out->anonymous_id), "%s", a);
	if (meta)
		h->json_free(meta);
	if (!out->trace_id[0] || !out->anonymous_id[0]) {
		if ((rc = pv_ids_fresh(st, &fresh)) < 0)
			return rc;
		if (!out->trace_id[0])
			memcpy(out->trace_id, fresh.trace_id, sizeof(out->trace_id));
		if (!out->anonymous_id[0])
			memcpy(out->anonymous_id, fresh.anonymous_id, sizeof(out->anonymous_id));
		generated = 1;
	}
	return generated;
}

int pv_ids_store(const pv_state *st, provauth_update *u, const pv_client_ids *ids)
{
	const provauth_host *h = st->host;
	char quoted[PV_ID_MAX + 3], num[32];
	int rc;

	snprintf(quoted, sizeof(quoted), "\"%s\"", ids->trace_id);
	if ((rc = h->update_set_metadata(u, "trace_id", quoted)) < 0)
		return rc;
	snprintf(quoted, sizeof(quoted), "\"%s\"", ids->anonymous_id);
	if ((rc = h->update_set_metadata(u, "anonymous_id", quoted)) < 0)
		return rc;
	snprintf(num, sizeof(num), "%lld", (long long)h->now(h));
	return h->update_set_metadata(u, "ids_at", num);
}
