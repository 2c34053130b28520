/*
 * The allocation-free JSON check (core/util/json_check.c) that the plugins use
 * instead of a json-c parse: any bytes, no crash or over-read, and never
 * looser than json-c, the parser it stands in for: whatever it accepts,
 * pa_json_parse reads too.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "fuzz.h"

/* json-c's null is a NULL pointer, which pa_json_parse cannot tell from a refusal. */
static int is_bare_null(const uint8_t *p, size_t n)
{
	while (n && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')) {
		p++;
		n--;
	}
	while (n && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;
	return n == 4 && memcmp(p, "null", 4) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *copy = malloc(size ? size : 1);
	provauth_json *v;
	int ok;

	if (!copy)
		pa_fuzz_fail("out of memory");
	if (size)
		memcpy(copy, data, size);
	ok = pa_json_valid(copy, size);
	PA_FUZZ_CHECK(ok == 0 || ok == 1);
	PA_FUZZ_CHECK(pa_json_valid(copy, size) == ok);
	if (ok && !is_bare_null(data, size)) {
		v = pa_json_parse(copy, size);
		if (!v)
			pa_fuzz_fail("the check accepts what json-c refuses (%zu bytes)", size);
		pa_json_free(v);
	}
	free(copy);
	return 0;
}
