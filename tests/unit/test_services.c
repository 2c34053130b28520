/*
 * Unit tests for the host's service modules that plugins and the manager
 * build on: encodings and digests, JSON, log redaction, account helpers,
 * credential updates and failure descriptions.
 */
#include "config.h"
#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "../support/pa_test.h"

/* ------------------------------------------------------------------------ */
/* encoding.c                                                               */
/* ------------------------------------------------------------------------ */

static int decode(const char *in, unsigned char **out, size_t *len)
{
	return pa_base64_decode(in, strlen(in), out, len);
}

static void test_base64(void)
{
	static const unsigned char odd[] = { 0xfb, 0xff, 0xfe };
	unsigned char *out = NULL;
	size_t len = 99;

	/* Padded and unpadded standard alphabet. */
	CU_ASSERT_EQUAL_FATAL(decode("aGVsbG8gd29ybGQ=", &out, &len), 0);
	CU_ASSERT_EQUAL(len, 11);
	CU_ASSERT_STRING_EQUAL((char *)out, "hello world");
	free(out);
	CU_ASSERT_EQUAL_FATAL(decode("aGVsbG8gd29ybGQ", &out, &len), 0);
	CU_ASSERT_EQUAL(len, 11);
	CU_ASSERT_NSTRING_EQUAL((char *)out, "hello world", 11);
	free(out);
	CU_ASSERT_EQUAL_FATAL(decode("TWE=", &out, &len), 0);
	CU_ASSERT_EQUAL(len, 2);
	CU_ASSERT_NSTRING_EQUAL((char *)out, "Ma", 2);
	free(out);
	/* The bytes that differ between the alphabets: "+/" and "-_". */
	CU_ASSERT_EQUAL_FATAL(decode("+//+", &out, &len), 0);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT_EQUAL(memcmp(out, odd, 3), 0);
	free(out);
	CU_ASSERT_EQUAL_FATAL(decode("-__-", &out, &len), 0);
	CU_ASSERT_EQUAL(len, 3);
	CU_ASSERT_EQUAL(memcmp(out, odd, 3), 0);
	free(out);
	/* Empty input is an empty output, still NUL-terminated. */
	CU_ASSERT_EQUAL_FATAL(decode("", &out, &len), 0);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_EQUAL(out[0], 0);
	free(out);
	/* Invalid characters, a lone trailing character, padding mid-way. */
	CU_ASSERT_EQUAL(decode("ab!d", &out, &len), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(len, 0);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "offset 2"));
	CU_ASSERT_EQUAL(decode("abcde", &out, &len), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(out);
	CU_ASSERT_EQUAL(decode("a", &out, &len), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(decode("ab=c", &out, &len), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(decode("ab cd", &out, &len), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(out);
	/* A JWT payload segment (base64url, no padding). */
	CU_ASSERT_EQUAL_FATAL(decode("eyJzdWIiOiIxMjM0NTY3ODkwIn0", &out, &len), 0);
	CU_ASSERT_STRING_EQUAL((char *)out, "{\"sub\":\"1234567890\"}");
	free(out);
}

static void test_digest(void)
{
	char out[65];

	CU_ASSERT_EQUAL(pa_digest_hex("md5", "", 0, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "d41d8cd98f00b204e9800998ecf8427e");
	CU_ASSERT_EQUAL(pa_digest_hex("md5", "abc", 3, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "900150983cd24fb0d6963f7d28e17f72");
	CU_ASSERT_EQUAL(pa_digest_hex("sha256", "", 0, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
	CU_ASSERT_EQUAL(pa_digest_hex("sha256", "abc", 3, out, sizeof(out)), 0);
	CU_ASSERT_STRING_EQUAL(out, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	/* Exactly 2*size+1 fits; one less does not. */
	CU_ASSERT_EQUAL(pa_digest_hex("md5", "abc", 3, out, 33), 0);
	CU_ASSERT_EQUAL(pa_digest_hex("md5", "abc", 3, out, 32), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_digest_hex("sha256", "abc", 3, out, 64), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_digest_hex("sha1", "abc", 3, out, sizeof(out)), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "sha1"));
	CU_ASSERT_EQUAL(pa_digest_hex(NULL, "abc", 3, out, sizeof(out)), PROVAUTH_EINVAL);
}

static void test_url_escape(void)
{
	char *s;

	s = pa_url_escape("a b&c=d/\xc3\xa9~._-Z9");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_STRING_EQUAL(s, "a%20b%26c%3Dd%2F%C3%A9~._-Z9");
	free(s);
	s = pa_url_escape("");
	CU_ASSERT_PTR_NOT_NULL_FATAL(s);
	CU_ASSERT_STRING_EQUAL(s, "");
	free(s);
	s = pa_url_escape("+%?#");
	CU_ASSERT_STRING_EQUAL(s, "%2B%25%3F%23");
	free(s);
	CU_ASSERT_PTR_NULL(pa_url_escape(NULL));
}

static void test_uuid4(void)
{
	char a[37], b[37];
	int i;

	CU_ASSERT_EQUAL_FATAL(pa_uuid4(a), 0);
	CU_ASSERT_EQUAL_FATAL(pa_uuid4(b), 0);
	CU_ASSERT_EQUAL(strlen(a), 36);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			CU_ASSERT_EQUAL(a[i], '-');
		} else {
			CU_ASSERT(isxdigit((unsigned char)a[i]) && !isupper((unsigned char)a[i]));
		}
	}
	CU_ASSERT_EQUAL(a[14], '4');                      /* version 4 */
	CU_ASSERT_PTR_NOT_NULL(strchr("89ab", a[19]));    /* RFC 4122 variant */
	CU_ASSERT_STRING_NOT_EQUAL(a, b);
}

/* ------------------------------------------------------------------------ */
/* json.c                                                                   */
/* ------------------------------------------------------------------------ */

static provauth_json *parse(const char *s)
{
	return pa_json_parse(s, strlen(s));
}

static void test_json_parse(void)
{
	static const char *const bad[] = {
		"{}x", "{\"a\":1} }", "1 2", "\"a\" \"b\"", "[1,2]]",      /* trailing garbage */
		"{\"a\":", "[1,2", "{\"a\"", "\"unterminated", "tru", "-",  /* truncated */
		"", "   ", "{a:1}", "[1,]x",
	};
	provauth_json *v;
	int64_t n = 0;
	int b = 0;
	size_t i;

	v = parse("{\"a\":1,\"b\":[true,\"x\"],\"c\":{\"d\":null}}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_EQUAL(pa_json_type(v), PROVAUTH_JSON_OBJECT);
	CU_ASSERT_EQUAL(pa_json_array_len(pa_json_get(v, "b")), 2);
	CU_ASSERT_EQUAL(pa_json_bool(pa_json_array_at(pa_json_get(v, "b"), 0), &b), 0);
	CU_ASSERT_EQUAL(b, 1);
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_array_at(pa_json_get(v, "b"), 1)), "x");
	CU_ASSERT_PTR_NULL(pa_json_array_at(pa_json_get(v, "b"), 2));
	pa_json_free(v);

	/* Surrounding whitespace is fine. */
	v = parse(" \n{\"a\":1}\r\n\t ");
	CU_ASSERT_PTR_NOT_NULL(v);
	pa_json_free(v);

	/* Top-level scalars are JSON too (metadata values are often just that). */
	v = parse("123");
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT_EQUAL(pa_json_int(v, &n), 0);
	CU_ASSERT_EQUAL(n, 123);
	pa_json_free(v);
	v = parse("true");
	CU_ASSERT_EQUAL(pa_json_type(v), PROVAUTH_JSON_BOOL);
	pa_json_free(v);
	v = parse("-1.5");
	CU_ASSERT_EQUAL(pa_json_type(v), PROVAUTH_JSON_DOUBLE);
	pa_json_free(v);
	v = parse("\"google\"");
	CU_ASSERT_STRING_EQUAL(pa_json_string(v), "google");
	pa_json_free(v);

	for (i = 0; i < PA_ARRAY_LEN(bad); i++) {
		v = parse(bad[i]);
		if (v)
			fprintf(stderr, "accepted: '%s'\n", bad[i]);
		CU_ASSERT_PTR_NULL(v);
		pa_json_free(v);
	}
	/* Only `len` bytes count: what follows is not read. */
	v = pa_json_parse("[1]garbage", 3);
	CU_ASSERT_PTR_NOT_NULL(v);
	pa_json_free(v);
	CU_ASSERT_PTR_NULL(pa_json_parse(NULL, 0));
}

/*
 * A NUL inside a JSON string would cut a token or an email short for every
 * reader of C strings, and a key with a NUL would stand for another key:
 * such documents are refused, saying why.
 */
static void test_json_nul_refused(void)
{
	static const char *const bad[] = {
		"{\"token\":\"tok\\u0000junk\"}",
		"{\"email\":\"a@example.com\\u0000@evil.example\"}",
		"{\"token\\u0000x\":\"forged\",\"token\":\"real\"}",
		"[\"\\\\\\u0000\"]",              /* an escaped backslash, then the escape */
		"'\\u0000'",                       /* json-c's single quotes */
	};
	provauth_json *v;
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(bad); i++) {
		provauth_error_clear();
		v = parse(bad[i]);
		CU_ASSERT_PTR_NULL(v);
		if (v)
			fprintf(stderr, "\n  accepted: %s\n", bad[i]);
		pa_json_free(v);
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "NUL"));
	}
	CU_ASSERT_PTR_NULL(pa_json_parse("{\"a\":\"b\"}\0", 10));
	/* "\\u0000" is a backslash and text: fine. */
	v = parse("{\"a\":\"\\\\u0000\"}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "a")), "\\u0000");
	pa_json_free(v);
	v = parse("{\"a\":\"x\\u0001\"}");
	CU_ASSERT_PTR_NOT_NULL(v);
	pa_json_free(v);
}

static void test_json_depth(void)
{
	char buf[2 * 70 + 1];
	provauth_json *v;
	int depth, i;

	for (depth = 64; depth <= 70; depth += 6) {
		for (i = 0; i < depth; i++) {
			buf[i] = '[';
			buf[depth + i] = ']';
		}
		buf[2 * depth] = '\0';
		v = parse(buf);
		if (depth == 64) {
			CU_ASSERT_PTR_NOT_NULL(v);
		} else {
			CU_ASSERT_PTR_NULL(v);
		}
		pa_json_free(v);
	}
	/* One past the limit, with objects. */
	{
		char *deep = malloc(65 * 6 + 65 + 2);
		size_t o = 0;

		CU_ASSERT_PTR_NOT_NULL_FATAL(deep);
		for (i = 0; i < 65; i++)
			o += (size_t)sprintf(deep + o, "{\"a\":");
		deep[o++] = '1';
		for (i = 0; i < 65; i++)
			deep[o++] = '}';
		deep[o] = '\0';
		v = parse(deep);
		CU_ASSERT_PTR_NULL(v);
		pa_json_free(v);
		free(deep);
	}
}

static void test_json_null_safety(void)
{
	int64_t n = 7;
	int b = 3;
	char *s;

	CU_ASSERT_EQUAL(pa_json_type(NULL), PROVAUTH_JSON_NULL);
	CU_ASSERT_PTR_NULL(pa_json_get(NULL, "a"));
	CU_ASSERT_PTR_NULL(pa_json_string(NULL));
	CU_ASSERT(pa_json_int(NULL, &n) < 0);
	CU_ASSERT_EQUAL(n, 7);
	CU_ASSERT(pa_json_bool(NULL, &b) < 0);
	CU_ASSERT_EQUAL(b, 3);
	CU_ASSERT_EQUAL(pa_json_array_len(NULL), 0);
	CU_ASSERT_PTR_NULL(pa_json_array_at(NULL, 0));
	/* Setters on nothing still take ownership of the value (ASan sees a leak otherwise). */
	CU_ASSERT(pa_json_set(NULL, "k", pa_json_from_int(1)) < 0);
	CU_ASSERT(pa_json_append(NULL, pa_json_from_int(1)) < 0);
	CU_ASSERT_PTR_NULL(pa_json_from_string(NULL));
	s = pa_json_serialize(NULL);
	CU_ASSERT_STRING_EQUAL(s, "null");
	free(s);
	pa_json_free(NULL);
	{
		provauth_json *o = pa_json_new_object(), *arr = pa_json_new_array();

		CU_ASSERT_PTR_NULL(pa_json_get(o, NULL));
		CU_ASSERT(pa_json_set(o, NULL, pa_json_from_int(1)) < 0);
		CU_ASSERT(pa_json_set(arr, "k", pa_json_from_int(1)) < 0);   /* not an object */
		CU_ASSERT(pa_json_append(o, pa_json_from_int(1)) < 0);      /* not an array */
		CU_ASSERT_EQUAL(pa_json_set(o, "null", NULL), 0);           /* JSON null member */
		s = pa_json_serialize(o);
		CU_ASSERT_STRING_EQUAL(s, "{\"null\":null}");
		free(s);
		pa_json_free(o);
		pa_json_free(arr);
	}
}

static void test_json_build_and_path(void)
{
	provauth_json *o = pa_json_new_object(), *inner = pa_json_new_object(), *arr = pa_json_new_array();
	const provauth_json *v;
	char *text;

	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_EQUAL(pa_json_set(inner, "Token", pa_json_from_string("t/1")), 0);
	CU_ASSERT_EQUAL(pa_json_append(arr, pa_json_from_int(5)), 0);
	CU_ASSERT_EQUAL(pa_json_append(arr, pa_json_from_bool(0)), 0);
	CU_ASSERT_EQUAL(pa_json_set(o, "Result", inner), 0);
	CU_ASSERT_EQUAL(pa_json_set(o, "List", arr), 0);
	text = pa_json_serialize(o);
	CU_ASSERT_STRING_EQUAL(text, "{\"Result\":{\"Token\":\"t/1\"},\"List\":[5,false]}");
	free(text);
	pa_json_free(o);

	o = parse("{\"Resp\":{\"Result\":{\"Token\":\"abc\",\"N\":3}},\"a\":[1],\"x.y\":1}");
	CU_ASSERT_PTR_NOT_NULL_FATAL(o);
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(o, "Resp.Result.Token")), "abc");
	CU_ASSERT_EQUAL(pa_json_type(pa_json_get(o, "Resp.Result")), PROVAUTH_JSON_OBJECT);
	CU_ASSERT_PTR_NULL(pa_json_get(o, "Resp.Missing"));
	CU_ASSERT_PTR_NULL(pa_json_get(o, "Resp.Result.Token.More"));  /* through a string */
	CU_ASSERT_PTR_NULL(pa_json_get(o, "a.0"));                     /* through an array */
	CU_ASSERT_PTR_NULL(pa_json_get(o, "Resp..Result"));
	CU_ASSERT_PTR_NULL(pa_json_get(o, ".Resp"));
	CU_ASSERT_PTR_NULL(pa_json_get(o, "Resp."));
	CU_ASSERT_PTR_NULL(pa_json_get(o, "x.y"));                     /* dots always separate */
	CU_ASSERT_PTR_NULL(pa_json_string(pa_json_get(o, "Resp.Result.N")));
	v = pa_json_get(o, "Resp");
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "Result.Token")), "abc");
	pa_json_free(o);
}

