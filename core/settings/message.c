/*
 * Messages about the settings file. Each names the place it is about
 * ("FILE:LINE:COL: path.key: ...") and quotes a value only when it came
 * from the file itself and its key does not look like it holds a secret;
 * quoted text is cut and made printable so one bad line cannot flood a log.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "settings/yaml_tree.h"

/*
 * Copies text for a message: control bytes escaped, cut after `max` bytes
 * (on a UTF-8 boundary) with "..." so one bad line cannot flood a log.
 */
void pa_settings_sanitize(char *dst, size_t size, const char *src, size_t len, size_t max)
{
	size_t o = 0, i;

	if (!size)
		return;
	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)src[i];
		if (i >= max && (c & 0xC0) != 0x80) {
			if (o + 4 < size)
				memcpy(dst + o, "...", 3), o += 3;
			break;
		}
		if (c < 0x20 || c == 0x7f)
			o += (size_t)snprintf(dst + o, size - o, "\\x%02x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

/*
 * "FILE:LINE:COL: PATH: what is wrong", the form of every settings error.
 * Line 0 means the text is not in the file (a default): "FILE: PATH: ...".
 */
int pa_settings_fail_atv(const char *file, unsigned line, unsigned col, const char *path,
                         const char *fmt, va_list ap)
{
	char msg[PA_SETTINGS_MSG_MAX], where[PA_SETTINGS_MSG_MAX / 2];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (line)
		snprintf(where, sizeof(where), "%s:%u:%u", file, line, col);
	else
		snprintf(where, sizeof(where), "%s", file);
	if (path && *path)
		return pa_error_set(PROVAUTH_ECONFIG, "%s: %s: %s", where, path, msg);
	return pa_error_set(PROVAUTH_ECONFIG, "%s: %s", where, msg);
}

int pa_settings_fail_at(const char *file, unsigned line, unsigned col, const char *path,
                        const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = pa_settings_fail_atv(file, line, col, path, fmt, ap);
	va_end(ap);
	return rc;
}

const char *pa_node_kind_name(const provauth_setting *n)
{
	switch (n->kind) {
	case NODE_MAP: return "a mapping";
	case NODE_SEQ: return "a sequence";
	case NODE_NULL: return "nothing";
	default: return "a string";
	}
}

/*
 * Keys whose values a message must not quote. Plugins' keys are unknown
 * here, so the test is by name and errs towards hiding.
 */
int pa_key_is_secret(const char *key)
{
	static const char *const words[] = {
		"password", "secret", "token", "cookie", "api_key", "apikey",
		"credential", "private", NULL
	};
	size_t n = strlen(key), i;

	if (n > 4 && strcmp(key + n - 4, "_url") == 0)
		return 0;
	for (i = 0; words[i]; i++)
		if (strcasestr(key, words[i]))
			return 1;
	return 0;
}

/* How a message refers to a scalar value: quoted when that is safe. */
const char *pa_node_shown(char *buf, size_t size, const provauth_setting *n, int secret)
{
	char text[PA_SHOWN_MAX * 4 + 8];

	if (n->from_env) {
		snprintf(buf, size, "a value from the environment (not shown)");
	} else if (secret) {
		snprintf(buf, size, "a value that is not shown (the key may hold a secret)");
	} else {
		pa_settings_sanitize(text, sizeof(text), n->value, strlen(n->value), PA_SHOWN_MAX);
		snprintf(buf, size, "%s'%s'", n->plain ? "" : "the quoted string ", text);
	}
	return buf;
}

