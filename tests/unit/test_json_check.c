/*
 * pa_json_valid (host->json_valid): what it accepts, what it refuses, and
 * that it never reads outside [text, text + len). Each input is copied into
 * a buffer of exactly its length, so a sanitizer build catches an overread.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "../support/pa_test.h"

/* The input in a heap block of exactly n bytes, no NUL after it. */
static int valid_n(const char *s, size_t n)
{
	char *copy = malloc(n ? n : 1);
	int ok;

	CU_ASSERT_PTR_NOT_NULL_FATAL(copy);
	memcpy(copy, s, n);
	ok = pa_json_valid(copy, n);
	free(copy);
	return ok;
}

static int valid(const char *s)
{
	return valid_n(s, strlen(s));
}

/* Accepted by json-c as well: the check is never looser than the parser it replaces, on these. */
static int parses(const char *s, size_t n)
{
	provauth_json *v = pa_json_parse(s, n);

	pa_json_free(v);
	return v != NULL;
}

static const char *const good[] = {
	"{}", "[]", "0", "-0", "1", "-12", "3.25", "1e5", "1E+5", "-1.5e-3", "123456789012345678901234567890",
	"true", "false", "null", "\"\"", "\"a\"", " \t\r\n[ 1 , 2 ]\n ",
	"{\"a\":1}", "{ \"a\" : [ true , false , null ] , \"b\" : { } }",
	"[[[[]]]]", "[{}, [], \"\", 0]",
	"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0041 \\u00e9 \\uD83D\\uDE00\"",
	"\"\\ud800\"",                               /* a lone surrogate escape: grammatical (RFC 8259, 8.2) */
	"\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80\"",
	"{\"user\":{\"id\":4242,\"name\":\"bench\",\"account\":\"bench\",\"profile_image_urls\":{\"medium\":"
	"\"https://i.pximg.net/x.png\"},\"is_followed\":false},\"profile\":{\"webpage\":null,\"total_follow_users\":0}}",
};

static void test_accepts_json(void)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(good); i++) {
		CU_ASSERT_EQUAL(valid(good[i]), 1);
		if (!valid(good[i]))
			fprintf(stderr, "refused: %s\n", good[i]);
	}
}

static const char *const bad[] = {
	"", " ", "\n\t ",
	/* two values, trailing garbage, stray closers */
	"1 2", "{} {}", "[] x", "[1]]", "{}}", "]", "}", ",", ":",
	/* containers */
	"[1,]", "[,1]", "[1 2]", "{\"a\" 1}", "{\"a\":}", "{\"a\":1,}", "{,}", "{1:2}", "{a:1}", "{'a':1}",
	"[1}", "{\"a\":1]", "[", "{", "{\"a\"", "{\"a\":", "[\"a\",",
	/* literals */
	"tru", "truex", "True", "nul", "NULL", "fals", "NaN", "Infinity", "-Infinity", "undefined",
	/* numbers */
	"-", "+1", "01", "-01", "00", "1.", ".5", "1.e5", "1e", "1e+", "1e-", "0x10", "1_000", "- 1", "1.5.2",
	/* strings and escapes */
	"\"", "\"abc", "'a'", "\"\\\"", "\"\\x\"", "\"\\u12\"", "\"\\u12G4\"", "\"\\uZZZZ\"", "\"\\U0041\"",
	"\"\\\"", "\"\\", "\"a\tb\"", "\"a\nb\"", "\"\x01\"", "\"\x1f\"",
	/* comments, which json-c would skip */
	"/* c */ 1", "[1] // c", "# c\n1",
	/* UTF-8: continuation without a lead, overlongs, surrogates, beyond U+10FFFF, cut sequences */
	"\"\x80\"", "\"\xbf\"", "\"\xc0\xaf\"", "\"\xc1\xbf\"", "\"\xe0\x80\xaf\"", "\"\xe0\x9f\xbf\"",
	"\"\xed\xa0\x80\"", "\"\xed\xbf\xbf\"", "\"\xf0\x80\x80\xaf\"", "\"\xf0\x8f\xbf\xbf\"",
	"\"\xf4\x90\x80\x80\"", "\"\xf5\x80\x80\x80\"", "\"\xff\"", "\"\xfe\"", "\"\xc3\"", "\"\xe2\x82\"",
	"\"\xf0\x9f\x98\"", "\"\xc3\x28\"", "\"\xe2\x28\xa1\"", "\"\xf0\x9f\x28\x80\"",
	/* bytes outside strings that are not JSON */
	"\xef\xbb\xbf{}", "[1,\x80]", "\xc3\xa9",
	/* HTML, which a misrouted request gets */
	"<html><body>502 Bad Gateway</body></html>",
};