static void test_json_int(void)
{
	static const struct { const char *text; int ok; int64_t want; } cases[] = {
		{ "42", 1, 42 },
		{ "-9", 1, -9 },
		{ "\"123\"", 1, 123 },
		{ "\"-77\"", 1, -77 },
		{ "3.0", 1, 3 },
		{ "1700000000.0", 1, 1700000000 },
		{ "9223372036854775807", 1, INT64_MAX },
		{ "3.5", 0, 0 },
		{ "1e19", 0, 0 },
		{ "\"12abc\"", 0, 0 },
		{ "\"\"", 0, 0 },
		{ "\"99999999999999999999\"", 0, 0 },
		{ "true", 0, 0 },
		{ "[1]", 0, 0 },
		{ "{}", 0, 0 },
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(cases); i++) {
		provauth_json *v = parse(cases[i].text);
		int64_t n = -12345;
		int rc;

		CU_ASSERT_PTR_NOT_NULL(v);
		rc = pa_json_int(v, &n);
		if (cases[i].ok) {
			CU_ASSERT_EQUAL(rc, 0);
			CU_ASSERT_EQUAL(n, cases[i].want);
		} else {
			CU_ASSERT(rc < 0);
			CU_ASSERT_EQUAL(n, -12345);
		}
		pa_json_free(v);
	}
}

