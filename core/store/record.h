/*
 * The at-rest encoding of an account's credentials (every one a secret):
 * the plaintext the sqlite store seals. Non-secret fields live in their own
 * columns.
 *
 * Format version 2 (written): one version byte, then one entry per
 * credential until the end, in the account's order:
 *   len | kind | len | name | len | value | expires_at
 * each len a u32 big-endian, expires_at an int64 big-endian (unix seconds,
 * 0 = none). Single-valued kinds ("password", "jwt", "refresh_token",
 * "access_token") have the name "" and appear at most once; cookies and API
 * keys ("cookie", "api_key") have a name (an empty one is kept, as version
 * 1 kept it) and keep their order; any other non-empty kind is a provider's
 * own and is kept as it is.
 *
 * Format version 1 (read only, what stores written before version 2 hold):
 * one version byte, then entries until the end:
 *   tag (1 byte) | u32 big-endian length | bytes            for scalars
 *   tag (1 byte) | len | name bytes | len | value bytes     for pairs
 * with tags password 1, jwt 2, refresh token 3, access token 4, cookie 5,
 * API key 6; the access token's expiry was only in the row.
 * Strings hold no NUL byte in either version.
 */
#ifndef PA_RECORD_H
#define PA_RECORD_H

#include <stddef.h>
#include <provauth/provauth.h>

#define PA_RECORD_VERSION 2        /* what pa_record_encode writes */
#define PA_RECORD_VERSION_FIXED 1  /* Pixverse-shaped fixed fields: still decoded */

/* *out is malloc()ed plaintext holding secrets: pa_wipe it before free. */
int pa_record_encode(unsigned char **out, size_t *out_len, const provauth_account *a);

/*
 * Replaces the credentials of `a` with those in buf (version 1 or 2; a
 * version 1 record has no expiries: the sqlite store takes the access
 * token's from its row). Accepts any bytes:
 * malformed input fails with PROVAUTH_ESTORE ("secrets record: ...") and
 * leaves `a` untouched.
 */
int pa_record_decode(provauth_account *a, const unsigned char *buf, size_t len);

#endif /* PA_RECORD_H */
