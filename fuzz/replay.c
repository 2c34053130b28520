/*
 * A main() for a fuzz target without libFuzzer: runs the target once over
 * each file named on the command line, or over every file of
 * $PA_SRCDIR/fuzz/corpus/<target> when none is. This is how the corpora
 * (and their regress-* inputs) run under make check in every build.
 */
#include "config.h"
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *fp = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!fp) {
		fprintf(stderr, "%s: cannot open\n", path);
		return -1;
	}
	do {
		if (cap - len < 4096) {
			unsigned char *grown = realloc(buf, cap = cap * 2 + 4096);
			if (!grown) {
				fclose(fp);
				free(buf);
				return -1;
			}
			buf = grown;
		}
		n = fread(buf + len, 1, cap - len, fp);
		len += n;
	} while (n > 0);
	fclose(fp);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	const char *src = getenv("PA_SRCDIR");
	char dir[4096], path[8192];
	char **names = NULL;
	size_t count = 0, i;
	struct dirent *de;
	DIR *d;
	int failed = 0;

	if (argc > 1) {
		for (i = 1; i < (size_t)argc; i++)
			failed |= run_file(argv[i]) < 0;
		return failed ? 1 : 0;
	}
	snprintf(dir, sizeof(dir), "%s/fuzz/corpus/%s", src ? src : ".", PA_FUZZ_TARGET);
	if (!(d = opendir(dir))) {
		fprintf(stderr, "%s: cannot open the corpus (set PA_SRCDIR)\n", dir);
		return 1;
	}
	while ((de = readdir(d))) {
		char **grown;
		if (de->d_name[0] == '.')
			continue;
		if (!(grown = realloc(names, (count + 1) * sizeof(*names))) || !(grown[count] = strdup(de->d_name))) {
			closedir(d);
			return 1;
		}
		names = grown;
		count++;
	}
	closedir(d);
	qsort(names, count, sizeof(*names), cmp);
	for (i = 0; i < count; i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		failed |= run_file(path) < 0;
		free(names[i]);
	}
	free(names);
	if (count == 0) {
		fprintf(stderr, "%s: empty corpus\n", dir);
		return 1;
	}
	printf("%s: %zu inputs replayed\n", PA_FUZZ_TARGET, count);
	return failed ? 1 : 0;
}