/* ------------------------------------------------------------------------ */
/* log.c                                                                    */
/* ------------------------------------------------------------------------ */

typedef struct capture {
	int calls;
	provauth_log_level level;
	char event[64];
	size_t nfields;
	char strs[8][64];
	int64_t nums[8];
} capture;

static void capture_fn(provauth_log_level level, const char *event, const provauth_log_field *fields,
                       size_t nfields, void *payload)
{
	capture *c = payload;
	size_t i;

	c->calls++;
	c->level = level;
	snprintf(c->event, sizeof(c->event), "%s", event);
	c->nfields = nfields;
	for (i = 0; i < nfields && i < 8; i++) {
		snprintf(c->strs[i], sizeof(c->strs[i]), "%s", fields[i].str ? fields[i].str : "(null)");
		c->nums[i] = fields[i].num;
	}
}

static void test_log_redaction(void)
{
	static const char secret[] = "hunter2-very-secret";
	capture c;
	pa_logger lg = { capture_fn, &c, PROVAUTH_LOG_DEBUG };
	provauth_log_field f[] = {
		PA_F_STR("account", "acct-1"),
		PA_F_SECRET("password", secret),
		PA_F_INT("n", 42),
		PA_F_BOOL("ok", 1),
		PA_F_SECRET("none", NULL),
	};
	char first[64];

	memset(&c, 0, sizeof(c));
	pa_log(&lg, PROVAUTH_LOG_INFO, "login", f, PA_ARRAY_LEN(f));
	CU_ASSERT_EQUAL_FATAL(c.calls, 1);
	CU_ASSERT_STRING_EQUAL(c.event, "login");
	CU_ASSERT_EQUAL(c.level, PROVAUTH_LOG_INFO);
	CU_ASSERT_EQUAL(c.nfields, 5);
	CU_ASSERT_STRING_EQUAL(c.strs[0], "acct-1");
	CU_ASSERT_NSTRING_EQUAL(c.strs[1], "fp:", 3);
	CU_ASSERT_EQUAL(strlen(c.strs[1]), 11);
	CU_ASSERT_PTR_NULL(strstr(c.strs[1], secret));
	CU_ASSERT_PTR_NULL(strstr(c.strs[1], "hunter2"));
	CU_ASSERT_EQUAL(c.nums[2], 42);
	CU_ASSERT_EQUAL(c.nums[3], 1);
	CU_ASSERT_STRING_EQUAL(c.strs[4], "(null)");
	/* The caller's fields are left as they were. */
	CU_ASSERT_PTR_EQUAL(f[1].str, secret);
	snprintf(first, sizeof(first), "%s", c.strs[1]);

	/* Same secret, same fingerprint; another secret, another one. */
	pa_log(&lg, PROVAUTH_LOG_INFO, "login", f, PA_ARRAY_LEN(f));
	CU_ASSERT_STRING_EQUAL(c.strs[1], first);
	f[1].str = "another secret";
	pa_log(&lg, PROVAUTH_LOG_INFO, "login", f, PA_ARRAY_LEN(f));
	CU_ASSERT_STRING_NOT_EQUAL(c.strs[1], first);
	CU_ASSERT_NSTRING_EQUAL(c.strs[1], "fp:", 3);
	{
		char fp[12];
		pa_fingerprint(secret, fp);
		CU_ASSERT_STRING_EQUAL(fp, first);
		pa_fingerprint(NULL, fp);
		CU_ASSERT_STRING_EQUAL(fp, "fp:none");
	}
}

