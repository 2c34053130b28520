/*
 * Quoting server text (core/util/redact.c, host->text_excerpt): what a server
 * echoes of a request's secrets, re-cased, cut or with separators put in,
 * is never quoted; what is quoted is bounded and printable.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "internal.h"
#include "../support/pa_test.h"

static int repeats(const char *text, const char *secret)
{
	const char *s[] = { secret };
	return pa_text_repeats_secret(text, text ? strlen(text) : 0, s, 1);
}

static void test_normalise(void)
{
	char out[64];
	size_t n = pa_text_normalise(out, "A.b-C_9 \x01\xc3\xa9Z", 12);

	CU_ASSERT_EQUAL(n, 5);
	CU_ASSERT_NSTRING_EQUAL(out, "abc9z", 5);
	CU_ASSERT_EQUAL(pa_text_normalise(out, "--..", 4), 0);
}

/* The red team's three echoes, and the cases around them. */
static void test_repeats(void)
{
	const char *password = "correct-Horse_42!";
	const char *token = "x7Kq2mZp9RtY4wVb8nLc";

	/* the password upper-cased, with characters put in */
	CU_ASSERT(repeats("Wrong password: C*O*R*R*E*C*T-H*O*R*S*E 42", password));
	CU_ASSERT(repeats("CORRECTHORSE42", password));
	/* a refresh token split by dots, and only a part of it */
	CU_ASSERT(repeats("x7Kq.2mZp.9RtY", token));
	CU_ASSERT(repeats("ZP9RTY4W", token));
	/* a cookie header echoed back, upper-cased */
	CU_ASSERT(repeats("bad cookies: LANG=EN; SESSION=X7KQ2MZP9RTY4WVB8NLC", token));
	/* seven characters are no piece */
	CU_ASSERT_FALSE(repeats("x7Kq2mZ", token));
	CU_ASSERT_FALSE(repeats("invalid_grant", token));
	CU_ASSERT_FALSE(repeats("The password is incorrect.", password));
	/* a secret shorter than a piece counts whole, from PA_SECRET_MIN characters */
	CU_ASSERT(repeats("echo: S-H-O-R-T-1", "short1"));
	CU_ASSERT_FALSE(repeats("echo: short", "short1"));
	/* shorter still, it would match ordinary words: not matched */
	CU_ASSERT_FALSE(repeats("HTTP 401 en", "en"));
	CU_ASSERT_FALSE(repeats("anything", ""));
	CU_ASSERT_FALSE(repeats("anything", "-.-.-.-.-.-.-"));
	CU_ASSERT_FALSE(repeats(NULL, token));
	CU_ASSERT_FALSE(repeats("anything", NULL));
	{
		/* any of several secrets; NULL entries are skipped */
		const char *s[] = { NULL, "first-secret-1", token };
		CU_ASSERT(pa_text_repeats_secret("..x7kq2mzp..", 12, s, 3));
		/* only len bytes of the text count */
		CU_ASSERT_FALSE(pa_text_repeats_secret("x7kq2mzp", 7, s, 3));
	}
}