static void test_refuses_non_json(void)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(bad); i++) {
		CU_ASSERT_EQUAL(valid(bad[i]), 0);
		if (valid(bad[i]))
			fprintf(stderr, "accepted: %s\n", bad[i]);
	}
	CU_ASSERT_EQUAL(pa_json_valid(NULL, 0), 0);
	CU_ASSERT_EQUAL(pa_json_valid(NULL, 5), 0);
}

/* A NUL is never part of JSON, wherever it is: callers may then treat the text as a C string. */
static void test_nul_bytes(void)
{
	CU_ASSERT_EQUAL(valid_n("\"a\0b\"", 5), 0);
	CU_ASSERT_EQUAL(valid_n("[1]\0", 4), 0);
	CU_ASSERT_EQUAL(valid_n("\0[1]", 4), 0);
	CU_ASSERT_EQUAL(valid_n("[1,\0 2]", 7), 0);
	/* Nor as an escape, which a reader of C strings would cut the value at. */
	CU_ASSERT_EQUAL(valid("\"tok\\u0000junk\""), 0);
	CU_ASSERT_EQUAL(valid("{\"a\\u0000b\":1}"), 0);
	CU_ASSERT_EQUAL(valid("[\"\\u0000\"]"), 0);
	/* An escaped backslash before "u0000" is text, not an escape. */
	CU_ASSERT_EQUAL(valid("\"\\\\u0000\""), 1);
	CU_ASSERT_EQUAL(valid("\"\\u0001\""), 1);
}

/* Only [text, text + len) counts: what follows is not looked at. */
static void test_length_bounds_the_text(void)
{
	CU_ASSERT_EQUAL(pa_json_valid("[1]garbage", 3), 1);
	CU_ASSERT_EQUAL(pa_json_valid("123", 2), 1);
	CU_ASSERT_EQUAL(pa_json_valid("\"ab\"", 3), 0);
	CU_ASSERT_EQUAL(pa_json_valid("true", 3), 0);
	CU_ASSERT_EQUAL(pa_json_valid("{}", 0), 0);
}

static char *nest(const char *open, const char *inner, const char *close, size_t depth)
{
	size_t lo = strlen(open), li = strlen(inner), lc = strlen(close), i;
	char *s = malloc(depth * (lo + lc) + li + 1), *p = s;

	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	for (i = 0; i < depth; i++, p += lo)
		memcpy(p, open, lo);
	memcpy(p, inner, li);
	p += li;
	for (i = 0; i < depth; i++, p += lc)
		memcpy(p, close, lc);
	*p = '\0';
	return s;
}

static void test_depth_limit(void)
{
	static const struct { const char *open, *inner, *close; } kinds[] = {
		{ "[", "1", "]" },
		{ "{\"k\":", "1", "}" },
		{ "[{\"k\":", "[]", "}]" },
	};
	size_t k;

	for (k = 0; k < PA_ARRAY_LEN(kinds); k++) {
		/* The mixed kind nests two containers per step. */
		size_t per = k == 2 ? 2 : 1;
		char *s = nest(kinds[k].open, kinds[k].inner, kinds[k].close, 63 / per);

		CU_ASSERT_EQUAL(valid(s), 1);
		free(s);
		s = nest(kinds[k].open, kinds[k].inner, kinds[k].close, 65 / per + 1);
		CU_ASSERT_EQUAL(valid(s), 0);
		free(s);
		/* Far beyond any stack a recursive parser would have. */
		s = nest(kinds[k].open, kinds[k].inner, kinds[k].close, 100000);
		CU_ASSERT_EQUAL(valid(s), 0);
		free(s);
	}
	{
		char *s = nest("[", "", "]", 64);
		CU_ASSERT_EQUAL(valid(s), 1);
		free(s);
		s = nest("[", "", "]", 65);
		CU_ASSERT_EQUAL(valid(s), 0);
		free(s);
	}
	{
		/*
		 * A scalar takes a level too, as in json-c: 63 arrays around a
		 * number are the deepest it reads, and at the boundary the check
		 * and json-c agree (found by fuzz/fuzz_json_check).
		 */
		size_t d;

		for (d = 62; d <= 65; d++) {
			char *s = nest("[", "1", "]", d);

			CU_ASSERT_EQUAL(valid(s), d <= 63);
			CU_ASSERT_EQUAL(valid(s), parses(s, strlen(s)));
			free(s);
		}
	}
	{
		/* A container closed frees its level: many in a row are not "deep". */
		char *s = malloc(200 * 3 + 3);
		size_t i, o = 0;

		CU_ASSERT_PTR_NOT_NULL_FATAL(s);
		s[o++] = '[';
		for (i = 0; i < 200; i++) {
			memcpy(s + o, i ? ",[]" : "[]", i ? 3 : 2);
			o += i ? 3 : 2;
		}
		s[o++] = ']';
		s[o] = '\0';
		CU_ASSERT_EQUAL(valid(s), 1);
		free(s);
	}
}