static void test_log_levels(void)
{
	capture c;
	pa_logger lg = { capture_fn, &c, PROVAUTH_LOG_WARN };
	provauth_log_field f[] = { PA_F_STR("k", "v") };

	memset(&c, 0, sizeof(c));
	pa_log(&lg, PROVAUTH_LOG_DEBUG, "a", f, 1);
	pa_log(&lg, PROVAUTH_LOG_INFO, "b", f, 1);
	CU_ASSERT_EQUAL(c.calls, 0);
	pa_log(&lg, PROVAUTH_LOG_WARN, "c", f, 1);
	CU_ASSERT_EQUAL(c.calls, 1);
	CU_ASSERT_STRING_EQUAL(c.event, "c");
	pa_log(&lg, PROVAUTH_LOG_ERROR, "d", NULL, 0);
	CU_ASSERT_EQUAL(c.calls, 2);
	CU_ASSERT_EQUAL(c.nfields, 0);
	/* No logger or no callback: nothing, and no crash. */
	pa_log(NULL, PROVAUTH_LOG_ERROR, "e", f, 1);
	lg.fn = NULL;
	pa_log(&lg, PROVAUTH_LOG_ERROR, "e", f, 1);
	CU_ASSERT_EQUAL(c.calls, 2);
	CU_ASSERT_STRING_EQUAL(provauth_log_level_name(PROVAUTH_LOG_DEBUG), "debug");
	CU_ASSERT_STRING_EQUAL(provauth_log_level_name(PROVAUTH_LOG_ERROR), "error");
	CU_ASSERT_STRING_EQUAL(provauth_log_level_name((provauth_log_level)42), "unknown");
}

/* Runs fn with stderr sent to a file and returns what it wrote. */
static char *stderr_of(void (*fn)(void))
{
	char path[] = "/tmp/pa-services-XXXXXX";
	int fd = mkstemp(path), saved;
	char *buf = calloc(1, 4096);
	ssize_t n;

	if (fd < 0 || !buf) {
		free(buf);
		return NULL;
	}
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	fn();
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	n = read(fd, buf, 4095);
	buf[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(path);
	return buf;
}

static void emit_json(void)
{
	provauth_log_field f[] = {
		PA_F_STR("account", "acct-\"1\""),
		PA_F_INT("n", -3),
		PA_F_BOOL("ok", 0),
		PA_F_STR("nothing", NULL),
		{ NULL, PROVAUTH_FIELD_STRING, "keyless", 0 },
	};
	provauth_log_stderr_json(PROVAUTH_LOG_WARN, "evt", f, PA_ARRAY_LEN(f), NULL);
}

static void emit_text(void)
{
	provauth_log_field f[] = {
		PA_F_STR("account", "acct-1"),
		PA_F_INT("n", -3),
		PA_F_BOOL("ok", 1),
		{ NULL, PROVAUTH_FIELD_STRING, "keyless", 0 },
	};
	pa_log_stderr_text(PROVAUTH_LOG_ERROR, "evt", f, PA_ARRAY_LEN(f), NULL);
}

static void test_log_sinks(void)
{
	char *out = stderr_of(emit_json);
	provauth_json *v;
	int64_t n = 0;
	int b = 1;

	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	/* Exactly one line of JSON. */
	CU_ASSERT_PTR_NOT_NULL(strchr(out, '\n'));
	CU_ASSERT_PTR_EQUAL(strchr(out, '\n'), out + strlen(out) - 1);
	v = parse(out);
	CU_ASSERT_PTR_NOT_NULL(v);
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "level")), "warn");
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "event")), "evt");
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "account")), "acct-\"1\"");
	CU_ASSERT_EQUAL(pa_json_int(pa_json_get(v, "n"), &n), 0);
	CU_ASSERT_EQUAL(n, -3);
	CU_ASSERT_EQUAL(pa_json_bool(pa_json_get(v, "ok"), &b), 0);
	CU_ASSERT_EQUAL(b, 0);
	CU_ASSERT_PTR_NOT_NULL(pa_json_string(pa_json_get(v, "ts")));
	pa_json_free(v);
	free(out);

	out = stderr_of(emit_text);
	CU_ASSERT_PTR_NOT_NULL_FATAL(out);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "error evt account=acct-1 n=-3 ok=true"));
	CU_ASSERT_PTR_NULL(strstr(out, "keyless"));
	free(out);
}

/* The file sink writes the stderr sink's lines to the host's stream, each one flushed. */
static void test_log_file_sink(void)
{
	provauth_log_field f[] = { PA_F_STR("account", "acct-2"), PA_F_INT("n", 7) };
	char line[512];
	FILE *fp = tmpfile();
	provauth_json *v;
	int64_t n = 0;
	long written;

	CU_ASSERT_PTR_NOT_NULL_FATAL(fp);
	provauth_log_file_json(PROVAUTH_LOG_INFO, "first", f, 1, fp);
	written = ftell(fp);
	CU_ASSERT(written > 0);
	provauth_log_file_json(PROVAUTH_LOG_ERROR, "second", f, PA_ARRAY_LEN(f), fp);
	CU_ASSERT(ftell(fp) > written);
	rewind(fp);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(line, sizeof(line), fp));
	v = parse(line);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "event")), "first");
	CU_ASSERT_PTR_NULL(pa_json_get(v, "n"));
	pa_json_free(v);
	CU_ASSERT_PTR_NOT_NULL_FATAL(fgets(line, sizeof(line), fp));
	v = parse(line);
	CU_ASSERT_PTR_NOT_NULL_FATAL(v);
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "level")), "error");
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(v, "account")), "acct-2");
	CU_ASSERT_EQUAL(pa_json_int(pa_json_get(v, "n"), &n), 0);
	CU_ASSERT_EQUAL(n, 7);
	pa_json_free(v);
	CU_ASSERT_PTR_NULL(fgets(line, sizeof(line), fp));
	fclose(fp);
}

/* ------------------------------------------------------------------------ */
/* account.c                                                                */
/* ------------------------------------------------------------------------ */

static provauth_account *sample_account(void)
{
	provauth_account *a = NULL;

	if (provauth_account_new(&a, "acct-1", "pixverse") < 0)
		return NULL;
	if (provauth_account_set(&a->email, "a@example.com") < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "pw", 0) < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_JWT, NULL, "jwt", 0) < 0 ||
	    provauth_account_set_cookie(a, "sid", "s1") < 0 ||
	    provauth_account_set_cookie(a, "csrf", "c1") < 0 ||
	    provauth_account_set_api_key(a, "openapi", "k1") < 0 ||
	    provauth_account_set_metadata(a, "auth_method", "\"password\"") < 0 ||
	    provauth_account_set_credential(a, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at-sample", 1700000000) < 0) {
		provauth_account_free(a);
		return NULL;
	}
	a->revision = 4;
	return a;
}

