/*
 * Plugin loader: discovery order, every refusal and its reason, ABI
 * compatibility, settings handed to init, and clean unloading. Each scenario
 * copies fixture plugins (tests/fixtures) into its own temporary directory.
 */
#include "config.h"
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "../support/pa_test.h"

/* ---- captured log events ---- */

typedef struct event {
	provauth_log_level level;
	char *name;
	char *text;                 /* " key=value" for every field */
} event;

static event events[256];
static size_t nevents;

static void capture(provauth_log_level level, const char *name, const provauth_log_field *fields,
                    size_t nfields, void *payload)
{
	char *text = NULL;
	size_t len = 0, i;
	FILE *f;

	PA_UNUSED(payload);
	if (nevents >= PA_ARRAY_LEN(events) || !(f = open_memstream(&text, &len)))
		return;
	for (i = 0; i < nfields; i++) {
		if (fields[i].type == PROVAUTH_FIELD_INT || fields[i].type == PROVAUTH_FIELD_BOOL)
			fprintf(f, " %s=%lld", fields[i].key, (long long)fields[i].num);
		else
			fprintf(f, " %s=%s", fields[i].key, fields[i].str ? fields[i].str : "(null)");
	}
	fclose(f);
	events[nevents].level = level;
	events[nevents].name = strdup(name);
	events[nevents].text = text;
	nevents++;
}

static void events_clear(void)
{
	size_t i;

	for (i = 0; i < nevents; i++) {
		free(events[i].name);
		free(events[i].text);
	}
	nevents = 0;
}

/* How many events called `name` carry every given fragment (NULL-terminated). */
static int events_matching(const char *name, const char *frag1, const char *frag2)
{
	size_t i;
	int n = 0;

	for (i = 0; i < nevents; i++)
		if (strcmp(events[i].name, name) == 0 &&
		    (!frag1 || strstr(events[i].text, frag1)) && (!frag2 || strstr(events[i].text, frag2)))
			n++;
	return n;
}

static pa_logger logger = { capture, NULL, PROVAUTH_LOG_DEBUG };
static pa_host_ctx host_ctx;
static provauth_host host;

/* ---- temporary plugin directories ---- */

static const char *fixture_dir;

static char *make_dir(void)
{
	char tmpl[] = "/tmp/pa-loader-XXXXXX";
	char *d = mkdtemp(tmpl);

	CU_ASSERT_FATAL(d != NULL);
	CU_ASSERT_FATAL(chmod(d, 0755) == 0);
	/* The loader reports resolved paths; resolve here too so they compare. */
	d = realpath(d, NULL);
	CU_ASSERT_FATAL(d != NULL);
	return d;
}

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	CU_ASSERT_FATAL(fd >= 0);
	CU_ASSERT_FATAL(write(fd, data, len) == (ssize_t)len);
	close(fd);
	CU_ASSERT_FATAL(chmod(path, 0644) == 0);
}

/* Copies fixture `name`.so into dir as `as` (NULL: same name). */
static void add_fixture(const char *dir, const char *name, const char *as)
{
	char src[PATH_MAX], dst[PATH_MAX], *buf;
	struct stat st;
	FILE *f;

	snprintf(src, sizeof(src), "%s/%s.so", fixture_dir, name);
	CU_ASSERT_FATAL(stat(src, &st) == 0);
	CU_ASSERT_FATAL((buf = malloc((size_t)st.st_size)) != NULL);
	CU_ASSERT_FATAL((f = fopen(src, "rb")) != NULL);
	CU_ASSERT_FATAL(fread(buf, 1, (size_t)st.st_size, f) == (size_t)st.st_size);
	fclose(f);
	if (as)
		snprintf(dst, sizeof(dst), "%s", as);
	else
		snprintf(dst, sizeof(dst), "%s.so", name);
	write_file(dir, dst, buf, (size_t)st.st_size);
	free(buf);
}

static void remove_dir(char *dir)
{
	struct dirent *e;
	char path[PATH_MAX];
	DIR *d = opendir(dir);

	if (d) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(dir);
	free(dir);
}

/* Settings with plugin_dir = the given directories, then `rest` verbatim. */
static provauth_settings *settings_for(const char *dir1, const char *dir2, const char *rest)
{
	provauth_settings *s = NULL;
	char *text;

	if (!dir1)
		text = pa_sprintf("plugin_dir: []\n");
	else
		text = pa_sprintf("plugin_dir:\n  - %s\n%s%s%s", dir1, dir2 ? "  - " : "",
		                  dir2 ? dir2 : "", dir2 ? "\n" : "");
	if (rest) {
		char *all = pa_sprintf("%s%s", text, rest);
		free(text);
		text = all;
	}
	CU_ASSERT_FATAL(text != NULL);
	if (provauth_settings_parse(&s, text, strlen(text), "test.yaml") < 0)
		fprintf(stderr, "settings: %s\n", provauth_last_error());
	free(text);
	CU_ASSERT_FATAL(s != NULL);
	return s;
}

static size_t count_from(const pa_plugin_set *set, const char *dir)
{
	size_t i, n = 0, len = strlen(dir);

	for (i = 0; i < set->count; i++)
		if (set->plugins[i]->file && strncmp(set->plugins[i]->file, dir, len) == 0)
			n++;
	return n;
}

static const pa_plugin_skip *skip_for(const pa_plugin_set *set, const char *dir, const char *file)
{
	char path[PATH_MAX];
	size_t i;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	for (i = 0; i < set->skipped_count; i++)
		if (strcmp(set->skipped[i].file, path) == 0)
			return &set->skipped[i];
	return NULL;
}

/* 1 when the shared object is still mapped in this process. */
static int still_loaded(const char *dir, const char *file)
{
	char path[PATH_MAX];
	void *h;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	h = dlopen(path, RTLD_NOW | RTLD_NOLOAD);
	if (!h)
		return 0;
	dlclose(h);
	return 1;
}

/* ---- tests ---- */

