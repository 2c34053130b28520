/*
 * Quoting server text (core/util/redact.c, host->text_excerpt): for any text and
 * secret, the excerpt is NUL-terminated, bounded and printable ASCII, it is
 * withheld exactly when the text repeats the secret, and what is quoted
 * holds no piece of the secret however the server re-cased or split it.
 * Input: one byte n, then n bytes of secret (fewer if the input ends), then
 * the text.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[PA_EXCERPT_MAX + 8], *secret, *text, *ns, *no;
	const char *secrets[1];
	size_t n, tlen, slen, olen, i, w;
	int withheld, hit;

	if (size < 1)
		return 0;
	n = data[0];
	if (n > size - 1)
		n = size - 1;
	/* Exact-size copies, so that ASan sees any read past the end; the secret is a C string. */
	secret = malloc(n + 1);
	tlen = size - 1 - n;
	text = malloc(tlen ? tlen : 1);
	if (!secret || !text)
		pa_fuzz_fail("out of memory");
	memcpy(secret, data + 1, n);
	secret[n] = '\0';
	if (tlen)
		memcpy(text, data + 1 + n, tlen);
	secrets[0] = secret;

	withheld = pa_text_excerpt(out, sizeof(out), text, tlen, secrets, 1);
	hit = pa_text_repeats_secret(text, tlen, secrets, 1);
	PA_FUZZ_CHECK(withheld == 0 || withheld == 1);
	PA_FUZZ_CHECK(withheld == hit);
	olen = strlen(out);
	PA_FUZZ_CHECK(olen < sizeof(out));
	for (i = 0; i < olen; i++)
		PA_FUZZ_CHECK(out[i] >= 0x20 && out[i] < 0x7f);
	if (withheld)
		PA_FUZZ_CHECK(strcmp(out, PA_TEXT_WITHHELD) == 0);

	/* Whatever is quoted repeats no piece of the secret, compared the same way. */
	slen = strlen(secret);
	ns = malloc(slen + 1);
	no = malloc(olen + 1);
	if (!ns || !no)
		pa_fuzz_fail("out of memory");
	slen = pa_text_normalise(ns, secret, slen);
	olen = pa_text_normalise(no, out, olen);
	if (!withheld && slen >= PA_SECRET_MIN) {
		w = slen < PA_SECRET_PIECE ? slen : PA_SECRET_PIECE;
		for (i = 0; i + w <= olen; i++)
			if (memmem(ns, slen, no + i, w))
				pa_fuzz_fail("the excerpt repeats %zu characters of the secret", w);
	}
	free(no);
	free(ns);
	free(text);
	free(secret);
	return 0;
}
