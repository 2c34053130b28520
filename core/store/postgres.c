/* The "postgres" store: being written (issue 15). */
#include "config.h"
#include "internal.h"
#include "store/private.h"

int provauth_store_postgres_open(provauth_store **out, const char *conninfo, const provauth_postgres_options *opts)
{
	PA_UNUSED(conninfo);
	PA_UNUSED(opts);
	if (out)
		*out = NULL;
	return pa_error_set(PROVAUTH_EUNSUPPORTED, "store postgres: not built yet");
}