static void test_good_plugin_loads_with_its_settings(void)
{
	char *dir = make_dir(), path[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	pa_plugin *pl;

	add_fixture(dir, "good", NULL);
	s = settings_for(dir, NULL, "providers:\n  fixture:\n    greeting: bonjour\n");
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);

	CU_ASSERT_EQUAL(count_from(&set, dir), 1);
	CU_ASSERT_EQUAL(set.skipped_count, 0);
	pl = pa_plugins_find(&set, "fixture");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	snprintf(path, sizeof(path), "%s/good.so", dir);
	CU_ASSERT_STRING_EQUAL(pl->file, path);
	CU_ASSERT_PTR_NOT_NULL(pl->dl);
	CU_ASSERT_PTR_NOT_NULL(pl->state);
	CU_ASSERT(pl->initialised);
	CU_ASSERT_EQUAL(pl->vt.abi_minor, PROVAUTH_PLUGIN_ABI_MINOR);
	CU_ASSERT_PTR_NOT_NULL(pl->vt.refresh);
	CU_ASSERT_PTR_NULL(pl->vt.try_reauth);
	CU_ASSERT_EQUAL(pl->vt.operation_count, 2);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl->op_names);
	CU_ASSERT_STRING_EQUAL(pl->op_names[0], "greet");
	CU_ASSERT_STRING_EQUAL(pl->op_names[1], "count_args");
	CU_ASSERT_PTR_NULL(pl->op_names[2]);
	/* the declared import kinds are the plugin's own table, read through struct_size */
	CU_ASSERT_PTR_NOT_NULL(pl->vt.import);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl->vt.import_kinds);
	CU_ASSERT_STRING_EQUAL(pl->vt.import_kinds[0].name, "token");
	CU_ASSERT_STRING_EQUAL(pl->vt.import_kinds[1].name, "cookies");
	CU_ASSERT_PTR_NULL(pl->vt.import_kinds[2].name);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl->settings);
	CU_ASSERT_STRING_EQUAL(pl->settings->id, "fixture");
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "nonexistent"));

	/* init saw the providers.fixture block through the host table */
	CU_ASSERT_EQUAL(events_matching("fixture_init", " greeting=bonjour", NULL), 1);
	CU_ASSERT_EQUAL(events_matching("plugin_loaded", " provider=fixture", path), 1);
	{
		char abi[32];
		snprintf(abi, sizeof(abi), " abi=%d.%d", PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR);
		CU_ASSERT_EQUAL(events_matching("plugin_loaded", abi, NULL), 1);
	}

	/* an operation runs through the host's JSON services */
	{
		char *json = NULL;
		provauth_failure failure;
		memset(&failure, 0, sizeof(failure));
		CU_ASSERT_EQUAL(pl->vt.operations[0].run(pl->state, NULL, NULL, 0, &json, &failure), 0);
		CU_ASSERT_PTR_NOT_NULL(json);
		if (json)
			CU_ASSERT_PTR_NOT_NULL(strstr(json, "bonjour"));
		free(json);
	}

	CU_ASSERT(still_loaded(dir, "good.so"));
	pa_plugins_unload(&set);
	CU_ASSERT_EQUAL(events_matching("fixture_fini", NULL, NULL), 1);
	CU_ASSERT_EQUAL(set.count, 0);
	CU_ASSERT_PTR_NULL(set.plugins);
	CU_ASSERT_FALSE(still_loaded(dir, "good.so"));
	/* unloading twice is harmless */
	pa_plugins_unload(&set);

	provauth_settings_free(s);
	remove_dir(dir);
}

static void test_provider_without_block_gets_empty_settings(void)
{
	char *dir = make_dir();
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	pa_plugin *pl;

	add_fixture(dir, "good", NULL);
	s = settings_for(dir, NULL, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	pl = pa_plugins_find(&set, "fixture");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_PTR_NULL(pl->settings);
	/* the default from the fixture's own setting_string call */
	CU_ASSERT_EQUAL(events_matching("fixture_init", " greeting=hello", NULL), 1);
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

struct refusal {
	const char *fixture;    /* NULL: write `content` as the file instead */
	const char *file;
	const char *content;
	const char *words[3];
};

static void expect_refusal(const struct refusal *r)
{
	char *dir = make_dir(), path[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;
	size_t i;

	if (r->fixture)
		add_fixture(dir, r->fixture, r->file);
	else
		write_file(dir, r->file, r->content, strlen(r->content));
	snprintf(path, sizeof(path), "%s/%s", dir, r->file);
	s = settings_for(dir, NULL, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);

	CU_ASSERT_EQUAL(count_from(&set, dir), 0);
	sk = skip_for(&set, dir, r->file);
	CU_ASSERT_PTR_NOT_NULL(sk);
	if (sk) {
		CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, path));
		for (i = 0; i < PA_ARRAY_LEN(r->words) && r->words[i]; i++) {
			if (!strstr(sk->reason, r->words[i]))
				fprintf(stderr, "\n%s: reason \"%s\" lacks \"%s\"\n", r->file, sk->reason,
				        r->words[i]);
			CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, r->words[i]));
		}
	}
	CU_ASSERT_EQUAL(events_matching("plugin_skipped", path, r->words[0]), 1);
	CU_ASSERT_EQUAL(events_matching("plugin_loaded", NULL, NULL), 0);
	/* nothing of a refused plugin stays mapped */
	CU_ASSERT_FALSE(still_loaded(dir, r->file));

	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

static void test_each_broken_plugin_is_refused_with_its_reason(void)
{
	char newer[64], supported[64], future[64], rebuild[128];
	size_t i;

	snprintf(newer, sizeof(newer), "ABI %d.%d,", PROVAUTH_PLUGIN_ABI_MAJOR,
	         PROVAUTH_PLUGIN_ABI_MINOR + 1);
	snprintf(supported, sizeof(supported), "this host supports %d.0 to %d.%d",
	         PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR);
	snprintf(future, sizeof(future), "ABI %d.0,", PROVAUTH_PLUGIN_ABI_MAJOR + 1);
	snprintf(rebuild, sizeof(rebuild),
	         "abi_1x.so: plugin ABI 1.x is no longer supported; rebuild against provauth plugin ABI %d.%d",
	         PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR);
	{
		const struct refusal cases[] = {
			{ "no_entry", "no_entry.so", NULL,
			  { "no entry point provauth_plugin_init in", NULL } },
			{ "major_mismatch", "major_mismatch.so", NULL, { future, supported } },
			{ "abi_1x", "abi_1x.so", NULL, { rebuild, NULL } },
			{ "newer_minor", "newer_minor.so", NULL, { newer, supported } },
			{ "init_fails", "init_fails.so", NULL,
			  { "init failed", "fixture: greeting is required" } },
			{ "entry_fails", "entry_fails.so", NULL,
			  { "provauth_plugin_init failed", "entry_fails: this build is disabled" } },
			{ "no_desc", "no_desc.so", NULL, { "no provider description", NULL } },
			{ "bad_kinds", "bad_kinds.so", NULL,
			  { "provider 'bad_kinds' import kind #1 'Refresh Token' is not a valid name",
			    "[a-z0-9_-]{1,32}" } },
			{ NULL, "bad.so", "this is not an ELF file\n",
			  { "cannot load", "check its dependencies with ldd" } },
		};
		for (i = 0; i < PA_ARRAY_LEN(cases); i++)
			expect_refusal(&cases[i]);
	}
}