static void test_account_basics(void)
{
	provauth_account *a = NULL;
	char *id = NULL;
	size_t i;

	CU_ASSERT_EQUAL(provauth_account_new(&a, "", "p"), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(a);
	CU_ASSERT_EQUAL(provauth_account_new(&a, "x", NULL), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "x", "p"), 0);
	CU_ASSERT_STRING_EQUAL(a->metadata, "{}");
	CU_ASSERT_STRING_EQUAL(pa_account_metadata(a), "{}");
	CU_ASSERT_EQUAL(provauth_account_set(NULL, "v"), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_set(&a->email, "e"), 0);
	CU_ASSERT_STRING_EQUAL(a->email, "e");
	CU_ASSERT_EQUAL(provauth_account_set(&a->email, NULL), 0);
	CU_ASSERT_PTR_NULL(a->email);
	provauth_account_free(a);
	provauth_account_free(NULL);
	provauth_account_list_free(NULL, 3);
	CU_ASSERT_STRING_EQUAL(pa_account_metadata(NULL), "{}");

	CU_ASSERT_EQUAL_FATAL(provauth_account_new_id(&id), 0);
	CU_ASSERT_EQUAL(strlen(id), 21);
	CU_ASSERT_NSTRING_EQUAL(id, "acct-", 5);
	for (i = 5; i < 21; i++)
		CU_ASSERT(isxdigit((unsigned char)id[i]));
	free(id);
}

static void test_account_cookies_and_keys(void)
{
	provauth_account *a = sample_account();

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 2);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "sid"), "s1");
	/* Replace keeps one entry per name. */
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "sid", "s2"), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 2);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "sid"), "s2");
	/* Remove the first: the other one stays reachable. */
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "sid", NULL), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 1);
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "sid"));
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "csrf"), "c1");
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "absent", NULL), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 1);
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "", "v"), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, NULL, "v"), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, NULL));
	CU_ASSERT_PTR_NULL(provauth_account_cookie(NULL, "csrf"));

	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_API_KEY, "openapi"), "k1");
	CU_ASSERT_EQUAL(provauth_account_set_api_key(a, "openapi", "k2"), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_API_KEY), 1);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_API_KEY, "openapi"), "k2");
	CU_ASSERT_EQUAL(provauth_account_set_api_key(a, "other", "o1"), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_API_KEY), 2);
	CU_ASSERT_EQUAL(provauth_account_set_api_key(a, "openapi", NULL), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_API_KEY), 1);
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_API_KEY, "openapi"));
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_API_KEY, "other"), "o1");
	CU_ASSERT_EQUAL(provauth_account_set_api_key(a, "", "v"), PROVAUTH_EINVAL);
	provauth_account_free(a);
}

static void test_account_metadata(void)
{
	provauth_account *a = NULL;
	provauth_json *md;
	int64_t n = 0;

	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "acct-m", "pixverse"), 0);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "auth_method", "\"google\""), 0);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "auth_method", "\"password\""), 0);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_PASSWORD);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "health", "{\"state\":\"ok\",\"n\":2}"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "count", "5"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "flag", "true"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "gone", "null"), 0);
	md = parse(a->metadata);
	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	CU_ASSERT_STRING_EQUAL(pa_json_string(pa_json_get(md, "health.state")), "ok");
	CU_ASSERT_EQUAL(pa_json_int(pa_json_get(md, "count"), &n), 0);
	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_EQUAL(pa_json_type(pa_json_get(md, "flag")), PROVAUTH_JSON_BOOL);
	pa_json_free(md);
	/* Remove. */
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "auth_method", NULL), 0);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_PTR_NULL(strstr(a->metadata, "auth_method"));
	CU_ASSERT_PTR_NOT_NULL(strstr(a->metadata, "health"));
	/* Not JSON: refused, metadata untouched, the message names account and key. */
	{
		char *before = strdup(a->metadata);
		static const char *const bad[] = { "{bad", "google", "\"a\" x", "1 2", "{\"a\":1}}", "" };
		size_t i;

		for (i = 0; i < PA_ARRAY_LEN(bad); i++) {
			CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "k", bad[i]), PROVAUTH_EINVAL);
			CU_ASSERT_STRING_EQUAL(a->metadata, before);
		}
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "acct-m"));
		CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "metadata.k"));
		free(before);
	}
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "", "1"), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(NULL, "k", "1"), PROVAUTH_EINVAL);
	/* Unreadable stored metadata is replaced, not edited half-way. */
	CU_ASSERT_EQUAL(provauth_account_set(&a->metadata, "not json"), 0);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "x", "1"), 0);
	CU_ASSERT_STRING_EQUAL(a->metadata, "{\"x\":1}");
	provauth_account_free(a);
}

/*
 * The core's own state is typed (store schema 4): the old metadata keys set
 * the fields, read as the core always read them, and never reach the
 * metadata; copies carry it; a typed update setter wins over the old key.
 */
