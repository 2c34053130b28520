/*
 * The one symbol the pixiv module exports. Everything else is in
 * libpixiv.la, which the module, the unit tests and the fuzz targets share.
 */
#include "pixiv.h"

PROVAUTH_PLUGIN_EXPORT int provauth_plugin_init(const provauth_provider **out, const provauth_host *host);

int provauth_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	return pixiv_plugin_init(out, host);
}
