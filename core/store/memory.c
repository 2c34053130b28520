/*
 * The "memory" store: accounts in an array sorted by id under one mutex.
 * Accounts are deep-copied in and out, so callers never share memory with
 * the store. Nothing is sealed and nothing survives the process.
 */
#include "config.h"
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "internal.h"
#include "store/memory_private.h"

#define WHERE PA_MEM_WHERE

int pa_mem_find(const mem_store *m, const char *id, size_t *pos)
{
	size_t lo = 0, hi = m->count;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(m->accounts[mid]->id, id);
		if (c == 0) {
			*pos = mid;
			return 1;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*pos = lo;
	return 0;
}

static mem_lease *find_lease(mem_store *m, const char *id)
{
	size_t i;

	for (i = 0; i < m->lease_count; i++)
		if (strcmp(m->leases[i].id, id) == 0)
			return &m->leases[i];
	return NULL;
}

static int mem_get(provauth_store *s, provauth_account **out, const char *id)
{
	mem_store *m = (mem_store *)s;
	size_t pos;
	int rc;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, WHERE ": get needs somewhere to put the account");
	*out = NULL;
	if ((rc = pa_store_check_id(WHERE, id)) < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	if (!pa_mem_find(m, id, &pos))
		rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no account %s", id);
	else
		rc = provauth_account_dup(out, m->accounts[pos]);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

/* Accounts are kept sorted by id: the first match is the lowest id, as the contract wants. */
static int mem_find_email(provauth_store *s, provauth_account **out, const char *provider, const char *email)
{
	mem_store *m = (mem_store *)s;
	size_t i;
	int rc = 1;

	if (!out || !provider || !email)
		return pa_error_set(PROVAUTH_EINVAL, WHERE ": find_email needs an out, a provider and an email");
	*out = NULL;
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < m->count && rc == 1; i++)
		if (m->accounts[i]->provider && strcmp(m->accounts[i]->provider, provider) == 0 &&
		    m->accounts[i]->email && strcasecmp(m->accounts[i]->email, email) == 0)
			rc = provauth_account_dup(out, m->accounts[i]);
	pthread_mutex_unlock(&m->lock);
	if (rc == 1)
		rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no %s account with that email", provider);
	return rc;
}

static int mem_list(provauth_store *s, provauth_account ***out, size_t *count, const char *provider)
{
	mem_store *m = (mem_store *)s;
	provauth_account **list;
	size_t i, n = 0;
	int rc = 0;

	if ((rc = pa_store_check_list(WHERE, out, count)) < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	if (!(list = calloc(m->count ? m->count : 1, sizeof(*list)))) {
		pthread_mutex_unlock(&m->lock);
		return pa_error_oom();
	}
	for (i = 0; i < m->count && rc == 0; i++) {
		if (provider && strcmp(m->accounts[i]->provider, provider) != 0)
			continue;
		if ((rc = provauth_account_dup(&list[n], m->accounts[i])) == 0)
			n++;
	}
	pthread_mutex_unlock(&m->lock);
	if (rc < 0) {
		provauth_account_list_free(list, n);
		return rc;
	}
	*out = list;
	*count = n;
	return 0;
}

static int mem_put(provauth_store *s, provauth_account *account)
{
	mem_store *m = (mem_store *)s;
	provauth_account *copy;
	size_t pos;
	int rc;

	if ((rc = pa_store_check_account(WHERE, account)) < 0)
		return rc;
	/* Copied before locking: the copy is the slow part and needs no lock. */
	if ((rc = provauth_account_dup(&copy, account)) < 0)
		return rc;
	copy->updated_at = (int64_t)time(NULL);
	pthread_mutex_lock(&m->lock);
	if (pa_mem_find(m, account->id, &pos)) {
		provauth_account *old = m->accounts[pos];
		if (account->revision == 0 || old->revision != account->revision) {
			rc = account->revision == 0
			     ? pa_error_set(PROVAUTH_ECONFLICT, WHERE ": account %s already exists", account->id)
			     : pa_error_set(PROVAUTH_ECONFLICT,
			                    WHERE ": account %s changed since it was read (revision %llu, stored %llu)",
			                    account->id, (unsigned long long)account->revision,
			                    (unsigned long long)old->revision);
			goto out;
		}
		copy->revision = old->revision + 1;
		m->accounts[pos] = copy;
		provauth_account_free(old);
	} else {
		if (account->revision != 0) {
			rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no account %s", account->id);
			goto out;
		}
		if (m->count == m->cap) {
			size_t ncap = m->cap ? m->cap * 2 : 16;
			provauth_account **grown = realloc(m->accounts, ncap * sizeof(*grown));
			if (!grown) {
				rc = pa_error_oom();
				goto out;
			}
			m->accounts = grown;
			m->cap = ncap;
		}
		memmove(&m->accounts[pos + 1], &m->accounts[pos], (m->count - pos) * sizeof(*m->accounts));
		copy->revision = 1;
		m->accounts[pos] = copy;
		m->count++;
	}
	account->revision = copy->revision;
	account->updated_at = copy->updated_at;
	copy = NULL;
out:
	pthread_mutex_unlock(&m->lock);
	provauth_account_free(copy);
	return rc;
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp((*(provauth_account *const *)a)->id, (*(provauth_account *const *)b)->id);
}

/*
 * Three phases so that a failure changes nothing: copies and scratch arrays
 * are made before locking; under the lock every account is checked against
 * the store as it is and the array is grown for the inserts; only then, when
 * nothing can fail any more, the store and the caller's accounts change.
 */
static int put_batch(mem_store *m, provauth_account *const *accounts, size_t n, int verbatim)
{
	provauth_account **copies = NULL, **ins = NULL;
	size_t *pos = NULL;
	size_t i, k = 0;
	int64_t now = (int64_t)time(NULL);
	int rc;

	rc = verbatim ? pa_store_check_verbatim(WHERE, accounts, n) : pa_store_check_batch(WHERE, accounts, n);
	if (rc < 0 || n == 0)
		return rc;
	if (!(copies = calloc(n, sizeof(*copies))) || !(ins = calloc(n, sizeof(*ins))) ||
	    !(pos = calloc(n, sizeof(*pos)))) {
		rc = pa_error_oom();
		goto out_unlocked;
	}
	for (i = 0; i < n; i++) {
		if ((rc = provauth_account_dup(&copies[i], accounts[i])) < 0)
			goto out_unlocked;
		if (!verbatim)
			copies[i]->updated_at = now;
	}
	pthread_mutex_lock(&m->lock);
	for (i = 0; i < n; i++) {
		const provauth_account *a = accounts[i];
		if (pa_mem_find(m, a->id, &pos[i])) {
			const provauth_account *old = m->accounts[pos[i]];
			if (a->revision == 0 || verbatim) {
				rc = pa_error_set(PROVAUTH_ECONFLICT, WHERE ": account %s already exists", a->id);
				goto out;
			}
			if (old->revision != a->revision) {
				rc = pa_error_set(PROVAUTH_ECONFLICT,
				                  WHERE ": account %s changed since it was read (revision %llu, stored %llu)",
				                  a->id, (unsigned long long)a->revision, (unsigned long long)old->revision);
				goto out;
			}
		} else if (a->revision != 0 && !verbatim) {
			rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no account %s", a->id);
			goto out;
		} else {
			pos[i] = SIZE_MAX;
			k++;
		}
	}
	if (m->count + k > m->cap) {
		size_t ncap = m->cap ? m->cap : 16;
		provauth_account **grown;
		while (ncap < m->count + k)
			ncap *= 2;
		if (!(grown = realloc(m->accounts, ncap * sizeof(*grown)))) {
			rc = pa_error_oom();
			goto out;
		}
		m->accounts = grown;
		m->cap = ncap;
	}
	/* Nothing fails from here on. Updates first: inserts move positions. */
	k = 0;
	for (i = 0; i < n; i++) {
		provauth_account *c = copies[i];
		if (pos[i] == SIZE_MAX) {
			if (!verbatim)
				c->revision = 1;
			ins[k++] = c;
			copies[i] = NULL;
		} else {
			c->revision = m->accounts[pos[i]]->revision + 1;
			copies[i] = m->accounts[pos[i]];   /* the old record, freed below */
			m->accounts[pos[i]] = c;
		}
		accounts[i]->revision = c->revision;
		accounts[i]->updated_at = c->updated_at;
	}
	/* Sorted inserts merged in from the end: one pass, however large the batch. */
	if (k) {
		size_t r = m->count, j = k, w = m->count + k;
		qsort(ins, k, sizeof(*ins), cmp_id);
		while (j > 0) {
			if (r > 0 && strcmp(m->accounts[r - 1]->id, ins[j - 1]->id) > 0)
				m->accounts[--w] = m->accounts[--r];
			else
				m->accounts[--w] = ins[--j];
		}
		m->count += k;
	}
out:
	pthread_mutex_unlock(&m->lock);
out_unlocked:
	if (copies)
		for (i = 0; i < n; i++)
			provauth_account_free(copies[i]);
	free(copies);
	free(ins);
	free(pos);
	return rc;
}

static int mem_put_many(provauth_store *s, provauth_account *const *accounts, size_t n)
{
	return put_batch((mem_store *)s, accounts, n, 0);
}

/* put_many's phases, with each account's revision and updated_at kept, and no id already there. */
static int mem_put_verbatim(provauth_store *s, provauth_account *const *accounts, size_t n)
{
	return put_batch((mem_store *)s, accounts, n, 1);
}

static int mem_remove(provauth_store *s, const char *id, uint64_t expected_revision)
{
	mem_store *m = (mem_store *)s;
	provauth_account *old = NULL;
	size_t pos;
	int rc;

	if ((rc = pa_store_check_id(WHERE, id)) < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	if (!pa_mem_find(m, id, &pos)) {
		rc = pa_error_set(PROVAUTH_ENOTFOUND, WHERE ": no account %s", id);
	} else if (expected_revision && m->accounts[pos]->revision != expected_revision) {
		rc = pa_error_set(PROVAUTH_ECONFLICT,
		                  WHERE ": account %s changed since it was read (revision %llu, stored %llu)",
		                  id, (unsigned long long)expected_revision,
		                  (unsigned long long)m->accounts[pos]->revision);
	} else {
		old = m->accounts[pos];
		pa_mem_pool_forget(m, id);
		memmove(&m->accounts[pos], &m->accounts[pos + 1], (m->count - pos - 1) * sizeof(*m->accounts));
		m->count--;
	}
	pthread_mutex_unlock(&m->lock);
	provauth_account_free(old);
	return rc;
}

static int mem_lease_acquire(provauth_store *s, const char *id, const char *owner, int64_t ttl_ms)
{
	mem_store *m = (mem_store *)s;
	mem_lease *l;
	int64_t now = pa_monotonic_ms();
	char *owner_copy;
	int rc;

	if ((rc = pa_store_check_lease(WHERE, id, owner, ttl_ms)) < 0)
		return rc;
	if (!(owner_copy = strdup(owner)))
		return pa_error_oom();
	pthread_mutex_lock(&m->lock);
	if ((l = find_lease(m, id)) != NULL) {
		if (strcmp(l->owner, owner) != 0 && l->expires_ms > now) {
			rc = pa_error_set(PROVAUTH_EBUSY, WHERE ": account %s: lease held by %s", id, l->owner);
			goto out;
		}
	} else {
		char *id_copy;
		if (m->lease_count == m->lease_cap) {
			size_t ncap = m->lease_cap ? m->lease_cap * 2 : 8;
			mem_lease *grown = realloc(m->leases, ncap * sizeof(*grown));
			if (!grown) {
				rc = pa_error_oom();
				goto out;
			}
			m->leases = grown;
			m->lease_cap = ncap;
		}
		if (!(id_copy = strdup(id))) {
			rc = pa_error_oom();
			goto out;
		}
		l = &m->leases[m->lease_count++];
		l->id = id_copy;
		l->owner = NULL;
	}
	free(l->owner);
	l->owner = owner_copy;
	owner_copy = NULL;
	l->expires_ms = ttl_ms > INT64_MAX - now ? INT64_MAX : now + ttl_ms;
out:
	pthread_mutex_unlock(&m->lock);
	free(owner_copy);
	return rc;
}

static int mem_lease_release(provauth_store *s, const char *id, const char *owner)
{
	mem_store *m = (mem_store *)s;
	mem_lease *l;
	int rc;

	if ((rc = pa_store_check_lease(WHERE, id, owner, PA_STORE_NO_TTL)) < 0)
		return rc;
	pthread_mutex_lock(&m->lock);
	if ((l = find_lease(m, id)) != NULL && strcmp(l->owner, owner) == 0) {
		free(l->id);
		free(l->owner);
		*l = m->leases[--m->lease_count];
	}
	pthread_mutex_unlock(&m->lock);
	return 0;
}

static void mem_free(provauth_store *s)
{
	mem_store *m = (mem_store *)s;
	size_t i;

	for (i = 0; i < m->count; i++)
		provauth_account_free(m->accounts[i]);
	free(m->accounts);
	for (i = 0; i < m->lease_count; i++) {
		free(m->leases[i].id);
		free(m->leases[i].owner);
	}
	free(m->leases);
	pa_mem_pool_free(m);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

int provauth_store_memory_new(provauth_store **out)
{
	mem_store *m;

	if (!out)
		return pa_error_set(PROVAUTH_EINVAL, WHERE ": no output given");
	*out = NULL;
	if (!(m = calloc(1, sizeof(*m))))
		return pa_error_oom();
	if (pthread_mutex_init(&m->lock, NULL) != 0) {
		free(m);
		return pa_error_set(PROVAUTH_ERROR, WHERE ": cannot create a mutex");
	}
	m->base.version = PROVAUTH_STORE_VERSION;
	m->base.name = "memory";
	m->base.get = mem_get;
	m->base.find_email = mem_find_email;
	m->base.list = mem_list;
	m->base.put = mem_put;
	m->base.remove = mem_remove;
	m->base.lease_acquire = mem_lease_acquire;
	m->base.lease_release = mem_lease_release;
	m->base.free = mem_free;
	m->base.put_many = mem_put_many;
	m->base.put_verbatim = mem_put_verbatim;
	pa_mem_pool_install(m);
	*out = &m->base;
	return 0;
}