static void test_account_state(void)
{
	provauth_account *a = NULL, *b = NULL;
	provauth_update *u = NULL;
	int moved = 0;

	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "acct-s", "pixverse"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "user_id", "\"42\""), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "session_health",
	                                              "{\"state\":\"invalid\",\"reason\":\"logged_elsewhere\","
	                                              "\"code\":\"10005\",\"at\":1700000000,\"message\":\"m\"}"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "last_reauth_at", "1700000100"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "refresh_refused",
	                                              "{\"token\":\"sha256:0011223344556677\",\"at\":1700000200}"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "auth_method", "\"google\""), 0);
	CU_ASSERT_STRING_EQUAL(a->metadata, "{\"user_id\":\"42\"}");
	CU_ASSERT_EQUAL(a->state.auth_method, PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT(pa_streq(a->state.health.state, "invalid"));
	CU_ASSERT(pa_streq(a->state.health.reason, "logged_elsewhere"));
	CU_ASSERT(pa_streq(a->state.health.code, "10005"));
	CU_ASSERT(pa_streq(a->state.health.message, "m"));
	CU_ASSERT_EQUAL(a->state.health.at, 1700000000);
	CU_ASSERT_EQUAL(a->state.last_reauth_at, 1700000100);
	CU_ASSERT(pa_streq(a->state.refresh_refused, "sha256:0011223344556677"));
	CU_ASSERT_EQUAL(a->state.refresh_refused_at, 1700000200);
	/* A timestamp the core never wrote (a string) reads as none, as it always did. */
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "last_reauth_at", "\"1700000100\""), 0);
	CU_ASSERT_EQUAL(a->state.last_reauth_at, 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(a, "last_reauth_at", "1700000100"), 0);

	CU_ASSERT_EQUAL_FATAL(provauth_account_dup(&b, a), 0);
	CU_ASSERT(pa_account_state_equal(&a->state, &b->state));
	CU_ASSERT(pa_account_same_credentials(a, b));
	CU_ASSERT_PTR_NOT_EQUAL(a->state.health.state, b->state.health.state);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(b, "session_health", NULL), 0);
	CU_ASSERT_PTR_NULL(b->state.health.state);
	CU_ASSERT_FALSE(pa_account_same_credentials(a, b));
	provauth_account_free(b);

	/* The migration's bridge: old keys out of the metadata, provider keys left. */
	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&b, "acct-old", "pixverse"), 0);
	CU_ASSERT_EQUAL(provauth_account_set(&b->metadata,
	                                     "{\"auth_method\":\"password\",\"trace_id\":\"t\",\"last_reauth_at\":5}"), 0);
	CU_ASSERT_EQUAL(pa_account_state_from_metadata(b, &moved), 0);
	CU_ASSERT_EQUAL(moved, 1);
	CU_ASSERT_STRING_EQUAL(b->metadata, "{\"trace_id\":\"t\"}");
	CU_ASSERT_EQUAL(b->state.auth_method, PROVAUTH_AUTH_PASSWORD);
	CU_ASSERT_EQUAL(b->state.last_reauth_at, 5);
	/* Metadata the core could never read stays as it is. */
	CU_ASSERT_EQUAL(provauth_account_set(&b->metadata, "not json \"auth_method\""), 0);
	CU_ASSERT_EQUAL(pa_account_state_from_metadata(b, &moved), 0);
	CU_ASSERT_EQUAL(moved, 0);
	CU_ASSERT_STRING_EQUAL(b->metadata, "not json \"auth_method\"");
	provauth_account_free(b);

	/* The plugins' typed setter: applied after (and over) an old key. */
	CU_ASSERT_EQUAL_FATAL(pa_update_new(&u), 0);
	CU_ASSERT(pa_update_is_empty(u));
	CU_ASSERT_EQUAL(pa_update_set_auth_method(u, (provauth_auth_method)7), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_update_set_auth_method(NULL, PROVAUTH_AUTH_GOOGLE), PROVAUTH_EINVAL);
	CU_ASSERT(pa_update_is_empty(u));
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "auth_method", "\"google\""), 0);
	CU_ASSERT_EQUAL(pa_update_set_auth_method(u, PROVAUTH_AUTH_PASSWORD), 0);
	CU_ASSERT_EQUAL(pa_update_apply(u, a), 0);
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_PASSWORD);
	CU_ASSERT_STRING_EQUAL(a->metadata, "{\"user_id\":\"42\"}");
	pa_update_free(u);
	provauth_account_free(a);
}

static void test_auth_method_names(void)
{
	CU_ASSERT_EQUAL(provauth_auth_method_parse("password"), PROVAUTH_AUTH_PASSWORD);
	CU_ASSERT_EQUAL(provauth_auth_method_parse("google"), PROVAUTH_AUTH_GOOGLE);
	CU_ASSERT_EQUAL(provauth_auth_method_parse("Google"), PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_EQUAL(provauth_auth_method_parse(""), PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_EQUAL(provauth_auth_method_parse(NULL), PROVAUTH_AUTH_UNKNOWN);
	CU_ASSERT_STRING_EQUAL(provauth_auth_method_name(PROVAUTH_AUTH_PASSWORD), "password");
	CU_ASSERT_STRING_EQUAL(provauth_auth_method_name(PROVAUTH_AUTH_GOOGLE), "google");
	CU_ASSERT_STRING_EQUAL(provauth_auth_method_name(PROVAUTH_AUTH_UNKNOWN), "unknown");
	CU_ASSERT_EQUAL(provauth_auth_method_parse(provauth_auth_method_name(PROVAUTH_AUTH_GOOGLE)),
	                PROVAUTH_AUTH_GOOGLE);
}

static void test_account_dup(void)
{
	provauth_account *a = sample_account(), *b = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "rt", 0), 0);
	CU_ASSERT_EQUAL_FATAL(provauth_account_dup(&b, a), 0);
	CU_ASSERT_PTR_NOT_EQUAL(a->credentials, b->credentials);
	CU_ASSERT_PTR_NOT_EQUAL(PA_CRED(a, JWT),
	                        PA_CRED(b, JWT));
	CU_ASSERT(pa_account_same_credentials(a, b));
	CU_ASSERT_EQUAL(b->revision, 4);
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(b, ACCESS_TOKEN), 1700000000);
	/* Bookkeeping fields are not credentials. */
	b->revision = 9;
	b->updated_at = 123;
	CU_ASSERT(pa_account_same_credentials(a, b));
	/* Every credential counts. */
	CU_ASSERT_EQUAL(provauth_account_set_cookie(b, "sid", "other"), 0);
	CU_ASSERT(!pa_account_same_credentials(a, b));
	CU_ASSERT_EQUAL(provauth_account_set_cookie(b, "sid", "s1"), 0);
	CU_ASSERT(pa_account_same_credentials(a, b));
	CU_ASSERT_EQUAL(provauth_account_set_credential(b, PROVAUTH_CRED_REFRESH_TOKEN, NULL, NULL, 0), 0);
	CU_ASSERT(!pa_account_same_credentials(a, b));
	CU_ASSERT_EQUAL(provauth_account_set_credential(b, PROVAUTH_CRED_REFRESH_TOKEN, NULL, "rt", 0), 0);
	CU_ASSERT_EQUAL(provauth_account_set_credential(b, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at-sample", 1700000001), 0);
	CU_ASSERT(!pa_account_same_credentials(a, b));
	CU_ASSERT_EQUAL(provauth_account_set_credential(b, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at-sample", 1700000000), 0);
	CU_ASSERT_EQUAL(provauth_account_set_metadata(b, "x", "1"), 0);
	CU_ASSERT(!pa_account_same_credentials(a, b));
	provauth_account_free(b);
	b = NULL;
	CU_ASSERT_EQUAL(provauth_account_dup(&b, NULL), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NULL(b);
	provauth_account_free(a);
}

/* ------------------------------------------------------------------------ */
/* update.c                                                                 */
/* ------------------------------------------------------------------------ */

static void test_update_apply(void)
{
	provauth_account *a = sample_account();
	provauth_update *u = NULL;
	provauth_json *md;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL_FATAL(pa_update_new(&u), 0);
	CU_ASSERT(pa_update_is_empty(u));
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_JWT, NULL, "jwt-old", 0), 0);
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_JWT, NULL, "jwt-new", 0), 0);   /* later wins */
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_ACCESS_TOKEN, NULL, "at", 1800000000), 0);
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_PASSWORD, NULL, NULL, 0), 0);   /* clears */
	CU_ASSERT_EQUAL(pa_update_set_credential(u, "", NULL, "x", 0), PROVAUTH_EINVAL);          /* no kind */
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_JWT, "x", "x", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, "sid", "s-old", 0), 0);
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, "sid", "s-new", 0), 0); /* later wins */
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, "csrf", NULL, 0), 0);   /* removes */
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, "", "v", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "auth_method", "\"google\""), 0);
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "n", "1"), 0);
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "n", "2"), 0);                 /* later wins */
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "flag", "false"), 0);
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "nil", "null"), 0);
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "bad", "{nope"), PROVAUTH_EINVAL);
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "metadata.bad"));
	CU_ASSERT_EQUAL(pa_update_set_metadata(u, "bad", "1 2"), PROVAUTH_EINVAL);
	CU_ASSERT(!pa_update_is_empty(u));

	CU_ASSERT_EQUAL_FATAL(pa_update_apply(u, a), 0);
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), "jwt-new");
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, ACCESS_TOKEN), "at");
	CU_ASSERT_PTR_NULL(PA_CRED(a, PASSWORD));
	CU_ASSERT_STRING_EQUAL(a->email, "a@example.com");      /* untouched */
	CU_ASSERT_EQUAL(PA_CRED_EXPIRES(a, ACCESS_TOKEN), 1800000000);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 1);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "sid"), "s-new");
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "csrf"));
	CU_ASSERT_EQUAL(provauth_account_auth_method(a), PROVAUTH_AUTH_GOOGLE);
	md = parse(a->metadata);
	CU_ASSERT_PTR_NOT_NULL_FATAL(md);
	{
		int64_t n = 0;
		CU_ASSERT_EQUAL(pa_json_int(pa_json_get(md, "n"), &n), 0);
		CU_ASSERT_EQUAL(n, 2);
	}
	CU_ASSERT_EQUAL(pa_json_type(pa_json_get(md, "flag")), PROVAUTH_JSON_BOOL);
	CU_ASSERT_PTR_NULL(pa_json_get(md, "bad"));
	pa_json_free(md);
	pa_update_free(u);
	provauth_account_free(a);
}

