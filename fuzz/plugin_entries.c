/*
 * Both plugins' entry points in one binary (the settings target runs both
 * providers' init): the Pixverse one under its real name, pixiv's renamed,
 * each calling its plugin's provider table from the plugin's library
 * (plugins/<name>/lib<name>.la), as the plugins' own entry.c files do.
 */
#include <provauth/plugin.h>

int pv_plugin_init(const provauth_provider **out, const provauth_host *host);
int pixiv_plugin_init(const provauth_provider **out, const provauth_host *host);
int provauth_plugin_init(const provauth_provider **out, const provauth_host *host);
int pa_fuzz_pixiv_plugin_init(const provauth_provider **out, const provauth_host *host);

int provauth_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	return pv_plugin_init(out, host);
}

int pa_fuzz_pixiv_plugin_init(const provauth_provider **out, const provauth_host *host)
{
	return pixiv_plugin_init(out, host);
}
