/*
 * Authenticated encryption of data at rest (AES-256-GCM).
 *
 * A sealed blob is: version byte | 12-byte random nonce | ciphertext | 16-byte
 * tag. The associated data is not stored; the caller must present the same
 * bytes to open the blob, which binds a blob to its context (e.g. its row).
 */
#ifndef PA_SEAL_H
#define PA_SEAL_H

#include <stddef.h>

#define PA_SEAL_KEY_LEN 32
#define PA_SEAL_VERSION 1
#define PA_SEAL_NONCE_LEN 12
#define PA_SEAL_TAG_LEN 16
#define PA_SEAL_OVERHEAD (1 + PA_SEAL_NONCE_LEN + PA_SEAL_TAG_LEN)

/* *out is malloc()ed, *out_len = pt_len + PA_SEAL_OVERHEAD. */
int pa_seal(unsigned char **out, size_t *out_len, const unsigned char key[PA_SEAL_KEY_LEN],
            const void *ad, size_t ad_len, const void *pt, size_t pt_len);

/*
 * Opens a blob. *out is malloc()ed with one extra NUL byte past *out_len
 * (never counted); the caller wipes it (pa_wipe) before freeing. Any failure
 * (truncated, unknown version, wrong key, other associated data, tampering)
 * is PROVAUTH_ECRYPTO with a message that says which, and leaves *out NULL.
 */
int pa_unseal(unsigned char **out, size_t *out_len, const unsigned char key[PA_SEAL_KEY_LEN],
              const void *ad, size_t ad_len, const unsigned char *blob, size_t blob_len);

#endif /* PA_SEAL_H */
