/* What every store shares: provauth_store_free, the backends' argument checks and file helpers. */
#include "config.h"
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "internal.h"
#include "store/private.h"

void provauth_store_free(provauth_store *store)
{
	if (store && store->free)
		store->free(store);
}

int pa_store_check_id(const char *where, const char *id)
{
	if (!id || !*id)
		return pa_error_set(PROVAUTH_EINVAL, "%s: an account id is required", where);
	return 0;
}

int pa_store_check_account(const char *where, const provauth_account *a)
{
	size_t i;

	if (!a)
		return pa_error_set(PROVAUTH_EINVAL, "%s: no account given", where);
	if (!a->id || !*a->id || !a->provider || !*a->provider)
		return pa_error_set(PROVAUTH_EINVAL, "%s: account %s: id and provider are required", where,
		                    a->id && *a->id ? a->id : "(no id)");
	if (a->credential_count && !a->credentials)
		return pa_error_set(PROVAUTH_EINVAL, "%s: account %s: credential_count without credentials", where,
		                    a->id);
	for (i = 0; i < a->credential_count; i++)
		if (!a->credentials[i].kind || !a->credentials[i].name)
			return pa_error_set(PROVAUTH_EINVAL, "%s: account %s: credential %zu has no kind or name", where,
			                    a->id, i);
	return 0;
}

static int cmp_account_id(const void *a, const void *b)
{
	const provauth_account *x = *(provauth_account *const *)a, *y = *(provauth_account *const *)b;

	return strcmp(x->id, y->id);
}

int pa_store_check_batch(const char *where, provauth_account *const *accounts, size_t n)
{
	provauth_account **sorted;
	size_t i;
	int rc;

	if (n && !accounts)
		return pa_error_set(PROVAUTH_EINVAL, "%s: put_many of %zu accounts: no array given", where, n);
	for (i = 0; i < n; i++) {
		if (!accounts[i])
			return pa_error_set(PROVAUTH_EINVAL, "%s: put_many: entry %zu of %zu is NULL", where, i, n);
		if ((rc = pa_store_check_account(where, accounts[i])) < 0)
			return rc;
	}
	if (n < 2)
		return 0;
	/* Sorted copies of the pointers: the caller's order is what "first at fault" means elsewhere. */
	if (!(sorted = malloc(n * sizeof(*sorted))))
		return pa_error_oom();
	memcpy(sorted, accounts, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_account_id);
	rc = 0;
	for (i = 1; i < n; i++)
		if (strcmp(sorted[i - 1]->id, sorted[i]->id) == 0) {
			rc = pa_error_set(PROVAUTH_EINVAL, "%s: put_many: account %s appears more than once in the batch",
			                  where, sorted[i]->id);
			break;
		}
	free(sorted);
	return rc;
}

int pa_store_check_verbatim(const char *where, provauth_account *const *accounts, size_t n)
{
	size_t i;
	int rc;

	if ((rc = pa_store_check_batch(where, accounts, n)) < 0)
		return rc;
	for (i = 0; i < n; i++)
		if (accounts[i]->revision == 0)
			return pa_error_set(PROVAUTH_EINVAL, "%s: put_verbatim: account %s has revision 0; a copied "
			                    "account keeps the revision it has (at least 1)", where, accounts[i]->id);
	return 0;
}

int pa_store_check_lease(const char *where, const char *id, const char *owner, int64_t ttl_ms)
{
	int rc;

	if ((rc = pa_store_check_id(where, id)) < 0)
		return rc;
	if (!owner || !*owner)
		return pa_error_set(PROVAUTH_EINVAL, "%s: account %s: a lease owner is required", where, id);
	/* Release passes ttl -1: it only needs id and owner. */
	if (ttl_ms <= 0 && ttl_ms != PA_STORE_NO_TTL)
		return pa_error_set(PROVAUTH_EINVAL, "%s: account %s: lease ttl must be positive (got %lld ms)",
		                    where, id, (long long)ttl_ms);
	return 0;
}

int pa_store_add_damaged(char ***ids, size_t *n, const char *id)
{
	char **grown = realloc(*ids, (*n + 1) * sizeof(**ids));

	if (!grown)
		return pa_error_oom();
	*ids = grown;
	if (!(grown[*n] = pa_strdup(id)))
		return pa_error_oom();
	(*n)++;
	return 0;
}

int pa_store_check_list(const char *where, provauth_account ***out, size_t *count)
{
	if (!out || !count)
		return pa_error_set(PROVAUTH_EINVAL, "%s: list needs somewhere to put the accounts", where);
	*out = NULL;
	*count = 0;
	return 0;
}

int64_t pa_store_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void pa_store_sync_dir(const char *file)
{
	char *copy = strdup(file);
	int fd;

	if (!copy)
		return;
	if ((fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(fd);
		close(fd);
	}
	free(copy);
}

int pa_store_make_parent_dirs(const char *where, const char *file)
{
	char *dir = strdup(file), *slash, *p;
	struct stat sb;
	int rc = 0;

	if (!dir)
		return pa_error_oom();
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		goto out;
	*slash = '\0';
	if (stat(dir, &sb) == 0) {
		if (!S_ISDIR(sb.st_mode))
			rc = pa_error_set(PROVAUTH_EIO, "%s: %s is not a directory", where, dir);
		goto out;
	}
	for (p = dir + 1;; p++) {
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
			rc = pa_error_set(PROVAUTH_EIO, "%s: cannot create directory %s: %s", where, dir, strerror(errno));
			goto out;
		}
		*p = c;
		if (!c)
			break;
	}
out:
	free(dir);
	return rc;
}