static void test_update_clear_cookies(void)
{
	provauth_account *a = sample_account();
	provauth_update *u = NULL;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	CU_ASSERT_EQUAL_FATAL(pa_update_new(&u), 0);
	/* A cookie set before the clear is dropped with the rest... */
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, "early", "e", 0), 0);
	CU_ASSERT_EQUAL(pa_update_clear_credentials(u, PROVAUTH_CRED_COOKIE), 0);
	CU_ASSERT(!pa_update_is_empty(u));
	/* ...one set after it survives. */
	CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, "fresh", "f", 0), 0);
	CU_ASSERT_EQUAL_FATAL(pa_update_apply(u, a), 0);
	CU_ASSERT_EQUAL(pa_test_count(a, PROVAUTH_CRED_COOKIE), 1);
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "fresh"), "f");
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "sid"));
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "early"));
	/* Other credentials are untouched by a cookie-only update. */
	CU_ASSERT_STRING_EQUAL(PA_CRED(a, JWT), "jwt");
	CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_API_KEY, "openapi"), "k1");
	pa_update_free(u);

	/* An empty update changes nothing. */
	{
		provauth_account *copy = NULL;
		CU_ASSERT_EQUAL_FATAL(pa_update_new(&u), 0);
		CU_ASSERT(pa_update_is_empty(u));
		CU_ASSERT_EQUAL_FATAL(provauth_account_dup(&copy, a), 0);
		CU_ASSERT_EQUAL(pa_update_apply(u, a), 0);
		CU_ASSERT(pa_account_same_credentials(a, copy));
		provauth_account_free(copy);
		pa_update_free(u);
	}
	pa_update_free(NULL);
	CU_ASSERT_EQUAL(pa_update_set_credential(NULL, PROVAUTH_CRED_COOKIE, "a", "b", 0), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_update_clear_credentials(NULL, PROVAUTH_CRED_COOKIE), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_update_set_metadata(NULL, "a", "1"), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(pa_update_set_email(NULL, "a@example.com"), PROVAUTH_EINVAL);
	provauth_account_free(a);
}

static size_t cookie_bytes(const provauth_account *a)
{
	size_t i, n = 0;

	for (i = 0; i < pa_test_count(a, PROVAUTH_CRED_COOKIE); i++)
		n += strlen(pa_test_nth(a, PROVAUTH_CRED_COOKIE, i)->name) +
		     strlen(pa_test_nth(a, PROVAUTH_CRED_COOKIE, i)->value) + 3;  /* "; " and "=" */
	return n;
}

/*
 * A server that sets new cookie names on every login must not grow the jar
 * without end (every call sends all of it): the jar keeps at most
 * PA_COOKIES_MAX_COUNT cookies and PA_COOKIES_MAX_BYTES, dropping the
 * oldest cookies the update did not set, and a cookie of the same name is
 * replaced in place.
 */
static void test_update_cookie_jar_bounded(void)
{
	provauth_account *a = sample_account();
	char name[32], value[600];
	int login, i;

	CU_ASSERT_PTR_NOT_NULL_FATAL(a);
	memset(value, 'c', sizeof(value) - 1);
	value[sizeof(value) - 1] = '\0';
	for (login = 0; login < 40; login++) {
		provauth_update *u = NULL;

		CU_ASSERT_EQUAL_FATAL(pa_update_new(&u), 0);
		CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, "_ai_token",
		                                         login % 2 ? "tok-odd" : "tok-even", 0), 0);
		for (i = 0; i < 20; i++) {
			snprintf(name, sizeof(name), "junk%d_%d", login, i);
			CU_ASSERT_EQUAL(pa_update_set_credential(u, PROVAUTH_CRED_COOKIE, name, login < 20 ? "small" : value, 0),
			                0);
		}
		CU_ASSERT_EQUAL_FATAL(pa_update_apply(u, a), 0);
		pa_update_free(u);
		CU_ASSERT(pa_test_count(a, PROVAUTH_CRED_COOKIE) <= PA_COOKIES_MAX_COUNT);
		CU_ASSERT(cookie_bytes(a) <= PA_COOKIES_MAX_BYTES);
		/* What this login set is all there. */
		CU_ASSERT_STRING_EQUAL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "_ai_token"),
		                       login % 2 ? "tok-odd" : "tok-even");
		snprintf(name, sizeof(name), "junk%d_19", login);
		CU_ASSERT_PTR_NOT_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, name));
		snprintf(name, sizeof(name), "junk%d_0", login);
		CU_ASSERT_PTR_NOT_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, name));
	}
	/* The oldest went first. */
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "junk0_0"));
	CU_ASSERT_PTR_NULL(provauth_account_credential(a, PROVAUTH_CRED_COOKIE, "sid"));
	/* One name once: replaced, never added again. */
	login = 0;
	for (i = 0; i < (int)pa_test_count(a, PROVAUTH_CRED_COOKIE); i++)
		login += strcmp(pa_test_nth(a, PROVAUTH_CRED_COOKIE, i)->name, "_ai_token") == 0;
	CU_ASSERT_EQUAL(login, 1);
	provauth_account_free(a);
}