static void test_writable_directory_or_file_is_refused(void)
{
	char *dir = make_dir(), *dir2 = make_dir(), want[PATH_MAX + 64], path[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;

	add_fixture(dir, "good", NULL);
	CU_ASSERT_FATAL(chmod(dir, 0777) == 0);
	add_fixture(dir2, "older_minor", NULL);
	snprintf(path, sizeof(path), "%s/older_minor.so", dir2);
	CU_ASSERT_FATAL(chmod(path, 0664) == 0);

	s = settings_for(dir, dir2, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "fixture"));
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "older_minor"));

	sk = skip_for(&set, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "directory %s is writable by other users", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "good.so"));

	sk = skip_for(&set, dir2, "older_minor.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "file %s is writable by other users", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	CU_ASSERT_FALSE(still_loaded(dir, "good.so"));

	pa_plugins_unload(&set);
	provauth_settings_free(s);
	CU_ASSERT(chmod(dir, 0755) == 0);
	remove_dir(dir);
	remove_dir(dir2);
}

/* Only root can give a file away, so as another user this case cannot be staged. */
static void test_file_of_another_user_is_refused(void)
{
	char *dir, path[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;

	if (geteuid() != 0) {
		fprintf(stderr, "\n(not root: cannot chown a plugin to another user; case not run)\n");
		return;
	}
	dir = make_dir();
	add_fixture(dir, "good", NULL);
	snprintf(path, sizeof(path), "%s/good.so", dir);
	CU_ASSERT_FATAL(chown(path, 65534, 65534) == 0);
	s = settings_for(dir, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "fixture"));
	sk = skip_for(&set, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, path));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "owned by uid 65534"));
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

/* A symlink into a writable directory is judged by where the file really lives. */
static void test_symlink_into_writable_directory_is_refused(void)
{
	char *dir = make_dir(), *real_dir = make_dir(), target[PATH_MAX], link[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;

	add_fixture(real_dir, "good", NULL);
	CU_ASSERT_FATAL(chmod(real_dir, 0777) == 0);
	snprintf(target, sizeof(target), "%s/good.so", real_dir);
	snprintf(link, sizeof(link), "%s/good.so", dir);
	CU_ASSERT_FATAL(symlink(target, link) == 0);

	s = settings_for(dir, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "fixture"));
	sk = skip_for(&set, real_dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "writable by other users"));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, real_dir));

	pa_plugins_unload(&set);
	provauth_settings_free(s);
	CU_ASSERT(chmod(real_dir, 0755) == 0);
	remove_dir(dir);
	remove_dir(real_dir);
}

/* A directory made in `parent` (0755), resolved like make_dir's. */
static char *make_subdir(const char *parent, const char *name)
{
	char path[PATH_MAX], *d;

	snprintf(path, sizeof(path), "%s/%s", parent, name);
	CU_ASSERT_FATAL(mkdir(path, 0755) == 0);
	CU_ASSERT_FATAL(chmod(path, 0755) == 0);
	d = realpath(path, NULL);
	CU_ASSERT_FATAL(d != NULL);
	return d;
}

/* Loads `dir` alone and returns the skip of `file` in it, or NULL (the set is left loaded). */
static const pa_plugin_skip *load_expecting_skip(pa_plugin_set *set, provauth_settings **s, const char *dir,
                                                 const char *file)
{
	*s = settings_for(dir, NULL, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(set, *s, &host, &logger), 0);
	CU_ASSERT_EQUAL(count_from(set, dir), 0);
	CU_ASSERT_FALSE(still_loaded(dir, file));
	return skip_for(set, dir, file);
}

/*
 * Whoever owns the plugin directory can swap the files in it, so a
 * directory of another user is refused like a file of another user.
 */
static void test_directory_of_another_user_is_skipped(void)
{
	char *dir, want[PATH_MAX + 64];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;

	if (geteuid() != 0) {
		fprintf(stderr, "\n(not root: cannot chown a plugin directory to another user; case not run)\n");
		return;
	}
	dir = make_dir();
	add_fixture(dir, "good", NULL);
	CU_ASSERT_FATAL(chown(dir, 65534, 65534) == 0);
	sk = load_expecting_skip(&set, &s, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "directory %s is owned by uid 65534", dir);
	if (!strstr(sk->reason, want))
		fprintf(stderr, "\nreason \"%s\" lacks \"%s\"\n", sk->reason, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "good.so"));
	CU_ASSERT_EQUAL(events_matching("plugin_skipped", "good.so", want), 1);
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

/*
 * Anyone may rename the plugin directory away from under a world-writable
 * ancestor without the sticky bit and put their own in its place.
 */
static void test_world_writable_ancestor_is_skipped(void)
{
	char *top = make_dir(), *mid, *dir, want[PATH_MAX + 64];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;

	mid = make_subdir(top, "open");
	dir = make_subdir(mid, "plugins");
	add_fixture(dir, "good", NULL);
	CU_ASSERT_FATAL(chmod(mid, 0777) == 0);
	sk = load_expecting_skip(&set, &s, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "directory %s is writable by other users", mid);
	if (!strstr(sk->reason, want))
		fprintf(stderr, "\nreason \"%s\" lacks \"%s\"\n", sk->reason, want);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	/* the message says whose it is */
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "owner uid"));
	pa_plugins_unload(&set);
	provauth_settings_free(s);

	/* group-writable is as bad */
	CU_ASSERT_FATAL(chmod(mid, 0775) == 0);
	sk = load_expecting_skip(&set, &s, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL(sk);
	pa_plugins_unload(&set);
	provauth_settings_free(s);

	/* sticky and ours (or root's, like /tmp): others cannot rename what is not theirs */
	CU_ASSERT_FATAL(chmod(mid, 01777) == 0);
	s = settings_for(dir, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NOT_NULL(pa_plugins_find(&set, "fixture"));
	CU_ASSERT_EQUAL(set.skipped_count, 0);
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	/* ... but sticky is no excuse for a directory of another user's */
	if (geteuid() == 0) {
		CU_ASSERT_FATAL(chown(mid, 65534, 65534) == 0);
		sk = load_expecting_skip(&set, &s, dir, "good.so");
		CU_ASSERT_PTR_NOT_NULL(sk);
		pa_plugins_unload(&set);
		provauth_settings_free(s);
	}
	CU_ASSERT(chmod(mid, 0755) == 0);
	pa_test_rmtree(top);
	free(top);
	free(mid);
	free(dir);
}

/* Group-writable alone (no "other" bit) is enough to refuse a file. */
static void test_group_writable_file_is_refused(void)
{
	char *dir = make_dir(), path[PATH_MAX], want[PATH_MAX + 64];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;

	add_fixture(dir, "good", NULL);
	snprintf(path, sizeof(path), "%s/good.so", dir);
	CU_ASSERT_FATAL(chmod(path, 0620) == 0);
	sk = load_expecting_skip(&set, &s, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "file %s is writable by other users", path);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

/*
 * A symlinked plugin file is resolved once, and the file it leads to is
 * judged with every directory above it: a link into a safe place loads (the
 * reason names the real file), one below a world-writable ancestor does not.
 */
static void test_symlinked_file_is_resolved_safely(void)
{
	char *dir = make_dir(), *top = make_dir(), *mid, *real_dir, target[PATH_MAX], link[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;
	pa_plugin *pl;

	mid = make_subdir(top, "open");
	real_dir = make_subdir(mid, "real");
	add_fixture(real_dir, "good", NULL);
	snprintf(target, sizeof(target), "%s/good.so", real_dir);
	snprintf(link, sizeof(link), "%s/good.so", dir);
	CU_ASSERT_FATAL(symlink(target, link) == 0);

	s = settings_for(dir, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	pl = pa_plugins_find(&set, "fixture");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_STRING_EQUAL(pl->file, target);
	pa_plugins_unload(&set);
	provauth_settings_free(s);

	CU_ASSERT_FATAL(chmod(mid, 0777) == 0);
	s = settings_for(dir, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "fixture"));
	sk = skip_for(&set, real_dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, mid));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "writable by other users"));
	pa_plugins_unload(&set);
	provauth_settings_free(s);

	CU_ASSERT(chmod(mid, 0755) == 0);
	remove_dir(dir);
	pa_test_rmtree(top);
	free(top);
	free(mid);
	free(real_dir);
}

