/* Log events: redaction of secret fields and the two stderr sinks. */
#include "config.h"
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <json-c/json.h>
#include "internal.h"

#define PA_LOG_MAX_FIELDS 32

/*
 * Fingerprints are keyed with a random per-process key so they correlate
 * within one run but a log reader cannot test password guesses against them.
 */
static unsigned char fp_key[32];
static int fp_key_ok;
static pthread_once_t fp_once = PTHREAD_ONCE_INIT;

static void fp_key_init(void)
{
	fp_key_ok = pa_random_bytes(fp_key, sizeof(fp_key)) == 0;
}

void pa_fingerprint(const char *secret, char out[12])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int maclen = 0;

	pthread_once(&fp_once, fp_key_init);
	if (!secret || !fp_key_ok ||
	    !HMAC(EVP_sha256(), fp_key, sizeof(fp_key), (const unsigned char *)secret,
	          strlen(secret), mac, &maclen)) {
		memcpy(out, "fp:none", 8);
		return;
	}
	snprintf(out, 12, "fp:%02x%02x%02x%02x", mac[0], mac[1], mac[2], mac[3]);
}

void pa_log(const pa_logger *lg, provauth_log_level level, const char *event,
            const provauth_log_field *fields, size_t nfields)
{
	provauth_log_field safe[PA_LOG_MAX_FIELDS];
	char fps[PA_LOG_MAX_FIELDS][12];
	size_t i;

	if (!lg || !lg->fn || level < lg->min_level)
		return;
	if (nfields > PA_LOG_MAX_FIELDS)
		nfields = PA_LOG_MAX_FIELDS;
	for (i = 0; i < nfields; i++) {
		safe[i] = fields[i];
		if (fields[i].type == PROVAUTH_FIELD_SECRET) {
			if (fields[i].str) {
				pa_fingerprint(fields[i].str, fps[i]);
				safe[i].str = fps[i];
			} else {
				safe[i].str = NULL;
			}
		}
	}
	lg->fn(level, event, safe, nfields, lg->payload);
}

const char *provauth_log_level_name(provauth_log_level level)
{
	switch (level) {
	case PROVAUTH_LOG_DEBUG: return "debug";
	case PROVAUTH_LOG_INFO:  return "info";
	case PROVAUTH_LOG_WARN:  return "warn";
	case PROVAUTH_LOG_ERROR: return "error";
	default:                 return "unknown";
	}
}

static void timestamp(char *buf, size_t n)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	snprintf(buf, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
	         tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000) % 1000);
}

/*
 * One stdio call per event, so concurrent threads never interleave within a
 * line (stdio locks the stream per call); flushed so a crash loses nothing.
 */
void provauth_log_file_json(provauth_log_level level, const char *event,
                            const provauth_log_field *fields, size_t nfields, void *payload)
{
	FILE *out = payload ? (FILE *)payload : stderr;
	struct json_object *o = json_object_new_object();
	char ts[64];
	size_t i;

	if (!o)
		return;
	timestamp(ts, sizeof(ts));
	json_object_object_add(o, "ts", json_object_new_string(ts));
	json_object_object_add(o, "level", json_object_new_string(provauth_log_level_name(level)));
	json_object_object_add(o, "event", json_object_new_string(event ? event : ""));
	for (i = 0; i < nfields; i++) {
		const provauth_log_field *f = &fields[i];
		struct json_object *v = NULL;
		if (!f->key)
			continue;
		switch (f->type) {
		case PROVAUTH_FIELD_INT:  v = json_object_new_int64(f->num); break;
		case PROVAUTH_FIELD_BOOL: v = json_object_new_boolean(f->num != 0); break;
		default:                  v = f->str ? json_object_new_string(f->str) : NULL; break;
		}
		json_object_object_add(o, f->key, v);
	}
	fprintf(out, "%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	fflush(out);
	json_object_put(o);
}

void provauth_log_stderr_json(provauth_log_level level, const char *event,
                              const provauth_log_field *fields, size_t nfields, void *payload)
{
	PA_UNUSED(payload);
	provauth_log_file_json(level, event, fields, nfields, stderr);
}

void pa_log_stderr_text(provauth_log_level level, const char *event,
                        const provauth_log_field *fields, size_t nfields, void *payload)
{
	char line[2048], ts[64];
	size_t i, o;

	PA_UNUSED(payload);
	timestamp(ts, sizeof(ts));
	o = (size_t)snprintf(line, sizeof(line), "%s %-5s %s", ts, provauth_log_level_name(level),
	                     event ? event : "");
	for (i = 0; i < nfields && o < sizeof(line); i++) {
		const provauth_log_field *f = &fields[i];
		if (!f->key)
			continue;   /* as the JSON sink does; "%s" of NULL is undefined */
		if (f->type == PROVAUTH_FIELD_INT)
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%lld", f->key, (long long)f->num);
		else if (f->type == PROVAUTH_FIELD_BOOL)
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%s", f->key, f->num ? "true" : "false");
		else
			o += (size_t)snprintf(line + o, sizeof(line) - o, " %s=%s", f->key, f->str ? f->str : "null");
	}
	fprintf(stderr, "%s\n", line);
}