static void test_excerpt(void)
{
	const char *s[] = { "x7Kq2mZp9RtY4wVb8nLc" };
	char out[PA_EXCERPT_MAX + 16], big[400];
	size_t i;

	CU_ASSERT_EQUAL(pa_text_excerpt(out, sizeof(out), "Token is invalid", 16, s, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "Token is invalid");
	/* control characters and anything not ASCII become '?' */
	CU_ASSERT_EQUAL(pa_text_excerpt(out, sizeof(out), "a\x1b[2Jb\n\xc3\xa9", 9, s, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "a?[2Jb???");
	/* bounded */
	memset(big, 'a', sizeof(big));
	CU_ASSERT_EQUAL(pa_text_excerpt(out, sizeof(out), big, sizeof(big), s, 1), 0);
	CU_ASSERT_EQUAL(strlen(out), PA_EXCERPT_MAX + 3);
	CU_ASSERT_STRING_EQUAL(out + PA_EXCERPT_MAX, "...");
	/* ... and by the buffer */
	CU_ASSERT_EQUAL(pa_text_excerpt(out, 10, big, sizeof(big), s, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "aaaaaa...");
	/* withheld whole, not cut around the secret */
	CU_ASSERT_EQUAL(pa_text_excerpt(out, sizeof(out), "bad: X7KQ-2MZP-9RTY", 19, s, 1), 1);
	CU_ASSERT_STRING_EQUAL(out, PA_TEXT_WITHHELD);
	/* the secret far past the excerpt's bound still withholds it */
	memcpy(big + 300, "X7KQ2MZP", 8);
	CU_ASSERT_EQUAL(pa_text_excerpt(out, sizeof(out), big, sizeof(big), s, 1), 1);
	for (i = 0; i < 2; i++)
		CU_ASSERT_EQUAL(pa_text_excerpt(out, sizeof(out), i ? NULL : "", 0, s, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "");
}

/* The same check reaches plugins as host->text_excerpt (ABI 1.4). */
static void test_host_service(void)
{
	pa_host_ctx ctx;
	provauth_host h;
	const char *s[] = { "Pw7-Xq2-Zk9-Lm4" };
	char out[64];

	memset(&ctx, 0, sizeof(ctx));
	pa_host_init(&h, &ctx);
	CU_ASSERT(PROVAUTH_HOST_HAS(&h, text_excerpt));
	/* at least 1.4, where the service came in */
	CU_ASSERT(h.abi_major > 1 || (h.abi_major == 1 && h.abi_minor >= 4));
	CU_ASSERT_EQUAL(h.text_excerpt(&h, out, sizeof(out), "PW7XQ2ZK9?", 10, s, 1), 1);
	CU_ASSERT_PTR_NOT_NULL(strstr(out, "withheld"));
	CU_ASSERT_EQUAL(h.text_excerpt(&h, out, sizeof(out), "wrong password", 14, s, 1), 0);
	CU_ASSERT_STRING_EQUAL(out, "wrong password");
	CU_ASSERT_EQUAL(h.text_excerpt(&h, out, sizeof(out), "x", 1, NULL, 3), 0);
	CU_ASSERT_STRING_EQUAL(out, "x");
	CU_ASSERT_EQUAL(h.text_excerpt(&h, NULL, 0, "x", 1, s, 1), PROVAUTH_EINVAL);
}

/* The manager's own net: a plugin message echoing any credential of the account. */
static void test_error_scrub(void)
{
	provauth_account *a = NULL;

	CU_ASSERT_EQUAL_FATAL(provauth_account_new(&a, "acct-1", "pixverse"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_cookie(a, "session", "Cookie-Value-0042"), 0);
	CU_ASSERT_EQUAL(provauth_account_set_credential(a, PROVAUTH_CRED_PASSWORD, NULL, "hunter2-Qzx7Vb", 0), 0);

	pa_error_set(PROVAUTH_EAUTH, "pixverse: refused: COOKIE VALUE 0042");
	CU_ASSERT_EQUAL(pa_error_scrub(PROVAUTH_EAUTH, a, NULL), PROVAUTH_EAUTH);
	CU_ASSERT_PTR_NULL(strstr(provauth_last_error(), "0042"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "withheld"));
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "pixverse"));

	pa_error_set(PROVAUTH_EAUTH, "refused: n-e-w-p-a-s-s-9");
	pa_error_scrub(PROVAUTH_EAUTH, a, "NewPass9");
	CU_ASSERT_PTR_NOT_NULL(strstr(provauth_last_error(), "withheld"));

	pa_error_set(PROVAUTH_EAUTH, "pixverse: the password is incorrect");
	pa_error_scrub(PROVAUTH_EAUTH, a, NULL);
	CU_ASSERT_STRING_EQUAL(provauth_last_error(), "pixverse: the password is incorrect");
	/* success leaves the message alone */
	pa_error_set(PROVAUTH_OK, "HUNTER2QZX7VB");
	pa_error_scrub(0, a, NULL);
	CU_ASSERT_STRING_EQUAL(provauth_last_error(), "HUNTER2QZX7VB");
	CU_ASSERT(pa_message_repeats_account_secret("hunter2qzx7vb", a, NULL));
	CU_ASSERT_FALSE(pa_message_repeats_account_secret(NULL, a, NULL));
	CU_ASSERT_FALSE(pa_message_repeats_account_secret("hunter2qzx7vb", NULL, NULL));
	provauth_account_free(a);
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "normalise", test_normalise },
		{ "repeats a secret in any case or spacing", test_repeats },
		{ "excerpt", test_excerpt },
		{ "host service text_excerpt", test_host_service },
		{ "manager scrubs plugin messages", test_error_scrub },
		PA_TEST_END
	};
	static const pa_test_suite suites[] = {
		{ "redact", NULL, NULL, tests },
		PA_TEST_SUITE_END
	};

	return pa_test_run(argc, argv, suites);
}