/* ---- the file checked is the file loaded ---- */

static char swap_src[PATH_MAX];
static int swaps;

/* Plays the attacker: replaces the checked file by another before it is loaded. */
static void swap_after_check(const char *path)
{
	if (swap_src[0] && rename(swap_src, path) == 0)
		swaps++;
}

static void test_file_swapped_after_check_is_not_loaded(void)
{
	char *dir = make_dir(), *other = make_dir(), path[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	pa_plugin *pl;

	add_fixture(dir, "good", NULL);
	/* what the attacker has ready: another plugin, on the same filesystem */
	add_fixture(other, "older_minor", "planted.so");
	snprintf(swap_src, sizeof(swap_src), "%s/planted.so", other);
	snprintf(path, sizeof(path), "%s/good.so", dir);
	swaps = 0;
	pa_plugin_checked_hook = swap_after_check;

	s = settings_for(dir, NULL, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	pa_plugin_checked_hook = NULL;
	swap_src[0] = '\0';
	CU_ASSERT_EQUAL(swaps, 1);
	/* the file that was checked ran, under the name it was found by */
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "older_minor"));
	pl = pa_plugins_find(&set, "fixture");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_STRING_EQUAL(pl->file, path);
	CU_ASSERT_EQUAL(events_matching("plugin_loaded", " provider=fixture", path), 1);
	/* the planted file now at that path was never mapped */
	CU_ASSERT_FALSE(still_loaded(dir, "good.so"));

	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
	remove_dir(other);
}

static void test_loading_continues_past_failures(void)
{
	static const char *const broken[] = {
		"no_entry", "major_mismatch", "newer_minor", "init_fails", "entry_fails", "no_desc", "bad_kinds",
		"abi_1x",
	};
	char *dir = make_dir();
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(broken); i++)
		add_fixture(dir, broken[i], NULL);
	add_fixture(dir, "good", NULL);
	add_fixture(dir, "older_minor", NULL);
	/* named to sort after good.so, so good.so is the one that loads */
	add_fixture(dir, "dup_id", "zz_dup_id.so");
	write_file(dir, "bad.so", "not ELF", 7);
	/* neither .so nor visible: never opened */
	write_file(dir, "README", "x", 1);
	write_file(dir, ".hidden.so", "x", 1);

	s = settings_for(dir, NULL, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);

	CU_ASSERT_EQUAL(count_from(&set, dir), 2);
	CU_ASSERT_PTR_NOT_NULL(pa_plugins_find(&set, "fixture"));
	CU_ASSERT_PTR_NOT_NULL(pa_plugins_find(&set, "older_minor"));
	CU_ASSERT_EQUAL(set.skipped_count, PA_ARRAY_LEN(broken) + 2);
	for (i = 0; i < PA_ARRAY_LEN(broken); i++) {
		char name[64];
		snprintf(name, sizeof(name), "%s.so", broken[i]);
		CU_ASSERT_PTR_NOT_NULL(skip_for(&set, dir, name));
	}
	CU_ASSERT_PTR_NOT_NULL(skip_for(&set, dir, "bad.so"));
	CU_ASSERT_PTR_NULL(skip_for(&set, dir, "README"));
	CU_ASSERT_PTR_NULL(skip_for(&set, dir, ".hidden.so"));
	sk = skip_for(&set, dir, "zz_dup_id.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "provider 'fixture' already loaded from"));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "/good.so"));
	CU_ASSERT_EQUAL(events_matching("plugin_skipped", NULL, NULL), (int)set.skipped_count);
	CU_ASSERT_EQUAL(events_matching("plugin_loaded", NULL, NULL), 2);

	pa_plugins_unload(&set);
	CU_ASSERT_EQUAL(set.skipped_count, 0);
	CU_ASSERT_PTR_NULL(set.skipped);
	provauth_settings_free(s);
	remove_dir(dir);
}

/*
 * With trial on (provauth plugins, config check), each file is loaded in a
 * child process first: one that crashes in its entry point or its init is
 * skipped with the file and the step named, is never loaded into this
 * process, and the others load as usual. Every call into a plugin is
 * logged (debug) first, naming the file.
 */