/*
 * Every proper prefix of a container document is incomplete, whatever byte
 * it stops at: inside a key, an escape, a number, a UTF-8 sequence, a literal.
 */
static void test_truncation_at_every_offset(void)
{
	static const char doc[] =
		"{\"user\":{\"id\":4242,\"name\":\"b\\u00e9nch \\\"q\\\" caf\xc3\xa9 \xf0\x9f\x98\x80\","
		"\"n\":[-1.5e+3,0,true,false,null,{}],\"e\":\"\\\\/\\n\"},\"x\":[[1],[\"\xe2\x82\xac\"]]}";
	size_t n = sizeof(doc) - 1, k;

	CU_ASSERT_EQUAL_FATAL(valid_n(doc, n), 1);
	CU_ASSERT_EQUAL(parses(doc, n), 1);
	for (k = 0; k < n; k++) {
		CU_ASSERT_EQUAL(valid_n(doc, k), 0);
		if (valid_n(doc, k))
			fprintf(stderr, "prefix of %zu bytes accepted\n", k);
	}
}

/*
 * Single-byte damage to a valid document: whenever json-c refuses the
 * result, so must the check (it replaced json-c and must not be looser).
 * It may refuse more: invalid UTF-8 and json-c's extensions.
 */
static void test_never_looser_than_json_c(void)
{
	static const char doc[] = "{\"a\":[1,-2.5e3,\"x\\n\\u0041\",true,null],\"b\":{\"c\":false}}";
	static const char repl[] = { '"', '\\', ',', ':', '{', '}', '[', ']', 'x', '0', '-', '.', 'e', ' ', '\x01',
	                             '\x7f', '\x80', 'u', '/', 't', '\'' };
	char buf[sizeof(doc)];
	size_t n = sizeof(doc) - 1, i, r, mismatches = 0;

	CU_ASSERT_EQUAL_FATAL(valid_n(doc, n), 1);
	for (i = 0; i < n; i++) {
		for (r = 0; r < sizeof(repl); r++) {
			memcpy(buf, doc, sizeof(doc));
			buf[i] = repl[r];
			if (!parses(buf, n) && valid_n(buf, n)) {
				mismatches++;
				fprintf(stderr, "accepted what json-c refuses: %s\n", buf);
			}
		}
		/* A deleted byte. */
		memcpy(buf, doc, i);
		memcpy(buf + i, doc + i + 1, n - i);
		if (!parses(buf, n - 1) && valid_n(buf, n - 1)) {
			mismatches++;
			fprintf(stderr, "accepted what json-c refuses: %s\n", buf);
		}
	}
	CU_ASSERT_EQUAL(mismatches, 0);
}

/* Every good document is one json-c also reads: the check refuses nothing the parser needed. */
static void test_agrees_with_json_c_on_good(void)
{
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(good); i++) {
		/* json-c's null is a NULL pointer, which pa_json_parse cannot tell from a refusal. */
		if (strcmp(good[i], "null") == 0)
			continue;
		CU_ASSERT_EQUAL(parses(good[i], strlen(good[i])), 1);
		if (!parses(good[i], strlen(good[i])))
			fprintf(stderr, "json-c refuses: %s\n", good[i]);
	}
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "accepts JSON", test_accepts_json },
		{ "refuses what is not JSON", test_refuses_non_json },
		{ "NUL bytes", test_nul_bytes },
		{ "the length bounds the text", test_length_bounds_the_text },
		{ "depth limit, no recursion", test_depth_limit },
		{ "truncation at every byte offset", test_truncation_at_every_offset },
		{ "never looser than json-c", test_never_looser_than_json_c },
		{ "good documents parse with json-c too", test_agrees_with_json_c_on_good },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "json_check", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
