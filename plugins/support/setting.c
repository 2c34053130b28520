/* Checks on a plugin's own setting values, reported with their place in the settings file. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <provauth/plugin_util.h>

int provauth_plugin_setting_fail(const provauth_host *h, const provauth_setting *s, const char *provider,
                                 const char *key, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (PROVAUTH_HOST_HAS(h, setting_error) && h->setting_error)
		return h->setting_error(h, s, key, "%s", msg);
	return h->set_error(h, PROVAUTH_ECONFIG, "providers.%s.%s: %s", provider, key, msg);
}

int provauth_plugin_setting_text(const provauth_host *h, const provauth_setting *s, const char *provider,
                                 const char *key, const char *def, const char **out)
{
	int rc;

	if ((rc = h->setting_string(h, s, key, def, out)) < 0)
		return rc;
	if (!*out || !**out)
		return provauth_plugin_setting_fail(h, s, provider, key, "must not be empty");
	if (!provauth_plugin_text_ok(*out))
		return provauth_plugin_setting_fail(h, s, provider, key, "must be one line of printable text");
	return 0;
}

int provauth_plugin_setting_url(const provauth_host *h, const provauth_setting *s, const char *provider,
                                const char *key, const char *def, char **out)
{
	const char *v = NULL;
	size_t n, scheme;
	int rc;

	*out = NULL;
	if ((rc = h->setting_string(h, s, key, def, &v)) < 0)
		return rc;
	if (!v || (strncmp(v, "http://", 7) != 0 && strncmp(v, "https://", 8) != 0) || !provauth_plugin_text_ok(v) ||
	    strchr(v, ' ') || strchr(v, '?') || strchr(v, '#'))
		return provauth_plugin_setting_fail(h, s, provider, key,
		                                    "expected an http:// or https:// URL without query or fragment");
	scheme = v[4] == 's' ? 8 : 7;
	n = strlen(v);
	/* Paths are joined to it: no trailing '/'. */
	while (n > scheme && v[n - 1] == '/')
		n--;
	if (n <= scheme || v[scheme] == '/')
		return provauth_plugin_setting_fail(h, s, provider, key, "the URL has no host");
	if (!(*out = provauth_plugin_strndup(h, v, n)))
		return h->set_error(h, PROVAUTH_ENOMEM, "%s: out of memory", provider);
	return 0;
}
