/*
 * What several commands show about an account: its session health, its
 * provider, and what the user should do when the library cannot recover
 * the session by itself. Reads the account's typed state, and the
 * provider's metadata with json-c, as any program using the library could;
 * never looks at a secret's value.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "cli.h"

static json_object *metadata_object(const provauth_account *a)
{
	json_object *o;

	if (!a->metadata || !*a->metadata)
		return NULL;
	o = json_tokener_parse(a->metadata);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

void cli_account_health(cli_health *out, const provauth_account *account)
{
	const provauth_health *h = &account->state.health;

	memset(out, 0, sizeof(*out));
	if (!h->state)
		return;
	out->present = 1;
	snprintf(out->state, sizeof(out->state), "%s", h->state);
	snprintf(out->reason, sizeof(out->reason), "%s", h->reason ? h->reason : "");
	snprintf(out->code, sizeof(out->code), "%s", h->code ? h->code : "");
	snprintf(out->message, sizeof(out->message), "%s", h->message ? h->message : "");
	out->at = h->at;
}

char *cli_account_metadata(const provauth_account *account, const char *key)
{
	json_object *md = metadata_object(account), *v;
	char *s = NULL;

	if (md && json_object_object_get_ex(md, key, &v) && v && !json_object_is_type(v, json_type_object) &&
	    !json_object_is_type(v, json_type_array))
		s = strdup(json_object_get_string(v));
	json_object_put(md);
	return s;
}

void cli_health_summary(char *buf, size_t size, const cli_health *h)
{
	if (!h->present)
		snprintf(buf, size, "-");
	else if (h->reason[0] && h->code[0])
		snprintf(buf, size, "%s (%s, %s)", h->state, h->reason, h->code);
	else if (h->reason[0])
		snprintf(buf, size, "%s (%s)", h->state, h->reason);
	else
		snprintf(buf, size, "%s", h->state);
}

void cli_health_json(cli_json *w, const cli_health *h)
{
	if (!h->present) {
		cli_json_string(w, "session_health", NULL);
		return;
	}
	cli_json_object_begin(w, "session_health");
	cli_json_string(w, "state", h->state);
	cli_json_string(w, "reason", h->reason[0] ? h->reason : NULL);
	cli_json_string(w, "code", h->code[0] ? h->code : NULL);
	cli_json_int(w, "at", h->at);
	cli_json_string(w, "message", h->message[0] ? h->message : NULL);
	cli_json_object_end(w);
}

int cli_provider_info(provauth_provider_info *out, const provauth_manager *m, const char *id)
{
	size_t i, n = provauth_manager_provider_count(m);

	for (i = 0; i < n; i++)
		if (provauth_manager_provider_info(out, m, i) == 0 && strcmp(out->id, id) == 0)
			return 0;
	return -1;
}

void cli_account_hint(provauth_manager *m, const char *id, int rc)
{
	provauth_account *a = NULL;
	const char *p;

	if (rc != PROVAUTH_ESESSION && rc != PROVAUTH_EAUTH)
		return;
	/* The error printed just before already names the command to run: advice is given once. */
	if (strstr(provauth_last_error(), "provauth accounts "))
		return;
	/* The failure is already reported; this lookup's own error does not matter. */
	if (provauth_account_get(&a, m, id) < 0) {
		provauth_error_clear();
		return;
	}
	p = a->provider;
	if (provauth_account_credential(a, PROVAUTH_CRED_REFRESH_TOKEN, NULL)) {
		fprintf(stderr, "hint: account %s needs a new refresh token: sign in at %s, then run\n"
		        "      provauth accounts add --provider %s --from-file FILE\n", id, p, p);
	} else if (provauth_account_auth_method(a) == PROVAUTH_AUTH_GOOGLE) {
		fprintf(stderr, "hint: account %s signs in with Google, so provauth never logs it in with a\n"
		        "      password. Sign in to %s in a browser, export its cookies and run\n"
		        "      provauth accounts import-cookies --provider %s --from-file FILE\n", id, p, p);
	} else if (provauth_account_auth_method(a) == PROVAUTH_AUTH_PASSWORD) {
		fprintf(stderr, "hint: the stored password of account %s may be wrong; log in again with\n"
		        "      provauth accounts reauth %s --password-stdin\n"
		        "      or import fresh cookies with 'provauth accounts import-cookies --provider %s'\n",
		        id, id, p);
	} else {
		fprintf(stderr, "hint: account %s came from imported cookies and has no known password login.\n"
		        "      Import fresh cookies with 'provauth accounts import-cookies --provider %s',\n"
		        "      or log in once with 'provauth accounts reauth %s --password-stdin', which\n"
		        "      also lets provauth log in again by itself next time.\n", id, p, id);
	}
	provauth_account_free(a);
}
