/*
 * Server text against the secrets of the request that drew it. A server
 * may echo what it was sent: whole, cut, re-cased, or with separators put
 * in ("AB.CD.EF"). Text and secrets are therefore compared as their
 * lowercase ASCII letters and digits only, and text holding any 8-character
 * piece of a secret so normalised (all of a shorter one) is never quoted:
 * a fixed note stands in its place. What is quoted is a bounded excerpt
 * with anything but printable ASCII replaced, so it cannot smuggle a
 * secret in another alphabet or move the terminal either.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static int alnum_lower(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A' + 'a';
	if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
		return c;
	return 0;
}

size_t pa_text_normalise(char *out, const char *s, size_t len)
{
	size_t i, n = 0;

	for (i = 0; i < len; i++) {
		int c = alnum_lower((unsigned char)s[i]);
		if (c)
			out[n++] = (char)c;
	}
	return n;
}

/* Whether the normalised text holds a piece of the normalised secret. */
static int holds_piece(const char *text, size_t tlen, const char *secret, size_t slen)
{
	size_t w, i;

	if (slen < PA_SECRET_MIN)
		return 0;
	w = slen < PA_SECRET_PIECE ? slen : PA_SECRET_PIECE;
	if (tlen < w)
		return 0;
	/* Every w-long window of the text looked up in the secret: the text is the short side. */
	for (i = 0; i + w <= tlen; i++)
		if (memmem(secret, slen, text + i, w))
			return 1;
	return 0;
}

int pa_text_repeats_secret(const char *text, size_t len, const char *const *secrets, size_t nsecrets)
{
	char *nt, *ns = NULL;
	size_t tlen, i, cap = 0;
	int hit = 0;

	if (!text || !secrets)
		return 0;
	/* Out of memory the text cannot be cleared, so it counts as repeating one. */
	if (!(nt = malloc(len + 1)))
		return 1;
	tlen = pa_text_normalise(nt, text, len);
	for (i = 0; i < nsecrets && !hit; i++) {
		size_t sl, nl;
		if (!secrets[i])
			continue;
		sl = strlen(secrets[i]);
		if (sl + 1 > cap) {
			char *grown;
			pa_wipe(ns, cap);
			free(ns);
			ns = NULL;
			cap = 0;
			if (!(grown = malloc(sl + 1))) {
				hit = 1;
				break;
			}
			ns = grown;
			cap = sl + 1;
		}
		nl = pa_text_normalise(ns, secrets[i], sl);
		hit = holds_piece(nt, tlen, ns, nl);
	}
	/* The normalised copies are as secret as what they were made from. */
	pa_wipe(ns, cap);
	free(ns);
	pa_wipe(nt, len + 1);
	free(nt);
	return hit;
}

int pa_text_excerpt(char *out, size_t size, const char *text, size_t len, const char *const *secrets,
                    size_t nsecrets)
{
	size_t i, o = 0;

	if (!out || !size)
		return 0;
	out[0] = '\0';
	if (!text)
		return 0;
	if (pa_text_repeats_secret(text, len, secrets, nsecrets)) {
		snprintf(out, size, "%s", PA_TEXT_WITHHELD);
		return 1;
	}
	for (i = 0; i < len && o + 4 < size; i++) {
		unsigned char c = (unsigned char)text[i];
		if (i >= PA_EXCERPT_MAX) {
			snprintf(out + o, size - o, "...");
			return 0;
		}
		out[o++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	if (i < len && o + 4 >= size && size >= 4) {
		/* Cut by the buffer: say so rather than end mid-word silently. */
		o = size - 4;
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
	return 0;
}

/* The account's secrets (and `extra`), for pa_text_repeats_secret; free the array only. */
static const char **account_secrets(const provauth_account *a, const char *extra, size_t *n)
{
	const char **s;
	provauth_credential c;
	size_t i, k = 0, count = provauth_account_credential_count(a);

	if (!(s = calloc(1 + count, sizeof(*s))))
		return NULL;
	s[k++] = extra;
	/*
	 * Every credential's value, whatever its kind: which cookie a server
	 * treats as a credential is its business.
	 */
	for (i = 0; i < count; i++)
		if (provauth_account_credential_at(&c, a, i) == 0)
			s[k++] = c.value;
	*n = k;
	return s;
}

int pa_message_repeats_account_secret(const char *msg, const provauth_account *a, const char *extra)
{
	const char **secrets;
	size_t n = 0;
	int hit;

	if (!msg)
		return 0;
	if (!(secrets = account_secrets(a, extra, &n)))
		return 1;
	hit = pa_text_repeats_secret(msg, strlen(msg), secrets, n);
	free(secrets);
	return hit;
}

int pa_error_scrub(int code, const provauth_account *a, const char *extra)
{
	if (code < 0 && pa_message_repeats_account_secret(provauth_last_error(), a, extra))
		pa_error_set(code, "%s: %s (the provider's message was withheld: it repeats a credential of the account)",
		             a && a->provider ? a->provider : "provider", provauth_strerror(code));
	return code;
}

void pa_conninfo_reason(char *out, size_t size, const char *why)
{
	static const char *const names_option[] = { "invalid connection option", "invalid URI query parameter" };
	size_t i, n = 0;
	int keep_quoted = 0;

	if (!why)
		why = "out of memory";
	for (i = 0; i < PA_ARRAY_LEN(names_option); i++)
		if (!strncmp(why, names_option[i], strlen(names_option[i])))
			keep_quoted = 1;
	for (; *why && *why != '\n' && n + 1 < size; why++) {
		if (*why == '"' && !keep_quoted)
			break;
		out[n++] = (*why >= 0x20 && *why < 0x7f) ? *why : '?';
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == ':'))
		n--;
	out[n] = '\0';
}
