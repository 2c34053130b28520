/* Joining a base URL and a path. */
#include <string.h>
#include <provauth/plugin_util.h>

char *provauth_plugin_url_join(const provauth_host *h, const char *base, const char *path)
{
	size_t bl = strlen(base), pl = strlen(path);
	char *u;

	/* One '/' between them: the base's trailing ones give way to the path's. */
	while (bl > 0 && base[bl - 1] == '/')
		bl--;
	if (!(u = h->alloc(h, bl + pl + 2)))
		return NULL;
	memcpy(u, base, bl);
	if (*path != '/')
		u[bl++] = '/';
	memcpy(u + bl, path, pl + 1);
	return u;
}
