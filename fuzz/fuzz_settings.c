/*
 * Settings loading (core/settings/) from a YAML buffer, then what the
 * manager does with each provider block: the common keys plus the plugin's
 * setting_keys, and the real plugins' init reading their settings.
 *
 * "@SECRET@" in the input is replaced by a fixed secret. When every use of
 * it is the value of a key named like a secret (password, token, ...), no
 * error, warning or log may quote it.
 */
#include "config.h"
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "internal.h"
#include "fuzz.h"

#define PLACEHOLDER "@SECRET@"
#define SECRET "Fz-s3cret-V4lue-91x"

int provauth_plugin_init(const provauth_provider **out, const provauth_host *host);
int pa_fuzz_pixiv_plugin_init(const provauth_provider **out, const provauth_host *host);

/* Replaces every placeholder; *all_secret tells whether each sits right after a secret-looking key. */
static char *substitute(const char *in, int *uses, int *all_secret)
{
	size_t n = 0;
	const char *p;
	char *out, *o;

	*uses = 0;
	*all_secret = 1;
	for (p = in; (p = strstr(p, PLACEHOLDER)); p += sizeof(PLACEHOLDER) - 1)
		n++;
	if (!(out = malloc(strlen(in) + n * sizeof(SECRET) + 1)))
		pa_fuzz_fail("out of memory");
	for (p = in, o = out; *p;) {
		if (strncmp(p, PLACEHOLDER, sizeof(PLACEHOLDER) - 1) == 0) {
			const char *line = p, *k;
			while (line > in && line[-1] != '\n')
				line--;
			/* "  key: @SECRET@" with a key the settings code treats as secret */
			for (k = line; k < p && (*k == ' ' || *k == '-'); k++)
				;
			{
				const char *colon = memchr(k, ':', (size_t)(p - k));
				char key[64];
				size_t kl = colon ? (size_t)(colon - k) : 0;
				int ok = colon && kl > 0 && kl < sizeof(key);
				const char *q;
				/* YAML needs ": " for a mapping value; "key:value" is one scalar. */
				if (ok && colon + 1 == p)
					ok = 0;
				for (q = colon ? colon + 1 : p; ok && q < p; q++)
					if (*q != ' ')
						ok = 0;
				if (ok) {
					memcpy(key, k, kl);
					key[kl] = '\0';
					ok = (strcasestr(key, "password") || strcasestr(key, "secret") || strcasestr(key, "token")) &&
					     !strcasestr(key, "_url") && !strpbrk(key, "'\"{}[],#&*!|>%@`");
				}
				if (!ok)
					*all_secret = 0;
			}
			memcpy(o, SECRET, sizeof(SECRET) - 1);
			o += sizeof(SECRET) - 1;
			p += sizeof(PLACEHOLDER) - 1;
			(*uses)++;
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	return out;
}

static void check_text(const char *text, int guard)
{
	if (guard && text && strstr(text, SECRET))
		pa_fuzz_fail("a secret setting is quoted: %s", text);
}

static void provider(const provauth_host *h, const provauth_settings *s, const provauth_provider *p, int guard)
{
	const pa_provider_settings *ps = pa_settings_provider(s, p->id);
	provauth_setting *empty = ps ? NULL : pa_settings_empty_node_new(s, p->id);
	const provauth_setting *node = ps ? ps->node : empty;
	void *state = NULL;
	int rc;

	PA_FUZZ_CHECK(node != NULL);
	provauth_error_clear();
	rc = pa_setting_check_keys(node, pa_common_provider_keys, p->setting_keys);
	PA_FUZZ_CHECK(rc == 0 || rc == PROVAUTH_ECONFIG);
	check_text(provauth_last_error(), guard);
	if (rc == 0) {
		provauth_error_clear();
		rc = p->init(&state, h, node);
		PA_FUZZ_CHECK(rc <= 0 && (rc == 0 || pa_fuzz_known_code(rc)));
		check_text(provauth_last_error(), guard);
		if (rc == 0 && p->fini)
			p->fini(state);
	}
	pa_settings_empty_node_free(empty);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const provauth_host *h = pa_fuzz_host();
	const provauth_provider *pv = NULL, *px = NULL;
	provauth_settings *s = NULL;
	char *raw = pa_fuzz_cstr(data, size), *text;
	int uses, all_secret, guard, rc;
	size_t i, n;

	text = substitute(raw, &uses, &all_secret);
	/* The secret written out in the input (the fuzzer learns it) is not the placeholder's. */
	guard = uses > 0 && all_secret && !strstr(raw, SECRET);
	pa_fuzz_log_reset();
	provauth_error_clear();
	rc = provauth_settings_parse(&s, text, strlen(text), "fuzz.yaml");
	if (rc < 0) {
		const char *err = provauth_last_error();
		PA_FUZZ_CHECK(s == NULL);
		PA_FUZZ_CHECK(rc == PROVAUTH_ECONFIG || rc == PROVAUTH_ENOMEM || rc == PROVAUTH_EINVAL);
		/* Every settings error names where it is. */
		PA_FUZZ_CHECK(rc != PROVAUTH_ECONFIG || strncmp(err, "fuzz.yaml", 9) == 0);
		check_text(err, guard);
		goto out;
	}
	PA_FUZZ_CHECK(s != NULL);
	for (i = 0, n = provauth_settings_warning_count(s); i < n; i++)
		check_text(provauth_settings_warning(s, i), guard);
	for (i = 0, n = pa_settings_provider_count(s); i < n; i++) {
		const pa_provider_settings *ps = pa_settings_provider_at(s, i);
		PA_FUZZ_CHECK(ps && ps->id && ps->node);
		PA_FUZZ_CHECK(pa_settings_provider(s, ps->id) == ps);
	}
	(void)pa_settings_store(s);
	(void)pa_settings_http(s);
	if (provauth_plugin_init(&pv, h) == 0)
		provider(h, s, pv, guard);
	if (pa_fuzz_pixiv_plugin_init(&px, h) == 0)
		provider(h, s, px, guard);
	check_text(pa_fuzz_log_text(), guard);
	provauth_settings_free(s);
out:
	free(text);
	free(raw);
	return 0;
}
