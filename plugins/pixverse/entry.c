/*
 * The one symbol the pixverse module exports. Everything else is in
 * libpixverse.la, which the module, the unit tests and the fuzz targets share.
 */
#include "pixverse.h"

PROVAUTH_PLUGIN_EXPORT int provauth_plugin_init(const provauth_provider **out, const provauth_host *host);

int provauth_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	return pv_plugin_init(out, host);
}
