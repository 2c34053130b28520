/*
 * What every file of the session room asks of the manager, said once: log
 * events named after the provider, a provider's settings with their
 * defaults, and the stored account. The manager is reached through
 * manager.h's accessors only.
 */
#include "config.h"
#include <stdio.h>
#include "manager.h"
#include "session.h"

void pa_session_log(provauth_manager *m, provauth_log_level level, const pa_plugin *p, const char *what,
                    const provauth_log_field *fields, size_t n)
{
	char event[96];
	snprintf(event, sizeof(event), "%s_%s", p ? p->vt.id : "provauth", what);
	pa_log(pa_manager_logger(m), level, event, fields, n);
}

const pa_provider_settings pa_default_provider_settings = { NULL, NULL, 0, NULL, 300, 600, 300, 1 };

int pa_session_store_get(provauth_manager *m, provauth_account **out, const char *id)
{
	provauth_store *st = pa_manager_store(m);
	return st->get(st, out, id);
}