static void test_crashing_plugins_are_tried_in_a_child(void)
{
	char *dir = make_dir();
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;
	char want[PATH_MAX + 64];

	add_fixture(dir, "good", NULL);
	add_fixture(dir, "crash_init", NULL);
	add_fixture(dir, "crash_entry", NULL);
	add_fixture(dir, "init_fails", NULL);
	s = settings_for(dir, NULL, "providers:\n  fixture:\n    greeting: hi\n");
	events_clear();
	set.trial = 1;
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NOT_NULL(pa_plugins_find(&set, "fixture"));
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "crash_init"));
	CU_ASSERT_EQUAL(set.count, 1);
	CU_ASSERT_EQUAL(set.skipped_count, 3);

	sk = skip_for(&set, dir, "crash_init.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	/* A sanitizer turns the SIGSEGV into an exit status: the step is what is always there. */
	snprintf(want, sizeof(want), "%s/crash_init.so crashed in init (", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	sk = skip_for(&set, dir, "crash_entry.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "%s/crash_entry.so crashed in its entry point (signal 6)", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	sk = skip_for(&set, dir, "init_fails.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "init failed"));
	CU_ASSERT_FALSE(still_loaded(dir, "crash_init.so"));
	CU_ASSERT_FALSE(still_loaded(dir, "crash_entry.so"));

	snprintf(want, sizeof(want), "file=%s/good.so", dir);
	CU_ASSERT_EQUAL(events_matching("plugin_calling", want, "call=entry point"), 1);
	CU_ASSERT_EQUAL(events_matching("plugin_calling", want, "call=init"), 1);
	CU_ASSERT_EQUAL(events_matching("plugin_skipped", "crash_init.so crashed in init", NULL), 1);
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

/* Within one directory files load in byte order: dup_id.so comes before good.so. */
static void test_files_load_in_sorted_order(void)
{
	char *dir = make_dir(), want[PATH_MAX + 64];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;
	pa_plugin *pl;

	add_fixture(dir, "good", NULL);
	add_fixture(dir, "dup_id", NULL);
	s = settings_for(dir, NULL, NULL);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	pl = pa_plugins_find(&set, "fixture");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_STRING_EQUAL(pl->vt.description, "duplicate of the good fixture");
	sk = skip_for(&set, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "provider 'fixture' already loaded from %s/dup_id.so", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

/* plugin_dir entries come before PROVAUTH_PLUGIN_PATH, whatever the file names. */
static void test_settings_dirs_come_before_environment(void)
{
	char *conf = make_dir(), *envd = make_dir(), *envpath, want[PATH_MAX + 64];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;
	pa_plugin *pl;

	add_fixture(conf, "good", NULL);
	add_fixture(envd, "dup_id", NULL);
	/* an empty element and a missing directory in the list are stepped over */
	envpath = pa_sprintf("::%s/missing:%s", envd, envd);
	CU_ASSERT_FATAL(envpath != NULL);
	setenv("PROVAUTH_PLUGIN_PATH", envpath, 1);

	s = settings_for(conf, NULL, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	pl = pa_plugins_find(&set, "fixture");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_PTR_NOT_NULL(strstr(pl->file, conf));
	sk = skip_for(&set, envd, "dup_id.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(want, sizeof(want), "provider 'fixture' already loaded from %s/good.so", conf);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, want));
	/* a missing directory from the environment is worth a warning */
	CU_ASSERT_EQUAL(events_matching("plugin_dir_missing", "/missing", "PROVAUTH_PLUGIN_PATH"), 1);
	pa_plugins_unload(&set);
	provauth_settings_free(s);

	/* and the other way round: the order is the source's, not the names' */
	s = settings_for(envd, NULL, NULL);
	setenv("PROVAUTH_PLUGIN_PATH", conf, 1);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	pl = pa_plugins_find(&set, "fixture");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_PTR_NOT_NULL(strstr(pl->file, envd));
	CU_ASSERT_PTR_NOT_NULL(skip_for(&set, conf, "good.so"));
	pa_plugins_unload(&set);
	provauth_settings_free(s);

	unsetenv("PROVAUTH_PLUGIN_PATH");
	free(envpath);
	remove_dir(conf);
	remove_dir(envd);
}

/*
 * A plugin planted in a stand-in for the built-in directory: make check's
 * environment (PROVAUTH_NO_BUILTIN_PLUGINS) keeps it out, so that a copy of
 * provauth installed into the build's prefix never joins the suite; without
 * the variable, or with "0" or "", it loads.
 */
static void test_builtin_dir_is_left_out_under_make_check(void)
{
	char *builtin = make_dir();
	const char *env = getenv("PROVAUTH_NO_BUILTIN_PLUGINS");
	char *saved = env ? strdup(env) : NULL;
	provauth_settings *s;
	pa_plugin_set set = { 0 };

	add_fixture(builtin, "good", NULL);
	s = settings_for(NULL, NULL, NULL);

	/* the environment the suite runs in */
	CU_ASSERT_PTR_NOT_NULL_FATAL(saved);
	CU_ASSERT_STRING_EQUAL(saved, "1");
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load_from(&set, s, &host, &logger, builtin), 0);
	CU_ASSERT_EQUAL(set.count, 0);
	CU_ASSERT_EQUAL(set.skipped_count, 0);
	CU_ASSERT_EQUAL(events_matching("fixture_init", NULL, NULL), 0);
	CU_ASSERT_FALSE(still_loaded(builtin, "good.so"));
	pa_plugins_unload(&set);

	/* the same directory is scanned when the variable is absent, "0" or empty */
	{
		const char *values[] = { NULL, "0", "" };
		size_t i;

		for (i = 0; i < PA_ARRAY_LEN(values); i++) {
			if (values[i])
				setenv("PROVAUTH_NO_BUILTIN_PLUGINS", values[i], 1);
			else
				unsetenv("PROVAUTH_NO_BUILTIN_PLUGINS");
			events_clear();
			CU_ASSERT_EQUAL_FATAL(pa_plugins_load_from(&set, s, &host, &logger, builtin), 0);
			CU_ASSERT_EQUAL(count_from(&set, builtin), 1);
			CU_ASSERT_EQUAL(events_matching("plugin_loaded", " provider=fixture", builtin), 1);
			pa_plugins_unload(&set);
		}
	}
	/* any other value turns it off */
	setenv("PROVAUTH_NO_BUILTIN_PLUGINS", "yes", 1);
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load_from(&set, s, &host, &logger, builtin), 0);
	CU_ASSERT_EQUAL(set.count, 0);
	pa_plugins_unload(&set);

	if (saved)
		setenv("PROVAUTH_NO_BUILTIN_PLUGINS", saved, 1);
	else
		unsetenv("PROVAUTH_NO_BUILTIN_PLUGINS");
	free(saved);
	provauth_settings_free(s);
	remove_dir(builtin);
}

static void test_same_file_twice_loads_once(void)
{
	char *dir = make_dir(), *other = make_dir(), target[PATH_MAX], link[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };

	add_fixture(dir, "good", NULL);
	snprintf(target, sizeof(target), "%s/good.so", dir);
	snprintf(link, sizeof(link), "%s/alias.so", other);
	CU_ASSERT_FATAL(symlink(target, link) == 0);
	setenv("PROVAUTH_PLUGIN_PATH", dir, 1);

	/* reached through the settings, the environment and a symlink */
	s = settings_for(dir, other, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_EQUAL(set.count, 1);
	CU_ASSERT_EQUAL(set.skipped_count, 0);
	CU_ASSERT_EQUAL(events_matching("fixture_init", NULL, NULL), 1);
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	unsetenv("PROVAUTH_PLUGIN_PATH");
	remove_dir(dir);
	remove_dir(other);
}

static void test_missing_configured_directory_warns(void)
{
	char *dir = make_dir(), missing[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };

	snprintf(missing, sizeof(missing), "%s/nope", dir);
	s = settings_for(missing, dir, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_EQUAL(set.skipped_count, 0);
	CU_ASSERT_EQUAL(events_matching("plugin_dir_missing", missing, " source=settings"), 1);
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

static void test_older_minor_loads_without_operations(void)
{
	char *dir = make_dir();
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	pa_plugin *pl;

	add_fixture(dir, "older_minor", NULL);
	s = settings_for(dir, NULL, NULL);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	pl = pa_plugins_find(&set, "older_minor");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_EQUAL(pl->vt.abi_minor, 0);
	/* the fixture's table lies past its struct_size: it must not be seen */
	CU_ASSERT_PTR_NULL(pl->vt.operations);
	CU_ASSERT_EQUAL(pl->vt.operation_count, 0);
	CU_ASSERT_FALSE(PROVAUTH_PROVIDER_HAS(&pl->vt, operations));
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl->op_names);
	CU_ASSERT_PTR_NULL(pl->op_names[0]);
	CU_ASSERT_STRING_EQUAL(pl->vt.description, "short struct fixture");
	{
		char abi[32];
		snprintf(abi, sizeof(abi), " abi=%d.0", PROVAUTH_PLUGIN_ABI_MAJOR);
		CU_ASSERT_EQUAL(events_matching("plugin_loaded", " provider=older_minor", abi), 1);
	}
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

/*
 * A plugin that checks its host's services loads, and the host table's
 * size tells it which services it may call: a table cut short, as an
 * older host of the same major hands out, lacks the services past the cut.
 */
static void test_host_table_size_tells_the_services(void)
{
	char *dir = make_dir(), abi[32];
	provauth_settings *s;
	pa_plugin_set set = { 0 }, set_old = { 0 };
	provauth_host older = host;
	pa_plugin *pl;

	add_fixture(dir, "host_sizes", NULL);
	s = settings_for(dir, NULL, "providers:\n  host_sizes:\n    payload: '[1, 2]'\n");
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_EQUAL(set.skipped_count, 0);
	pl = pa_plugins_find(&set, "host_sizes");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT(pl->initialised);
	CU_ASSERT_EQUAL(pl->vt.abi_minor, PROVAUTH_PLUGIN_ABI_MINOR);
	snprintf(abi, sizeof(abi), " abi=%d.%d", PROVAUTH_PLUGIN_ABI_MAJOR, PROVAUTH_PLUGIN_ABI_MINOR);
	CU_ASSERT_EQUAL(events_matching("plugin_loaded", " provider=host_sizes", abi), 1);
	CU_ASSERT_EQUAL(events_matching("fixture_host_sizes_init", " has_last_error=1", " has_setting_error=1"), 1);
	pa_plugins_unload(&set);

	/* This host's table has both; a table cut where last_error begins has neither. */
	CU_ASSERT(PROVAUTH_HOST_HAS(&host, last_error));
	CU_ASSERT(PROVAUTH_HOST_HAS(&host, setting_error));
	older.abi_minor = 7;
	older.size = offsetof(provauth_host, last_error);
	CU_ASSERT(PROVAUTH_HOST_HAS(&older, json_valid));
	CU_ASSERT_FALSE(PROVAUTH_HOST_HAS(&older, last_error));
	CU_ASSERT_FALSE(PROVAUTH_HOST_HAS(&older, setting_error));
	older.size = offsetof(provauth_host, setting_error);
	CU_ASSERT(PROVAUTH_HOST_HAS(&older, last_error));
	CU_ASSERT_FALSE(PROVAUTH_HOST_HAS(&older, setting_error));

	/* The plugin, handed the cut table, sees the same and still loads. */
	older.size = offsetof(provauth_host, last_error);
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set_old, s, &older, &logger), 0);
	CU_ASSERT_PTR_NOT_NULL(pa_plugins_find(&set_old, "host_sizes"));
	CU_ASSERT_EQUAL(events_matching("fixture_host_sizes_init", " host_minor=7", " has_last_error=0"), 1);
	CU_ASSERT_EQUAL(events_matching("fixture_host_sizes_init", " has_setting_error=0", NULL), 1);
	pa_plugins_unload(&set_old);

	/* Its own check (json_valid) still refuses a bad value. */
	provauth_settings_free(s);
	s = settings_for(dir, NULL, "providers:\n  host_sizes:\n    payload: '[1,'\n");
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "host_sizes"));
	CU_ASSERT_EQUAL_FATAL(set.skipped_count, 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(set.skipped[0].reason, "providers.host_sizes.payload: not JSON"));
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

static void test_unknown_settings_key_refuses_the_plugin(void)
{
	char *dir = make_dir(), path[PATH_MAX];
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	const pa_plugin_skip *sk;

	add_fixture(dir, "good", NULL);
	s = settings_for(dir, NULL,
	                 "providers:\n  fixture:\n    greeting: hi\n    reauth_cooldown: 60\n"
	                 "    colour: blue\n");
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_load(&set, s, &host, &logger), 0);
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "fixture"));
	sk = skip_for(&set, dir, "good.so");
	CU_ASSERT_PTR_NOT_NULL_FATAL(sk);
	snprintf(path, sizeof(path), "%s/good.so", dir);
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, path));
	/* the offending key is named, with where it is in the file */
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "colour"));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "unknown"));
	CU_ASSERT_PTR_NOT_NULL(strstr(sk->reason, "test.yaml:"));
	/* refused before init */
	CU_ASSERT_EQUAL(events_matching("fixture_init", NULL, NULL), 0);
	CU_ASSERT_FALSE(still_loaded(dir, "good.so"));
	pa_plugins_unload(&set);
	provauth_settings_free(s);
	remove_dir(dir);
}

