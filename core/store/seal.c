/* AES-256-GCM sealing of secrets at rest, over OpenSSL's EVP interface. */
#include "config.h"
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include "internal.h"
#include "store/seal.h"

/* GCM takes int lengths; anything near INT_MAX is not a record we wrote. */
#define SEAL_MAX_LEN ((size_t)INT_MAX - PA_SEAL_OVERHEAD)

int pa_seal(unsigned char **out, size_t *out_len, const unsigned char key[PA_SEAL_KEY_LEN],
            const void *ad, size_t ad_len, const void *pt, size_t pt_len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *blob = NULL, *nonce, *ct;
	int n, ok = 0;

	*out = NULL;
	*out_len = 0;
	if (pt_len > SEAL_MAX_LEN || ad_len > SEAL_MAX_LEN)
		return pa_error_set(PROVAUTH_EINVAL, "seal: data too large");
	if (!(blob = malloc(pt_len + PA_SEAL_OVERHEAD)))
		return pa_error_oom();
	blob[0] = PA_SEAL_VERSION;
	nonce = blob + 1;
	ct = nonce + PA_SEAL_NONCE_LEN;
	/* A random 96-bit nonce per blob: rows are few, so collisions are out of reach. */
	if (RAND_bytes(nonce, PA_SEAL_NONCE_LEN) != 1) {
		free(blob);
		return pa_error_set(PROVAUTH_ECRYPTO, "seal: random number generator failed");
	}
	if (!(ctx = EVP_CIPHER_CTX_new()))
		goto done;
	if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, PA_SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto done;
	if (ad_len && EVP_EncryptUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1)
		goto done;
	if (pt_len && EVP_EncryptUpdate(ctx, ct, &n, pt, (int)pt_len) != 1)
		goto done;
	/* GCM is a stream mode: the blob's layout holds exactly pt_len bytes of ciphertext. */
	assert(!pt_len || (size_t)n == pt_len);
	if (EVP_EncryptFinal_ex(ctx, ct + pt_len, &n) != 1)
		goto done;
	/* GCM's final step writes no ciphertext: the tag goes where it would have. */
	assert(n == 0);
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PA_SEAL_TAG_LEN, ct + pt_len) != 1)
		goto done;
	ok = 1;
done:
	EVP_CIPHER_CTX_free(ctx);
	if (!ok) {
		pa_wipe(blob, pt_len + PA_SEAL_OVERHEAD);
		free(blob);
		return pa_error_set(PROVAUTH_ECRYPTO, "seal: encryption failed");
	}
	*out = blob;
	*out_len = pt_len + PA_SEAL_OVERHEAD;
	return 0;
}

int pa_unseal(unsigned char **out, size_t *out_len, const unsigned char key[PA_SEAL_KEY_LEN],
              const void *ad, size_t ad_len, const unsigned char *blob, size_t blob_len)
{
	EVP_CIPHER_CTX *ctx = NULL;
	unsigned char *pt = NULL, tag[PA_SEAL_TAG_LEN];
	const unsigned char *nonce, *ct;
	size_t ct_len;
	int n, rc = PROVAUTH_ECRYPTO;

	*out = NULL;
	*out_len = 0;
	if (!blob || blob_len < PA_SEAL_OVERHEAD)
		return pa_error_set(PROVAUTH_ECRYPTO, "sealed data is truncated (%zu bytes)", blob_len);
	if (blob[0] != PA_SEAL_VERSION)
		return pa_error_set(PROVAUTH_ECRYPTO, "sealed data has unknown format version %u",
		                    (unsigned)blob[0]);
	if (blob_len > SEAL_MAX_LEN + PA_SEAL_OVERHEAD || ad_len > SEAL_MAX_LEN)
		return pa_error_set(PROVAUTH_ECRYPTO, "sealed data is too large");
	nonce = blob + 1;
	ct = nonce + PA_SEAL_NONCE_LEN;
	ct_len = blob_len - PA_SEAL_OVERHEAD;
	/* The tag is copied because OpenSSL's SET_TAG takes a non-const pointer. */
	memcpy(tag, ct + ct_len, sizeof(tag));
	if (!(pt = malloc(ct_len + 1)))
		return pa_error_oom();
	if (!(ctx = EVP_CIPHER_CTX_new()))
		goto fail;
	if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, PA_SEAL_NONCE_LEN, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, nonce) != 1)
		goto fail;
	if (ad_len && EVP_DecryptUpdate(ctx, NULL, &n, ad, (int)ad_len) != 1)
		goto fail;
	if (ct_len && EVP_DecryptUpdate(ctx, pt, &n, ct, (int)ct_len) != 1)
		goto fail;
	assert(!ct_len || (size_t)n == ct_len);
	if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, PA_SEAL_TAG_LEN, tag) != 1)
		goto fail;
	/* Final verifies the tag: no byte of pt may be trusted (or kept) before it. */
	if (EVP_DecryptFinal_ex(ctx, pt + ct_len, &n) != 1) {
		rc = pa_error_set(PROVAUTH_ECRYPTO,
		                  "sealed data does not authenticate (wrong key, wrong row or tampered)");
		goto cleanup;
	}
	EVP_CIPHER_CTX_free(ctx);
	pt[ct_len] = '\0';
	*out = pt;
	*out_len = ct_len;
	return 0;
fail:
	rc = pa_error_set(PROVAUTH_ECRYPTO, "unseal: decryption failed");
cleanup:
	EVP_CIPHER_CTX_free(ctx);
	pa_wipe(pt, ct_len + 1);
	free(pt);
	return rc;
}
