/*
 * The JSON reader's strings (core/util/json.c: pa_json_parse, pa_json_get,
 * pa_json_string): any bytes. A document is refused when a string or key
 * holds a NUL (raw or \u0000), which every C-string reader would cut short;
 * whatever is accepted holds no string whose json-c length differs from its
 * C length, at any depth, keys included, and a refusal is said.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "internal.h"
#include "fuzz.h"

/* Every string and key below v is as long as its C string; no recursion past json-c's own depth bound. */
static void check_strings(struct json_object *v, int depth)
{
	size_t i, n;

	PA_FUZZ_CHECK(depth <= 128);
	switch (json_object_get_type(v)) {
	case json_type_string:
		PA_FUZZ_CHECK((size_t)json_object_get_string_len(v) == strlen(json_object_get_string(v)));
		/* What plugins read through the host is that same string. */
		PA_FUZZ_CHECK(pa_json_string((const provauth_json *)v) == json_object_get_string(v));
		break;
	case json_type_object: {
		json_object_object_foreach(v, key, member) {
			PA_FUZZ_CHECK(key != NULL);
			check_strings(member, depth + 1);
		}
		break;
	}
	case json_type_array:
		for (i = 0, n = json_object_array_length(v); i < n; i++)
			check_strings(json_object_array_get_idx(v, i), depth + 1);
		break;
	default:
		break;
	}
}

/* Whether the bytes hold the escape \u0000 after an odd run of backslashes. */
static int has_nul_escape(const uint8_t *p, size_t n)
{
	size_t i, run = 0;

	for (i = 0; i < n; i++) {
		if (p[i] == '\\') {
			run++;
			continue;
		}
		if (p[i] == 'u' && run % 2 && n - i > 4 && memcmp(p + i + 1, "0000", 4) == 0)
			return 1;
		run = 0;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past the end. */
	char *copy = malloc(size ? size : 1);
	provauth_json *v;

	if (!copy)
		pa_fuzz_fail("out of memory");
	if (size)
		memcpy(copy, data, size);
	provauth_error_clear();
	v = pa_json_parse(copy, size);
	if (v) {
		PA_FUZZ_CHECK(!memchr(data, '\0', size));
		PA_FUZZ_CHECK(!has_nul_escape(data, size));
		check_strings((struct json_object *)v, 0);
	} else if (memchr(data, '\0', size) || has_nul_escape(data, size)) {
		PA_FUZZ_CHECK(strstr(provauth_last_error(), "NUL") != NULL);
	}
	pa_json_free(v);
	free(copy);
	return 0;
}
