/* Small text helpers the other files share (the common ones are in <provauth/plugin_util.h>). */
#include <ctype.h>
#include <string.h>
#include "pixverse.h"

int pv_has_number(const char *text, const char *code)
{
	size_t n = code ? strlen(code) : 0;
	const char *p;

	if (!text || !n)
		return 0;
	for (p = strstr(text, code); p; p = strstr(p + 1, code)) {
		/* "10003" must not match inside "5100031" or a longer id. */
		if ((p == text || !isdigit((unsigned char)p[-1])) && !isdigit((unsigned char)p[n]))
			return 1;
	}
	return 0;
}
