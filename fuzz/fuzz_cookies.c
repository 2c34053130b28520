/*
 * Cookie import parsing, all three shapes (plugins/pixverse/cookies.c):
 * a Cookie header, a {name: value} object, a browser export array.
 *
 * Invariants: whatever is accepted can go into a Cookie header, names are
 * unique, the jar re-parses from its own header form to the same jar, and
 * a refused value is never quoted in the error.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz.h"
#include "pixverse.h"

static char *header_of(const pv_cookie_jar *jar, const char *extra_name, const char *extra_value)
{
	size_t i, len = 16;
	char *out, *p;

	for (i = 0; i < jar->count; i++)
		len += strlen(jar->items[i].name) + strlen(jar->items[i].value) + 3;
	if (extra_name)
		len += strlen(extra_name) + strlen(extra_value) + 3;
	if (!(out = malloc(len)))
		pa_fuzz_fail("out of memory");
	p = out;
	*p = '\0';
	for (i = 0; i < jar->count; i++)
		p += sprintf(p, "%s%s=%s", i ? "; " : "", jar->items[i].name, jar->items[i].value);
	if (extra_name)
		sprintf(p, "%s%s=%s", jar->count ? "; " : "", extra_name, extra_value);
	return out;
}

/* Header whitespace around a value is not part of it: such values cannot round-trip through a header. */
static int trimmed(const char *v)
{
	size_t n = strlen(v);
	return n == 0 || (v[0] != ' ' && v[0] != '\t' && v[n - 1] != ' ' && v[n - 1] != '\t');
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const provauth_host *h = pa_fuzz_host();
	char *input = pa_fuzz_cstr(data, size);
	pv_cookie_jar jar, again;
	size_t i, j;
	int rc, round_trip = 1;

	provauth_error_clear();
	rc = pv_cookies_parse(&jar, h, input);
	PA_FUZZ_CHECK(rc == 0 || rc == PROVAUTH_EINVAL || rc == PROVAUTH_ENOMEM);
	if (rc < 0) {
		const char *err = provauth_last_error();
		PA_FUZZ_CHECK(jar.items == NULL && jar.count == 0);
		PA_FUZZ_CHECK(err && strncmp(err, "pixverse: cookies: ", 19) == 0);
		for (i = 0; err[i]; i++)
			PA_FUZZ_CHECK((unsigned char)err[i] >= 0x20 && (unsigned char)err[i] < 0x7f);
		free(input);
		return 0;
	}
	PA_FUZZ_CHECK(jar.count > 0 && jar.count <= PV_COOKIES_MAX_COUNT);
	for (i = 0; i < jar.count; i++) {
		PA_FUZZ_CHECK(pv_cookie_name_ok(jar.items[i].name));
		PA_FUZZ_CHECK(pv_cookie_value_ok(jar.items[i].value));
		PA_FUZZ_CHECK(pv_cookie_find(jar.items, jar.count, jar.items[i].name) == jar.items[i].value);
		for (j = 0; j < i; j++)
			PA_FUZZ_CHECK(strcmp(jar.items[i].name, jar.items[j].name) != 0);
		if (!trimmed(jar.items[i].value))
			round_trip = 0;
	}

	/* Round trip through the header form. */
	if (round_trip) {
		char *hdr = header_of(&jar, NULL, NULL);
		PA_FUZZ_CHECK(pv_cookies_parse(&again, h, hdr) == 0);
		PA_FUZZ_CHECK(again.count == jar.count);
		for (i = 0; i < jar.count; i++) {
			PA_FUZZ_CHECK(strcmp(again.items[i].name, jar.items[i].name) == 0);
			PA_FUZZ_CHECK(strcmp(again.items[i].value, jar.items[i].value) == 0);
		}
		pv_cookies_free(&again);
		free(hdr);
	}

	/*
	 * The jar followed by a cookie whose value is refused: the message may
	 * name the cookie but must not depend on the value (which it would
	 * only if it quoted it).
	 */
	if (round_trip && jar.count < PV_COOKIES_MAX_COUNT) {
		size_t n = strlen(jar.items[0].value);
		char *bad = malloc(n + 2), *hdr, *first;

		if (!bad)
			pa_fuzz_fail("out of memory");
		memcpy(bad, jar.items[0].value, n);
		bad[n] = '\x7f';
		bad[n + 1] = '\0';
		hdr = header_of(&jar, "zz_fuzz_refused", bad);
		PA_FUZZ_CHECK(pv_cookies_parse(&again, h, hdr) == PROVAUTH_EINVAL);
		if (!(first = strdup(provauth_last_error())))
			pa_fuzz_fail("out of memory");
		free(hdr);
		hdr = header_of(&jar, "zz_fuzz_refused", "\x7f");
		PA_FUZZ_CHECK(pv_cookies_parse(&again, h, hdr) == PROVAUTH_EINVAL);
		if (strcmp(first, provauth_last_error()) != 0)
			pa_fuzz_fail("the refusal depends on the refused value:\n  %s\n  %s", first, provauth_last_error());
		free(first);
		free(hdr);
		free(bad);
	}
	pv_cookies_free(&jar);
	free(input);
	return 0;
}
