/*
 * Named work leases for hosts: the store's cross-process lease (the one
 * recoveries take per account), offered under names of the host's choosing
 * so that several processes or hosts sharing a store can divide work, e.g.
 * provauthd's keeper keeping each account in one daemon at a time.
 */
#include "config.h"
#include <string.h>
#include "internal.h"
#include "manager.h"

/* Names share the table with recovery leases, whose names are account ids. */
static int check_name(const char *fn, const char *name, const char *owner)
{
	if (!name || !*name || !owner || !*owner)
		return pa_error_set(PROVAUTH_EINVAL, "%s: name and owner must be non-empty", fn);
	if (!strchr(name, ':'))
		return pa_error_set(PROVAUTH_EINVAL, "%s: lease name '%.60s' has no ':': a host's lease names "
		                    "take a prefix of its own (e.g. 'keeper:ID') so they never meet an account's",
		                    fn, name);
	return 0;
}

int provauth_lease_acquire(provauth_manager *m, const char *name, const char *owner, int64_t ttl_ms)
{
	provauth_store *st;
	int rc;

	provauth_error_clear();
	if (!m)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_lease_acquire: manager is NULL");
	if ((rc = check_name("provauth_lease_acquire", name, owner)) < 0)
		return rc;
	if (ttl_ms <= 0)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_lease_acquire: ttl_ms must be positive");
	st = pa_manager_store(m);
	if (!st || !st->lease_acquire)
		return pa_error_set(PROVAUTH_EUNSUPPORTED, "provauth_lease_acquire: the store has no leases");
	return st->lease_acquire(st, name, owner, ttl_ms);
}

int provauth_lease_release(provauth_manager *m, const char *name, const char *owner)
{
	provauth_store *st;
	int rc;

	provauth_error_clear();
	if (!m)
		return pa_error_set(PROVAUTH_EINVAL, "provauth_lease_release: manager is NULL");
	if ((rc = check_name("provauth_lease_release", name, owner)) < 0)
		return rc;
	st = pa_manager_store(m);
	if (!st || !st->lease_release)
		return pa_error_set(PROVAUTH_EUNSUPPORTED, "provauth_lease_release: the store has no leases");
	return st->lease_release(st, name, owner);
}
