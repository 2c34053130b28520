/*
 * Provider plugins: discovery, the file checks, initialisation and unloading
 * (the ABI contract itself is checked in contract.c).
 *
 * lint: allow file-length one file walks a plugin from its directory entry
 * through the race-free open and the fd checks to dlopen and init, so the
 * order of the checks can be read, and audited, top to bottom.
 *
 * A broken plugin never stops the others: every refusal is recorded in the
 * set's skipped list with a reason that names the file, logged as
 * "plugin_skipped", and loading goes on.
 */
#include "config.h"
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>
#include "internal.h"

void (*pa_plugin_checked_hook)(const char *path);

static void log_loaded(const pa_logger *lg, const pa_plugin *pl)
{
	char abi[32];
	provauth_log_field f[] = {
		PA_F_STR("provider", pl->vt.id),
		PA_F_STR("file", pl->file),
		PA_F_STR("abi", abi),
	};

	snprintf(abi, sizeof(abi), "%u.%u", pl->vt.abi_major, pl->vt.abi_minor);
	pa_log(lg, PROVAUTH_LOG_INFO, "plugin_loaded", f, PA_ARRAY_LEN(f));
}

/* Records a refusal; the reason is the current last error. */
static int record_skip(pa_plugin_set *set, const char *file, const pa_logger *lg)
{
	pa_plugin_skip *grown;
	char *f, *r;

	{
		provauth_log_field fields[] = {
			PA_F_STR("file", file),
			PA_F_STR("reason", provauth_last_error()),
		};
		pa_log(lg, PROVAUTH_LOG_ERROR, "plugin_skipped", fields, PA_ARRAY_LEN(fields));
	}
	grown = realloc(set->skipped, (set->skipped_count + 1) * sizeof(*grown));
	if (!grown)
		return pa_error_oom();
	set->skipped = grown;
	f = pa_strdup(file);
	r = pa_strdup(provauth_last_error());
	if (!f || !r) {
		free(f);
		free(r);
		return pa_error_oom();
	}
	set->skipped[set->skipped_count].file = f;
	set->skipped[set->skipped_count].reason = r;
	set->skipped_count++;
	return 0;
}

static void plugin_free(pa_plugin *pl)
{
	if (!pl)
		return;
	free(pl->op_names);
	free(pl->file);
	pa_settings_empty_node_free(pl->empty_settings);
	free(pl);
}

static int build_op_names(pa_plugin *pl)
{
	size_t i, n = pl->vt.operations ? pl->vt.operation_count : 0;

	pl->op_names = calloc(n + 1, sizeof(*pl->op_names));
	if (!pl->op_names)
		return pa_error_oom();
	for (i = 0; i < n; i++)
		pl->op_names[i] = pl->vt.operations[i].name;
	return 0;
}

/*
 * The checks and init shared by plugins and in-process providers. On success
 * the set owns `dl` and `fd` (-1: none); on failure the caller still does.
 */