/* ---- in-process providers and pa_provider_check ---- */

static int fake_build(void *state, const provauth_account *a, provauth_session *sess,
                      provauth_update *u)
{
	PA_UNUSED(state); PA_UNUSED(a); PA_UNUSED(sess); PA_UNUSED(u);
	return 0;
}

static int fake_classify(void *state, const provauth_failure *f, provauth_outcome *o)
{
	PA_UNUSED(state); PA_UNUSED(f); PA_UNUSED(o);
	return 0;
}

static int fake_inits, fake_finis;
static const provauth_setting *fake_node;

static int fake_init(void **state, const provauth_host *h, const provauth_setting *node)
{
	PA_UNUSED(h);
	fake_inits++;
	fake_node = node;
	*state = &fake_inits;
	return 0;
}

static void fake_fini(void *state)
{
	CU_ASSERT_PTR_EQUAL(state, &fake_inits);
	fake_finis++;
}

static int fake_op(void *state, const provauth_session *sess, const provauth_op_arg *args,
                   size_t nargs, char **out, provauth_failure *f)
{
	PA_UNUSED(state); PA_UNUSED(sess); PA_UNUSED(args); PA_UNUSED(nargs); PA_UNUSED(out);
	PA_UNUSED(f);
	return 0;
}

static int fake_import(void *state, const char *kind, const char *input, const provauth_account *existing,
                       provauth_update *u)
{
	PA_UNUSED(state); PA_UNUSED(kind); PA_UNUSED(input); PA_UNUSED(existing); PA_UNUSED(u);
	return 0;
}

