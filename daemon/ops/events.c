/*
 * The library's log events as metrics. The session room names its events
 * "<provider>_<what>" (core/session/context.c), the pool room plain
 * "pool_<what>"; the fields read here are the ones core/session/recover.c,
 * run.c and health.c write. Only fixed words and the provider id become
 * labels (metrics.c checks them again); the account_id, error and message
 * fields are never read.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "ops/ops.h"

static const char *field_str(const provauth_log_field *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(f[i].key, key) && f[i].type == PROVAUTH_FIELD_STRING)
			return f[i].str ? f[i].str : "";
	return "";
}

static int field_true(const provauth_log_field *f, size_t n, const char *key)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!strcmp(f[i].key, key) && f[i].type == PROVAUTH_FIELD_BOOL)
			return f[i].num != 0;
	return 0;
}

/* Splits "pixverse_refresh_completed" at a known ending: the provider id before it, or 0. */
static int ends_with(const char *event, const char *what, char *provider, size_t size)
{
	size_t el = strlen(event), wl = strlen(what), pl;

	if (el <= wl + 1 || strcmp(event + el - wl, what) || event[el - wl - 1] != '_')
		return 0;
	pl = el - wl - 1;
	if (pl >= size)
		pl = size - 1;
	memcpy(provider, event, pl);
	provider[pl] = '\0';
	return 1;
}

static void add2(const char *family, const char *k1, const char *v1, const char *k2, const char *v2)
{
	char labels[160];

	snprintf(labels, sizeof(labels), "%s=%s,%s=%s", k1, v1, k2, v2);
	pad_metric_add(family, labels, 1);
}

static void add_reason(const char *reason)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "reason=%s", reason);
	pad_metric_add("provauthd_failures_total", labels, 1);
}

void pad_metrics_from_event(const char *event, const provauth_log_field *f, size_t n)
{
	char p[64];

	if (!event)
		return;
	if (ends_with(event, "auto_reauth_completed", p, sizeof(p))) {
		int ok = field_true(f, n, "success");

		add2("provauthd_logins_total", "provider", p, "result", ok ? "ok" : "failed");
		if (!ok) {
			add2("provauthd_recoveries_total", "step", "password_login", "result", "failed");
			add_reason("login_failed");
		}
	} else if (ends_with(event, "auto_reauth_skipped", p, sizeof(p))) {
		add2("provauthd_logins_total", "provider", p, "result", "skipped");
	} else if (ends_with(event, "refresh_completed", p, sizeof(p))) {
		int ok = field_true(f, n, "success");

		add2("provauthd_refreshes_total", "provider", p, "result", ok ? "ok" : "failed");
		if (!ok) {
			add2("provauthd_recoveries_total", "step", "refresh", "result", "failed");
			add_reason("refresh_failed");
		}
	} else if (ends_with(event, "refresh_skipped", p, sizeof(p))) {
		add2("provauthd_refreshes_total", "provider", p, "result", "skipped");
	} else if (ends_with(event, "session_recovered", p, sizeof(p))) {
		add2("provauthd_recoveries_total", "step", field_str(f, n, "step"), "result", "ok");
	} else if (ends_with(event, "session_error_detected", p, sizeof(p))) {
		add_reason("session_error");
	} else if (ends_with(event, "session_invalidated", p, sizeof(p))) {
		add_reason("session_invalidated");
	} else if (ends_with(event, "session_health_changed", p, sizeof(p))) {
		const char *reason = field_str(f, n, "reason");

		if (!strcmp(field_str(f, n, "state"), "invalid"))
			add_reason(!strcmp(reason, "refresh_rejected") ? "refresh_rejected" : "needs_human");
	}
	/* pool_* events: the slots are read from the store at each scrape (ops/handlers.c). */
}