static int add_provider(pa_plugin_set *set, const provauth_provider *p, const char *file, void *dl, int fd,
                        const provauth_settings *s, const provauth_host *host, const pa_logger *lg)
{
	const char *name = pa_plugin_display_name(file);
	const pa_plugin *other;
	const provauth_setting *node;
	pa_plugin **grown;
	pa_plugin *pl;
	size_t n;
	int rc;

	if ((rc = pa_provider_check(p, file)) < 0)
		return rc;
	if ((other = pa_plugins_find(set, p->id)) != NULL)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: provider '%s' already loaded from %s",
		                    name, p->id, pa_plugin_display_name(other->file));

	if (!(pl = calloc(1, sizeof(*pl))))
		return pa_error_oom();
	pl->fd = -1;
	if (file && !(pl->file = pa_strdup(file))) {
		plugin_free(pl);
		return pa_error_oom();
	}
	/* An older plugin's struct ends early: what it lacks reads as NULL / 0. */
	n = p->struct_size < sizeof(pl->vt) ? p->struct_size : sizeof(pl->vt);
	memcpy(&pl->vt, p, n);
	if ((rc = build_op_names(pl)) < 0) {
		plugin_free(pl);
		return rc;
	}

	pl->settings = pa_settings_provider(s, pl->vt.id);
	if (!pl->settings && !(pl->empty_settings = pa_settings_empty_node_new(s, pl->vt.id))) {
		plugin_free(pl);
		return pa_error_oom();
	}
	node = pl->settings ? pl->settings->node : pl->empty_settings;
	if ((rc = pa_setting_check_keys(node, pa_common_provider_keys, pl->vt.setting_keys)) < 0) {
		pa_error_prefix(rc, "%s: settings of provider '%s'", name, pl->vt.id);
		plugin_free(pl);
		return rc;
	}

	grown = realloc(set->plugins, (set->count + 1) * sizeof(*grown));
	if (!grown) {
		plugin_free(pl);
		return pa_error_oom();
	}
	set->plugins = grown;

	if (pl->vt.init) {
		provauth_error_clear();
		pa_plugin_calling(lg, name, "init");
		rc = pl->vt.init(&pl->state, host, node);
		if (rc != 0) {
			if (rc > 0)
				rc = PROVAUTH_EPLUGIN;
			pa_error_prefix(rc, "%s: provider '%s' init failed", name, pl->vt.id);
			plugin_free(pl);
			return rc;
		}
	}
	pl->initialised = 1;
	pl->dl = dl;
	pl->fd = fd;
	set->plugins[set->count++] = pl;
	log_loaded(lg, pl);
	return 0;
}

int pa_plugins_add(pa_plugin_set *set, const provauth_provider *p, const char *file,
                   const provauth_settings *s, const provauth_host *host, const pa_logger *lg)
{
	if (!set || !s || !host)
		return pa_error_set(PROVAUTH_EINVAL, "pa_plugins_add: set, settings and host are required");
	return add_provider(set, p, file, NULL, -1, s, host, lg);
}

pa_plugin *pa_plugins_find(const pa_plugin_set *set, const char *id)
{
	size_t i;

	if (!set || !id)
		return NULL;
	for (i = 0; i < set->count; i++)
		if (strcmp(set->plugins[i]->vt.id, id) == 0)
			return set->plugins[i];
	return NULL;
}

static int already_seen(const pa_plugin_set *set, const char *real)
{
	size_t i;

	for (i = 0; i < set->count; i++)
		if (pa_streq(set->plugins[i]->file, real))
			return 1;
	for (i = 0; i < set->skipped_count; i++)
		if (pa_streq(set->skipped[i].file, real))
			return 1;
	return 0;
}

/*
 * Whoever can change a directory on the way to a plugin, or the file
 * itself, decides what code runs in us: only root and the caller may own
 * them, and nobody else may write them. A sticky directory of root's (/tmp)
 * or the caller's is the exception: others may add entries there but not
 * rename or remove those of root or the caller. (pa_stat_trust holds the
 * rule, shared with the store's files; inside a user namespace that maps no
 * one, every owner reads as the overflow uid, the caller's included.)
 */
static int check_node(const struct stat *st, int is_dir, const char *path, const char *file)
{
	const char *what = is_dir ? "directory" : "file";
	unsigned long me = (unsigned long)geteuid(), owner = (unsigned long)st->st_uid;
	int trust = pa_stat_trust(st);

	if (trust == PA_UNTRUSTED_OWNER)
		return pa_error_set(PROVAUTH_EPLUGIN,
		                    "%s: %s %s is owned by uid %lu, neither root nor the current user (uid %lu)",
		                    file, what, path, owner, me);
	if (trust == PA_UNTRUSTED_MODE)
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: %s %s is writable by other users (mode %04o, owner uid %lu)",
		                    file, what, path, (unsigned int)(st->st_mode & 07777), owner);
	return 0;
}

#ifndef O_PATH
#define O_PATH O_RDONLY
#endif

