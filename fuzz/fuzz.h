/*
 * What every fuzz target shares: a real host table over the core (so the
 * plugins' JSON, base64 and error services are the ones they get in
 * production), a stub HTTP service that answers with the fuzzer's bytes,
 * log capture, and the checks the targets assert.
 *
 * Each target defines LLVMFuzzerTestOneInput. Linked with libFuzzer it is a
 * fuzzer; linked with replay.c it replays fuzz/corpus/<target> under
 * make check, so every regress-* input stays a test in every build.
 */
#ifndef PA_FUZZ_H
#define PA_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <provauth/provauth.h>
#include <provauth/plugin.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The sealed target's fixed key and row; fuzz/make_seeds.c seals its seeds with them. */
#define PA_FUZZ_SEAL_KEY "provauth-fuzz-fixed-key-32-bytes"
#define PA_FUZZ_SEAL_AD "accounts:acct-fuzz"

/* The host table, with http_request answered by the stub. Set up on first use. */
const provauth_host *pa_fuzz_host(void);

/* What the stub answers every request with until the next call. Copies nothing: keep the strings alive. */
void pa_fuzz_reply(long status, const char *headers, const char *body, size_t body_len);
/* Requests the stub saw since the last pa_fuzz_reply. */
unsigned pa_fuzz_requests(void);

/* Log lines the host wrote since the last reset, "" when none. */
void pa_fuzz_log_reset(void);
const char *pa_fuzz_log_text(void);

/* NUL-terminated copy of the input (fuzz bytes may hold NULs: the copy stops at the first). */
char *pa_fuzz_cstr(const uint8_t *data, size_t size);

/* 1 when `needle` (n bytes) occurs in hay[0..hay_len). */
int pa_fuzz_has(const char *hay, size_t hay_len, const char *needle, size_t n);

/*
 * Aborts (a crash libFuzzer records) when `secret` appears in the thread's
 * last error, in `text` or in the captured log. `input` is the fuzz input:
 * a secret the input itself contains proves nothing and is skipped.
 */
void pa_fuzz_no_secret(const char *secret, const char *text, const uint8_t *input, size_t input_size);

/* 1 for a provauth_error code the API defines. */
int pa_fuzz_known_code(int code);

/* The outcome the manager hands classify_error (outcome_init in core/session/run.c). */
void pa_fuzz_outcome_init(provauth_outcome *o, const provauth_failure *f);

/* Checks that hold for every classification, from any provider. */
void pa_fuzz_check_outcome(const provauth_outcome *o);

/* A violated invariant: message on stderr, then abort() so the input is saved. */
void pa_fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
#define PA_FUZZ_CHECK(cond) \
	do { \
		if (!(cond)) \
			pa_fuzz_fail("%s:%d: invariant failed: %s", __FILE__, __LINE__, #cond); \
	} while (0)

#endif /* PA_FUZZ_H */