/* ------------------------------------------------------------------------ */
/* failure.c                                                                */
/* ------------------------------------------------------------------------ */

static void test_failure_setters(void)
{
	provauth_failure f;

	memset(&f, 0, sizeof(f));
	provauth_failure_clear(&f);
	CU_ASSERT_EQUAL(f.retry_after, -1);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_NONE);

	CU_ASSERT_EQUAL(provauth_failure_set_http(&f, 401, "{\"ErrCode\":10005}", 17, -1), 0);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_HTTP);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_EHTTP);
	CU_ASSERT_EQUAL(f.http_status, 401);
	CU_ASSERT_EQUAL(f.body_len, 17);
	CU_ASSERT_STRING_EQUAL(f.body, "{\"ErrCode\":10005}");
	provauth_failure_clear(&f);

	CU_ASSERT_EQUAL(provauth_failure_set_http(&f, 429, "slow down", 4, 30), 0);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_ERATELIMIT);
	CU_ASSERT_EQUAL(f.retry_after, 30);
	CU_ASSERT_EQUAL(f.body_len, 4);
	CU_ASSERT_STRING_EQUAL(f.body, "slow");       /* only body_len bytes, NUL-terminated */
	/* A later reply replaces the earlier one, code included. */
	CU_ASSERT_EQUAL(provauth_failure_set_http(&f, 500, NULL, 0, -1), 0);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_EHTTP);
	CU_ASSERT_PTR_NULL(f.body);
	CU_ASSERT_EQUAL(f.body_len, 0);
	CU_ASSERT_EQUAL(provauth_failure_set_http(&f, 429, NULL, 0, 5), 0);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_ERATELIMIT);
	provauth_failure_clear(&f);
	CU_ASSERT_EQUAL(f.retry_after, -1);
	CU_ASSERT_PTR_NULL(f.body);
	CU_ASSERT_EQUAL(f.code, 0);

	/* A code the operation chose is kept when the reply is attached. */
	CU_ASSERT_EQUAL(provauth_failure_set_message(&f, PROVAUTH_EPROVIDER, "api said %d", 7), 0);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_MESSAGE);
	CU_ASSERT_STRING_EQUAL(f.message, "api said 7");
	CU_ASSERT_EQUAL(provauth_failure_set_http(&f, 200, "{}", 2, -1), 0);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_EPROVIDER);
	CU_ASSERT_STRING_EQUAL(f.message, "api said 7");
	provauth_failure_clear(&f);

	/* A non-negative code becomes the generic one. */
	CU_ASSERT_EQUAL(provauth_failure_set_message(&f, 5, "x"), 0);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_ERROR);
	CU_ASSERT_EQUAL(provauth_failure_set_transport(&f, PROVAUTH_ETIMEOUT, "timed out"), 0);
	CU_ASSERT_EQUAL(f.kind, PROVAUTH_FAILURE_TRANSPORT);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_ETIMEOUT);
	CU_ASSERT_STRING_EQUAL(f.message, "timed out");
	CU_ASSERT_EQUAL(provauth_failure_set_transport(&f, 0, NULL), 0);
	CU_ASSERT_EQUAL(f.code, PROVAUTH_ENETWORK);
	CU_ASSERT_PTR_NULL(f.message);
	provauth_failure_clear(&f);

	CU_ASSERT_EQUAL(provauth_failure_set_http(NULL, 500, NULL, 0, -1), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_failure_set_message(NULL, -1, "x"), PROVAUTH_EINVAL);
	CU_ASSERT_EQUAL(provauth_failure_set_transport(NULL, -1, "x"), PROVAUTH_EINVAL);
	provauth_failure_clear(NULL);
}

/* ------------------------------------------------------------------------ */

/* ------------------------------------------------------------------------ */
/* harden.c                                                                 */
/* ------------------------------------------------------------------------ */

/* Whether /proc/self/limits says "Max core file size 0 0". */
static int core_limit_zero_in_proc(void)
{
	char line[256];
	FILE *f = fopen("/proc/self/limits", "r");
	int zero = 0;

	while (f && fgets(line, sizeof(line), f))
		if (strncmp(line, "Max core file size", 18) == 0) {
			unsigned long soft = 1, hard = 1;
			zero = sscanf(line + 18, "%lu %lu", &soft, &hard) == 2 && soft == 0 && hard == 0;
		}
	if (f)
		fclose(f);
	return zero;
}

/*
 * In a child, since the flag cannot be undone by an unprivileged process:
 * after the call the process is not dumpable and may dump no core.
 */
static void test_process_harden(void)
{
	int before = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), status = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	CU_ASSERT_FATAL(pid >= 0);
	if (pid == 0) {
		struct rlimit rl;
		int bad = 0;

		if (provauth_process_harden() != 0)
			bad |= 1;
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			bad |= 2;
		if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
			bad |= 4;
		if (!core_limit_zero_in_proc())
			bad |= 8;
		/* Twice is fine. */
		if (provauth_process_harden() != 0)
			bad |= 16;
		_exit(bad);
	}
	CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
	CU_ASSERT(WIFEXITED(status));
	CU_ASSERT_EQUAL(WEXITSTATUS(status), 0);
	/* The parent is untouched. */
	CU_ASSERT_EQUAL(prctl(PR_GET_DUMPABLE, 0, 0, 0, 0), before);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "base64 decode", test_base64 },
		{ "digest_hex", test_digest },
		{ "url_escape", test_url_escape },
		{ "uuid4", test_uuid4 },
		{ "json parse", test_json_parse },
		{ "json NUL in a string refused", test_json_nul_refused },
		{ "json depth limit", test_json_depth },
		{ "json NULL safety", test_json_null_safety },
		{ "json build and dotted paths", test_json_build_and_path },
		{ "json_int", test_json_int },
		{ "log redaction", test_log_redaction },
		{ "log levels", test_log_levels },
		{ "log sinks", test_log_sinks },
		{ "log file sink", test_log_file_sink },
		{ "account basics", test_account_basics },
		{ "account cookies and API keys", test_account_cookies_and_keys },
		{ "account metadata", test_account_metadata },
		{ "account state: typed, copied, from the old keys", test_account_state },
		{ "auth method names", test_auth_method_names },
		{ "account dup", test_account_dup },
		{ "update apply", test_update_apply },
		{ "update clear_cookies", test_update_clear_cookies },
		{ "update keeps the cookie jar bounded", test_update_cookie_jar_bounded },
		{ "process harden", test_process_harden },
		{ "failure setters", test_failure_setters },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "services", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