/*
 * Walks `real` (absolute, free of symlinks, "." and "..", as realpath
 * gives it) from "/" one component at a time through descriptors, never
 * following a link, and checks every directory on the way and, when
 * want_file, the file at the end. Checking the descriptors we hold rather
 * than paths leaves nothing to swap between a check and the next step.
 * Returns the file's descriptor (want_file) or 0, or a negative error
 * whose message names `file`.
 */
static int open_checked(const char *real, int want_file, const char *file)
{
	struct stat st;
	char *path;
	size_t start, end, len = strlen(real);
	int dfd, fd, rc = 0;

	if (real[0] != '/')
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: %s is not an absolute path", file, real);
	if (!(path = pa_strdup(real)))
		return pa_error_oom();
	if ((dfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)) < 0 || fstat(dfd, &st) < 0) {
		rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot open directory /: %s", file, strerror(errno));
		goto out;
	}
	if ((rc = check_node(&st, 1, "/", file)) < 0)
		goto out;
	for (start = 1; start < len; start = end + 1) {
		int last;
		char saved;

		for (end = start; end < len && path[end] != '/'; end++)
			;
		if (end == start)
			continue;
		last = end >= len;
		saved = path[end];
		path[end] = '\0';
		if (last && want_file) {
			/* O_NONBLOCK: a FIFO planted here must not hang us; a regular file ignores it. */
			fd = openat(dfd, path + start, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
			if (fd < 0)
				rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot open: %s", file,
				                  errno == ELOOP ? "it became a symbolic link" : strerror(errno));
			else if (fstat(fd, &st) < 0)
				rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot stat: %s", file, strerror(errno));
			else if (!S_ISREG(st.st_mode))
				rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: not a regular file", file);
			else
				rc = check_node(&st, 0, path, file);
		} else {
			fd = openat(dfd, path + start, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (fd < 0)
				rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot open directory %s: %s", file, path,
				                  errno == ELOOP || errno == ENOTDIR ? "not a directory (or it became a symbolic link)"
				                                                     : strerror(errno));
			else if (fstat(fd, &st) < 0)
				rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot stat directory %s: %s", file, path,
				                  strerror(errno));
			else if (!S_ISDIR(st.st_mode))
				rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: %s is not a directory", file, path);
			else
				rc = check_node(&st, 1, path, file);
		}
		path[end] = saved;
		close(dfd);
		dfd = fd;
		if (rc < 0 || fd < 0) {
			if (rc == 0)
				rc = PROVAUTH_EPLUGIN;
			goto out;
		}
	}
	if (want_file && S_ISREG(st.st_mode)) {
		/* The descriptor now belongs to the caller. */
		rc = dfd;
		dfd = -1;
	} else if (want_file) {
		rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: not a regular file", file);
	}
out:
	if (dfd >= 0)
		close(dfd);
	free(path);
	return rc;
}

/*
 * Whether the loaded object `lm` is the file open on `fd`: the mapping
 * holding its dynamic section comes from that device and inode, as
 * /proc/self/maps says. 0 when it is another file or when it cannot be told.
 */
static int object_is_file(const struct link_map *lm, int fd)
{
	uintptr_t at = (uintptr_t)lm->l_ld;
	unsigned long lo, hi, ino;
	unsigned int maj, mn;
	char line[512];
	struct stat st;
	FILE *f;
	int same = 0;

	if (!at || fstat(fd, &st) < 0 || !(f = fopen("/proc/self/maps", "re")))
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %*s %x:%x %lu", &lo, &hi, &maj, &mn, &ino) != 5 || at < lo || at >= hi)
			continue;
		same = maj == major(st.st_dev) && mn == minor(st.st_dev) && ino == (unsigned long)st.st_ino;
		break;
	}
	fclose(f);
	return same;
}

