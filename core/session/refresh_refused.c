/*
 * The stored mark of a refresh token the provider refused for good
 * (state.refresh_refused, a metadata key before store schema 4). A process that starts later reads it and does
 * not send the dead token again: each new process would otherwise try it
 * once more, and a provider that counts failed grants may block the client.
 *
 * The mark names the token by a digest, never the token: anything stored in
 * clear could leak it. Refresh tokens are long random strings, so a plain
 * SHA-256 cannot be reversed, and unlike the logs' keyed fingerprints it
 * reads the same in every process. New credentials (a re-import) have
 * another digest, so the mark no longer applies to them.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include <openssl/evp.h>
#include "internal.h"

/* "sha256:" + 16 hex digits: enough to tell tokens apart, and short. */
#define PA_REFUSED_DIGEST_LEN 24

static int token_digest(const char *token, char out[PA_REFUSED_DIGEST_LEN])
{
	static const char domain[] = "provauth refresh_refused v1:";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	EVP_MD_CTX *ctx;
	int ok;

	if (!token || !*token || !(ctx = EVP_MD_CTX_new()))
		return -1;
	ok = EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) && EVP_DigestUpdate(ctx, domain, sizeof(domain) - 1) &&
	     EVP_DigestUpdate(ctx, token, strlen(token)) && EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	if (!ok || mdlen < 8)
		return -1;
	memcpy(out, "sha256:", 7);
	for (i = 0; i < 8; i++)
		snprintf(out + 7 + 2 * i, 3, "%02x", md[i]);
	return 0;
}

char *pa_refresh_refused_mark(const char *refresh_token)
{
	char digest[PA_REFUSED_DIGEST_LEN];

	if (token_digest(refresh_token, digest) < 0)
		return NULL;
	return pa_strdup(digest);
}

int pa_refresh_refused(const provauth_account *a)
{
	const char *token = provauth_account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL);
	char digest[PA_REFUSED_DIGEST_LEN];

	if (!token || !a->state.refresh_refused || token_digest(token, digest) < 0)
		return 0;
	return strcmp(a->state.refresh_refused, digest) == 0;
}