static provauth_provider fake_provider(const char *id)
{
	provauth_provider p;

	memset(&p, 0, sizeof(p));
	p.abi_major = PROVAUTH_PLUGIN_ABI_MAJOR;
	p.abi_minor = PROVAUTH_PLUGIN_ABI_MINOR;
	p.struct_size = sizeof(p);
	p.id = id;
	p.build_session = fake_build;
	p.classify_error = fake_classify;
	return p;
}

static void expect_check_error(const provauth_provider *p, const char *file, const char *words)
{
	CU_ASSERT_EQUAL(pa_provider_check(p, file), PROVAUTH_EPLUGIN);
	if (file)
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), file));
	if (!strstr(provauth_last_error(), words))
		fprintf(stderr, "\nerror \"%s\" lacks \"%s\"\n", provauth_last_error(), words);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), words));
}

static void test_provider_check(void)
{
	static const provauth_operation unnamed_op[] = { { NULL, NULL, fake_op } };
	static const provauth_import_kind kinds[] = { { "cookies", "c" }, { "refresh_token", NULL }, { NULL, NULL } };
	static const provauth_import_kind dup_kinds[] = {
		{ "cookies", "c" }, { "token", "t" }, { "cookies", "again" }, { NULL, NULL },
	};
	static const provauth_import_kind long_kind[] = {
		{ "abcdefghijklmnopqrstuvwxyz0123456", NULL }, { NULL, NULL },
	};
	static const provauth_import_kind empty_name[] = { { "", "nameless" }, { NULL, NULL } };
	static const provauth_import_kind no_kinds[] = { { NULL, NULL } };
	provauth_provider p;
	char size_1_0[64];

	p = fake_provider("ok_id-9");
	CU_ASSERT_EQUAL(pa_provider_check(&p, "/x/a.so"), 0);
	p = fake_provider("abcdefghijklmnopqrstuvwxyz012345");  /* exactly 32 */
	CU_ASSERT_EQUAL(pa_provider_check(&p, "/x/a.so"), 0);

	expect_check_error(NULL, "/x/a.so", "no provider description");

	p = fake_provider("a");
	p.abi_major = 0;
	expect_check_error(&p, "/x/a.so", "ABI 0.");
	p = fake_provider("a");
	p.abi_major = 1;
	p.abi_minor = 0;
	expect_check_error(&p, "/x/a.so", "/x/a.so: plugin ABI 1.x is no longer supported; rebuild against provauth plugin ABI 2.");

	p = fake_provider("a");
	p.struct_size = offsetof(provauth_provider, reserved_1_0);
	snprintf(size_1_0, sizeof(size_1_0), "(%zu bytes)", offsetof(provauth_provider, operations));
	expect_check_error(&p, "/x/a.so", size_1_0);

	p = fake_provider(NULL);
	expect_check_error(&p, "/x/a.so", "no id");
	p = fake_provider("Upper");
	expect_check_error(&p, "/x/a.so", "invalid provider id 'Upper'");
	p = fake_provider("");
	expect_check_error(&p, "/x/a.so", "invalid provider id ''");
	p = fake_provider("a b");
	expect_check_error(&p, "/x/a.so", "invalid provider id");
	p = fake_provider("dots.are.out");
	expect_check_error(&p, "/x/a.so", "invalid provider id");
	p = fake_provider("abcdefghijklmnopqrstuvwxyz0123456");  /* 33 */
	expect_check_error(&p, "/x/a.so", "invalid provider id");

	p = fake_provider("a");
	p.build_session = NULL;
	expect_check_error(&p, "/x/a.so", "build_session");
	p = fake_provider("a");
	p.classify_error = NULL;
	expect_check_error(&p, "/x/a.so", "classify_error");

	p = fake_provider("a");
	p.operation_count = 3;
	expect_check_error(&p, "/x/a.so", "declares 3 operations but no table");
	p = fake_provider("a");
	p.operations = unnamed_op;
	p.operation_count = 1;
	expect_check_error(&p, "/x/a.so", "operation #0");

	/* import kinds: named, unique, and only with an import to hand them to */
	p = fake_provider("a");
	p.import = fake_import;
	p.import_kinds = kinds;
	CU_ASSERT_EQUAL(pa_provider_check(&p, "/x/a.so"), 0);
	p.import_kinds = NULL;                  /* undeclared: any kind goes to import */
	CU_ASSERT_EQUAL(pa_provider_check(&p, "/x/a.so"), 0);
	p.import_kinds = dup_kinds;
	expect_check_error(&p, "/x/a.so", "provider 'a' declares import kind 'cookies' twice (#0 and #2)");
	p.import_kinds = long_kind;
	expect_check_error(&p, "/x/a.so", "import kind #0 'abcdefghijklmnopqrstuvwxyz0123456' is not a valid name");
	p.import_kinds = empty_name;
	expect_check_error(&p, "/x/a.so", "import kind #0 '' is not a valid name");
	p.import_kinds = no_kinds;
	expect_check_error(&p, "/x/a.so", "has an import function but declares an empty import_kinds table");
	p.import = NULL;
	p.import_kinds = kinds;
	expect_check_error(&p, "/x/a.so", "provider 'a' declares import kinds (cookies...) but no import function");
	/* no import and nothing to import: consistent */
	p.import_kinds = no_kinds;
	CU_ASSERT_EQUAL(pa_provider_check(&p, "/x/a.so"), 0);
	/* a table past struct_size (a plugin built before 1.3 had it) is never read */
	p.import_kinds = dup_kinds;
	p.struct_size = offsetof(provauth_provider, import_kinds);
	CU_ASSERT_EQUAL(pa_provider_check(&p, "/x/a.so"), 0);

	/* without a file the message still says what it is about */
	p = fake_provider("a");
	p.classify_error = NULL;
	expect_check_error(&p, NULL, "in-process provider");
}