/*
 * The name under which the checked descriptor is loaded. glibc matches
 * dlopen names against those already loaded before opening anything: an
 * object's first name and every other name it was opened by since (a
 * plugin loaded again while still loaded, by a reloading host, gains the
 * new /proc name as an alias). Once such a number is closed and reused for
 * another file, dlopen by that name would hand back the earlier object, the
 * wrong code under this file's name. So a name that resolves to anything
 * but this very file is moved to a fresh number first. Old names pile up
 * only below the highest number the process has held, hence the bound.
 */
static int fd_name(int *fd, char *name, size_t size)
{
	int tries, nfd;

	for (tries = 0; tries < 256; tries++) {
		void *h;
		struct link_map *lm = NULL;
		int taken;

		snprintf(name, size, "/proc/self/fd/%d", *fd);
		if (!(h = dlopen(name, RTLD_NOW | RTLD_LOCAL | RTLD_NOLOAD)))
			return 0;
		taken = dlinfo(h, RTLD_DI_LINKMAP, &lm) != 0 || !lm || !object_is_file(lm, *fd);
		dlclose(h);
		if (!taken)
			return 0;
		if ((nfd = fcntl(*fd, F_DUPFD_CLOEXEC, *fd + 1)) < 0)
			break;
		close(*fd);
		*fd = nfd;
	}
	return -1;
}

/* dlerror() names the /proc path; say the file's name instead. */
static int load_error(const char *real, const char *fdname)
{
	const char *err = dlerror();
	size_t n = strlen(fdname);

	if (!err)
		err = "unknown dlopen error";
	else if (strncmp(err, fdname, n) == 0 && err[n] == ':')
		err += n + 1 + (err[n + 1] == ' ');
	return pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot load: %s (check its dependencies with ldd)", real, err);
}

static int open_plugin(pa_plugin_set *set, int fd, const char *real, const provauth_settings *s,
                       const provauth_host *host, const pa_logger *lg);

typedef struct trial_args {
	int fd;
	const char *real;
	const provauth_settings *s;
	const provauth_host *host;
} trial_args;

/*
 * In the trial child: the same load of the same checked descriptor
 * (inherited over fork) into a set of its own, silently (the parent logs).
 */
static int trial_load(void *arg)
{
	const trial_args *a = arg;
	pa_plugin_set set;
	int rc;

	memset(&set, 0, sizeof(set));
	rc = open_plugin(&set, a->fd, a->real, a->s, a->host, NULL);
	/*
	 * Unloaded as the parent would unload it, so fini is tried too and the
	 * child leaves nothing behind (valgrind checks forked children).
	 */
	pa_plugin_calling(NULL, a->real, "fini");
	pa_plugins_unload(&set);
	return rc;
}

/*
 * Loads the descriptor checked by open_checked, never the path again: by
 * the time dlopen ran the path could name another file. On success the
 * plugin keeps the descriptor open, so its /proc name stays its own.
 */
static int open_plugin(pa_plugin_set *set, int fd, const char *real, const provauth_settings *s,
                       const provauth_host *host, const pa_logger *lg)
{
	const provauth_provider *desc = NULL;
	provauth_plugin_init_fn entry;
	char fdname[64];
	void *dl, *sym;
	int rc;

	if (set->trial) {
		trial_args a = { fd, real, s, host };
		if ((rc = pa_plugin_trial(real, trial_load, &a)) < 0) {
			close(fd);
			return rc;
		}
	}
	if (fd_name(&fd, fdname, sizeof(fdname)) < 0) {
		close(fd);
		return pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot load: no free descriptor name to load it by", real);
	}
	dlerror();
	if (!(dl = dlopen(fdname, RTLD_NOW | RTLD_LOCAL))) {
		rc = load_error(real, fdname);
		close(fd);
		return rc;
	}
	dlerror();
	sym = dlsym(dl, PROVAUTH_PLUGIN_ENTRY);
	if (!sym) {
		rc = pa_error_set(PROVAUTH_EPLUGIN, "no entry point " PROVAUTH_PLUGIN_ENTRY " in %s", real);
		goto fail;
	}
	entry = (provauth_plugin_init_fn)sym;
	provauth_error_clear();
	pa_plugin_calling(lg, real, "entry point");
	rc = entry(&desc, host);
	if (rc != 0) {
		if (rc > 0)
			rc = PROVAUTH_EPLUGIN;
		pa_error_prefix(rc, "%s: " PROVAUTH_PLUGIN_ENTRY " failed", real);
		goto fail;
	}
	if (!desc) {
		rc = pa_error_set(PROVAUTH_EPLUGIN, "%s: " PROVAUTH_PLUGIN_ENTRY
		                  " returned no provider description", real);
		goto fail;
	}
	if ((rc = add_provider(set, desc, real, dl, fd, s, host, lg)) == 0)
		return 0;
fail:
	dlclose(dl);
	close(fd);
	return rc;
}

