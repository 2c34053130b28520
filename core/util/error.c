/* The thread-local "last error" every public function leaves behind. */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static _Thread_local char last_message[PA_ERROR_MAX];

int pa_error_setv(int code, const char *fmt, va_list ap)
{
	char msg[PA_ERROR_MAX];

	/*
	 * Formatted aside first: an argument may be the last message itself
	 * (a plugin quoting host->last_error), and vsnprintf into its own
	 * source is undefined.
	 */
	vsnprintf(msg, sizeof(msg), fmt, ap);
	memcpy(last_message, msg, strlen(msg) + 1);
	return code;
}

int pa_error_set(int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	pa_error_setv(code, fmt, ap);
	va_end(ap);
	return code;
}

int pa_error_oom(void)
{
	return pa_error_set(PROVAUTH_ENOMEM, "out of memory");
}

int pa_error_prefix(int code, const char *fmt, ...)
{
	char prefix[PA_ERROR_MAX], old[PA_ERROR_MAX];
	va_list ap;

	memcpy(old, last_message, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	if (old[0])
		snprintf(last_message, sizeof(last_message), "%s: %s", prefix, old);
	else
		snprintf(last_message, sizeof(last_message), "%s: %s", prefix, provauth_strerror(code));
	return code;
}

void pa_error_save(pa_error_saved *saved, int code)
{
	saved->code = code;
	memcpy(saved->msg, last_message, sizeof(saved->msg));
}

int pa_error_restore(const pa_error_saved *saved)
{
	memcpy(last_message, saved->msg, sizeof(last_message));
	return saved->code;
}

const char *provauth_last_error(void)
{
	return last_message;
}

void provauth_error_clear(void)
{
	last_message[0] = '\0';
}

const char *provauth_strerror(int error)
{
	switch (error) {
	case PROVAUTH_OK:           return "success";
	case PROVAUTH_ERROR:        return "error";
	case PROVAUTH_EINVAL:       return "invalid argument or input";
	case PROVAUTH_ENOMEM:       return "out of memory";
	case PROVAUTH_ENOTFOUND:    return "not found";
	case PROVAUTH_ECONFIG:      return "invalid settings";
	case PROVAUTH_EPLUGIN:      return "plugin error";
	case PROVAUTH_EIO:          return "input/output error";
	case PROVAUTH_ECONFLICT:    return "account changed since it was read";
	case PROVAUTH_ECRYPTO:      return "wrong store key or corrupt sealed data";
	case PROVAUTH_ENETWORK:     return "network error";
	case PROVAUTH_ETIMEOUT:     return "timed out";
	case PROVAUTH_EHTTP:        return "unexpected HTTP status";
	case PROVAUTH_EPROTOCOL:    return "reply not understood";
	case PROVAUTH_ETOOBIG:      return "reply too large";
	case PROVAUTH_ESESSION:     return "session invalid and not recovered";
	case PROVAUTH_EAUTH:        return "credentials rejected";
	case PROVAUTH_ERATELIMIT:   return "rate limited by the provider";
	case PROVAUTH_ECOOLDOWN:    return "skipped: cooldown in force";
	case PROVAUTH_EBUSY:        return "another recovery is in progress";
	case PROVAUTH_EUNSUPPORTED: return "not supported by the provider";
	case PROVAUTH_EPROVIDER:    return "provider API error";
	case PROVAUTH_EBANNED:      return "account blocked by the provider";
	case PROVAUTH_ESTORE:       return "store unusable";
	case PROVAUTH_ECONCURRENCY: return "the account runs as many jobs as it may";
	case PROVAUTH_ECREDITS:     return "not enough credits";
	case PROVAUTH_EMODERATED:   return "output refused by moderation";
	case PROVAUTH_EREJECTED:    return "input refused by moderation";
	case PROVAUTH_EOVERLOAD:    return "provider under high load";
	case PROVAUTH_ENOACCOUNT:   return "no account available";
	case PROVAUTH_ENOEMAIL:     return "credentials of an unknown account (no email)";
	default:                    return "unknown error code";
	}
}

void provauth_free(void *ptr)
{
	free(ptr);
}
