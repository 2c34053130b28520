/*
 * The at-rest encoding of an account's secret fields (password, jwt_token,
 * cookies, api_keys, refresh_token, access_token): the plaintext the sqlite
 * store seals. Non-secret fields live in their own columns.
 *
 * Format (version 1): one version byte, then entries until the end:
 *   tag (1 byte) | u32 big-endian length | bytes            for scalars
 *   tag (1 byte) | len | name bytes | len | value bytes     for pairs
 * Scalars appear at most once; strings hold no NUL byte. Pairs keep their
 * order, so cookies and API keys round-trip exactly.
 */
#ifndef PA_RECORD_H
#define PA_RECORD_H

#include <stddef.h>
#include <provauth/provauth.h>

#define PA_RECORD_VERSION 1

/* *out is malloc()ed plaintext holding secrets: pa_wipe it before free. */
int pa_record_encode(unsigned char **out, size_t *out_len, const provauth_account *a);

/*
 * Replaces the secret fields of `a` with those in buf. Accepts any bytes:
 * malformed input fails with PROVAUTH_ESTORE ("secrets record: ...") and
 * leaves `a` untouched.
 */
int pa_record_decode(provauth_account *a, const unsigned char *buf, size_t len);

#endif /* PA_RECORD_H */