static int is_plugin_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return d->d_name[0] != '.' && n > 3 && strcmp(d->d_name + n - 3, ".so") == 0;
}

/* Byte order, not the locale's: the load order must not depend on LC_COLLATE. */
static int name_order(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static void log_dir_problem(const pa_logger *lg, const char *event, const char *dir,
                            const char *source, const char *why)
{
	provauth_log_field f[] = {
		PA_F_STR("dir", dir),
		PA_F_STR("source", source),
		PA_F_STR("error", why),
	};
	pa_log(lg, PROVAUTH_LOG_WARN, event, f, PA_ARRAY_LEN(f));
}

/*
 * One file of a scanned directory: its outcome is a plugin or a skip record.
 * The directory is checked up to "/" first; a symlinked file is resolved
 * once, and the file it leads to is checked with every directory above it.
 */
static int load_one(pa_plugin_set *set, const char *path, const char *dir_real, const provauth_settings *s,
                    const provauth_host *host, const pa_logger *lg)
{
	char *real;
	int rc;

	if (!(real = realpath(path, NULL))) {
		if (errno == ENOMEM)
			return pa_error_oom();
		pa_error_set(PROVAUTH_EPLUGIN, "%s: cannot resolve: %s", path, strerror(errno));
		return record_skip(set, path, lg);
	}
	if (already_seen(set, real)) {
		free(real);
		return 0;
	}
	rc = open_checked(dir_real, 0, real);
	if (rc >= 0)
		rc = open_checked(real, 1, real);
	if (rc >= 0 && pa_plugin_checked_hook)
		pa_plugin_checked_hook(real);
	if (rc >= 0)
		rc = open_plugin(set, rc, real, s, host, lg);
	if (rc == PROVAUTH_ENOMEM) {
		free(real);
		return rc;
	}
	if (rc < 0)
		rc = record_skip(set, real, lg);
	free(real);
	return rc;
}

static int scan_dir(pa_plugin_set *set, const char *dir, const char *source, int quiet_if_missing,
                    const provauth_settings *s, const provauth_host *host, const pa_logger *lg)
{
	struct dirent **names = NULL;
	struct stat dir_st;
	char *dir_real;
	int n, i, rc = 0;

	if (!(dir_real = realpath(dir, NULL))) {
		int err = errno;
		if (err == ENOMEM)
			return pa_error_oom();
		if (!(err == ENOENT && quiet_if_missing))
			log_dir_problem(lg, err == ENOENT ? "plugin_dir_missing" : "plugin_dir_unreadable",
			                dir, source, strerror(err));
		return 0;
	}
	if (stat(dir_real, &dir_st) < 0 || !S_ISDIR(dir_st.st_mode)) {
		log_dir_problem(lg, "plugin_dir_unreadable", dir, source, "not a directory");
		free(dir_real);
		return 0;
	}
	n = scandir(dir_real, &names, is_plugin_name, name_order);
	if (n < 0) {
		int err = errno;
		free(dir_real);
		if (err == ENOMEM)
			return pa_error_oom();
		log_dir_problem(lg, "plugin_dir_unreadable", dir, source, strerror(err));
		return 0;
	}
	for (i = 0; i < n; i++) {
		char *path = NULL;
		if (rc == 0) {
			if (!(path = pa_sprintf("%s/%s", dir_real, names[i]->d_name)))
				rc = pa_error_oom();
			else
				rc = load_one(set, path, dir_real, s, host, lg);
		}
		free(path);
		free(names[i]);
	}
	free(names);
	free(dir_real);
	return rc;
}

static const char *env_value(const char *name)
{
#ifdef HAVE_SECURE_GETENV
	return secure_getenv(name);
#else
	/* Without secure_getenv, refuse the variable in set-id programs ourselves. */
	if (getuid() != geteuid() || getgid() != getegid())
		return NULL;
	return getenv(name);
#endif
}

/*
 * PROVAUTH_NO_BUILTIN_PLUGINS set to anything but "" or "0" leaves out the
 * built-in directory: a test suite (or anyone running an uninstalled build)
 * then sees only the plugins it names, not those of an installed copy.
 */
static int builtin_dir_disabled(void)
{
	const char *v = env_value("PROVAUTH_NO_BUILTIN_PLUGINS");

	return v && *v && strcmp(v, "0") != 0;
}

static int scan_path_list(pa_plugin_set *set, const char *list, const provauth_settings *s,
                          const provauth_host *host, const pa_logger *lg)
{
	const char *p = list, *colon;
	int rc = 0;

	while (rc == 0 && *p) {
		char *dir;
		colon = strchr(p, ':');
		if (!(dir = pa_strndup(p, colon ? (size_t)(colon - p) : strlen(p))))
			return pa_error_oom();
		if (dir[0])
			rc = scan_dir(set, dir, "PROVAUTH_PLUGIN_PATH", 0, s, host, lg);
		free(dir);
		if (!colon)
			break;
		p = colon + 1;
	}
	return rc;
}

int pa_plugins_load(pa_plugin_set *set, const provauth_settings *s, const provauth_host *host,
                    const pa_logger *lg)
{
#ifdef PROVAUTH_PLUGINDIR
	return pa_plugins_load_from(set, s, host, lg, PROVAUTH_PLUGINDIR);
#else
	return pa_plugins_load_from(set, s, host, lg, NULL);
#endif
}

int pa_plugins_load_from(pa_plugin_set *set, const provauth_settings *s, const provauth_host *host,
                         const pa_logger *lg, const char *builtin_dir)
{
	const char *const *dirs;
	const char *env;
	size_t i, ndirs = 0;
	int rc;

	if (!set || !s || !host)
		return pa_error_set(PROVAUTH_EINVAL, "pa_plugins_load: set, settings and host are required");
	dirs = pa_settings_plugin_dirs(s, &ndirs);
	for (i = 0; i < ndirs; i++)
		if ((rc = scan_dir(set, dirs[i], "settings", 0, s, host, lg)) < 0)
			return rc;
	if ((env = env_value("PROVAUTH_PLUGIN_PATH")) != NULL && (rc = scan_path_list(set, env, s, host, lg)) < 0)
		return rc;
	/* Not installed yet (or never): a missing default directory is normal. */
	if (builtin_dir && !builtin_dir_disabled() &&
	    (rc = scan_dir(set, builtin_dir, "default", 1, s, host, lg)) < 0)
		return rc;
	return 0;
}

void pa_plugins_unload(pa_plugin_set *set)
{
	size_t i;

	if (!set)
		return;
	/* Reverse order: a later plugin may rely on something an earlier one set up. */
	for (i = set->count; i-- > 0;) {
		pa_plugin *pl = set->plugins[i];
		if (pl->initialised && pl->vt.fini)
			pl->vt.fini(pl->state);
		if (pl->dl)
			dlclose(pl->dl);
		/* Only now: while it was loaded, its /proc/self/fd name had to stay its own. */
		if (pl->fd >= 0)
			close(pl->fd);
		plugin_free(pl);
	}
	free(set->plugins);
	for (i = 0; i < set->skipped_count; i++) {
		free(set->skipped[i].file);
		free(set->skipped[i].reason);
	}
	free(set->skipped);
	memset(set, 0, sizeof(*set));
}
