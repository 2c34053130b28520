/* libprovauth.so proper: the core lives in libprovauth_core.la. */
#include "config.h"
#include <provauth/provauth.h>

const char *provauth_version(void)
{
	return PROVAUTH_VERSION;
}