static void test_add_in_process_provider(void)
{
	static const provauth_operation ops[] = { { "one", "first", fake_op } };
	provauth_settings *s;
	pa_plugin_set set = { 0 };
	provauth_provider p, dup;
	pa_plugin *pl;

	s = settings_for(NULL, NULL, "providers:\n  inproc:\n    auto_reauth_enabled: true\n");
	p = fake_provider("inproc");
	p.init = fake_init;
	p.fini = fake_fini;
	p.operations = ops;
	p.operation_count = 1;
	fake_inits = fake_finis = 0;
	events_clear();
	CU_ASSERT_EQUAL_FATAL(pa_plugins_add(&set, &p, NULL, s, &host, &logger), 0);
	CU_ASSERT_EQUAL(fake_inits, 1);
	pl = pa_plugins_find(&set, "inproc");
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl);
	CU_ASSERT_PTR_NULL(pl->file);
	CU_ASSERT_PTR_NULL(pl->dl);
	CU_ASSERT_PTR_NOT_NULL_FATAL(pl->settings);
	CU_ASSERT(pl->settings->auto_reauth_enabled);
	CU_ASSERT_PTR_EQUAL(fake_node, pl->settings->node);
	CU_ASSERT_STRING_EQUAL(pl->op_names[0], "one");
	CU_ASSERT_EQUAL(events_matching("plugin_loaded", " provider=inproc", NULL), 1);

	/* a second provider with that id is refused and not initialised */
	dup = fake_provider("inproc");
	dup.init = fake_init;
	CU_ASSERT_EQUAL(pa_plugins_add(&set, &dup, "/x/dup.so", s, &host, &logger), PROVAUTH_EPLUGIN);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(),
	                              "/x/dup.so: provider 'inproc' already loaded from in-process provider"));
	CU_ASSERT_EQUAL(fake_inits, 1);
	CU_ASSERT_EQUAL(set.count, 1);

	/* a provider the settings do not mention gets the empty block */
	p = fake_provider("other");
	p.init = fake_init;
	CU_ASSERT_EQUAL(pa_plugins_add(&set, &p, NULL, s, &host, &logger), 0);
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, "other")->settings);
	CU_ASSERT_PTR_EQUAL(fake_node, pa_plugins_find(&set, "other")->empty_settings);
	/* ... whose messages name the provider, as a block in the file would */
	CU_ASSERT_EQUAL(host.setting_error(&host, fake_node, "base_url", "required"), PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "providers.other.base_url: required"));

	/* a failing check is returned, not recorded as a skipped file */
	p = fake_provider("Bad");
	CU_ASSERT_EQUAL(pa_plugins_add(&set, &p, NULL, s, &host, &logger), PROVAUTH_EPLUGIN);
	CU_ASSERT_EQUAL(set.skipped_count, 0);

	pa_plugins_unload(&set);
	CU_ASSERT_EQUAL(fake_finis, 1);     /* "other" has no fini */
	provauth_settings_free(s);
}

static int failing_init(void **state, const provauth_host *h, const provauth_setting *node)
{
	PA_UNUSED(state); PA_UNUSED(node);
	return h->set_error(h, PROVAUTH_ECONFIG, "inproc: api_base must be https");
}

static void test_add_reports_init_failure(void)
{
	provauth_settings *s = settings_for(NULL, NULL, NULL);
	pa_plugin_set set = { 0 };
	provauth_provider p = fake_provider("inproc");

	p.init = failing_init;
	fake_finis = 0;
	p.fini = fake_fini;
	CU_ASSERT_EQUAL(pa_plugins_add(&set, &p, NULL, s, &host, &logger), PROVAUTH_ECONFIG);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "init failed"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "inproc: api_base must be https"));
	CU_ASSERT_EQUAL(set.count, 0);
	pa_plugins_unload(&set);
	/* a provider whose init failed is never finalised */
	CU_ASSERT_EQUAL(fake_finis, 0);
	provauth_settings_free(s);
}

static void test_bad_arguments(void)
{
	provauth_settings *s = settings_for(NULL, NULL, NULL);
	pa_plugin_set set = { 0 };

	CU_ASSERT_EQUAL(pa_plugins_load(NULL, s, &host, &logger), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_plugins_load(&set, NULL, &host, &logger), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_plugins_add(&set, NULL, NULL, s, &host, &logger), PROVAUTH_EPLUGIN);
	CU_ASSERT_PTR_NULL(pa_plugins_find(NULL, "x"));
	CU_ASSERT_PTR_NULL(pa_plugins_find(&set, NULL));
	pa_plugins_unload(NULL);
	provauth_settings_free(s);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "good plugin loads with its settings", test_good_plugin_loads_with_its_settings },
		{ "provider without block gets empty settings", test_provider_without_block_gets_empty_settings },
		{ "each broken plugin is refused with its reason", test_each_broken_plugin_is_refused_with_its_reason },
		{ "writable directory or file is refused", test_writable_directory_or_file_is_refused },
		{ "file of another user is refused", test_file_of_another_user_is_refused },
		{ "symlink into writable directory is refused", test_symlink_into_writable_directory_is_refused },
		{ "directory of another user is skipped", test_directory_of_another_user_is_skipped },
		{ "world-writable ancestor is skipped", test_world_writable_ancestor_is_skipped },
		{ "group-writable file is refused", test_group_writable_file_is_refused },
		{ "symlinked file is resolved safely", test_symlinked_file_is_resolved_safely },
		{ "file swapped after check is not loaded", test_file_swapped_after_check_is_not_loaded },
		{ "loading continues past failures", test_loading_continues_past_failures },
		{ "crashing plugins are tried in a child", test_crashing_plugins_are_tried_in_a_child },
		{ "files load in sorted order", test_files_load_in_sorted_order },
		{ "settings dirs come before environment", test_settings_dirs_come_before_environment },
		{ "built-in dir is left out under make check", test_builtin_dir_is_left_out_under_make_check },
		{ "same file twice loads once", test_same_file_twice_loads_once },
		{ "missing configured directory warns", test_missing_configured_directory_warns },
		{ "older minor loads without operations", test_older_minor_loads_without_operations },
		{ "host table size tells a plugin the services", test_host_table_size_tells_the_services },
		{ "unknown settings key refuses the plugin", test_unknown_settings_key_refuses_the_plugin },
		{ "provider check", test_provider_check },
		{ "add in-process provider", test_add_in_process_provider },
		{ "add reports init failure", test_add_reports_init_failure },
		{ "bad arguments", test_bad_arguments },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "plugin_loader", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};
	int rc;

	fixture_dir = getenv("PA_FIXTURE_DIR");
	if (!fixture_dir) {
		fprintf(stderr, "PA_FIXTURE_DIR is not set (run through make check)\n");
		return 1;
	}
	/* Only the directories each test names may be scanned. */
	unsetenv("PROVAUTH_PLUGIN_PATH");
	host_ctx.logger = &logger;
	pa_host_init(&host, &host_ctx);
	rc = pa_test_run(argc, argv, suites);
	events_clear();
	return rc;
}
