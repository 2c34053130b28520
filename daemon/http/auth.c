/*
 * Bearer tokens (RFC 6750): the header is parsed strictly, so that a
 * malformed one is refused the same way as an unknown one, and the token is
 * then looked up by its SHA-256 in constant time (pad_config_find_token).
 */
#include "config.h"
#include <string.h>
#include <strings.h>
#include "daemon.h"

static int token_char(int c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int pad_bearer_parse(const char *header, const char **token, size_t *len)
{
	const char *t;
	size_t n = 0;

	*token = NULL;
	*len = 0;
	if (!header || strncasecmp(header, "Bearer ", 7) != 0)
		return -1;
	t = header + 7;
	while (token_char((unsigned char)t[n]))
		n++;
	if (n == 0)
		return -1;
	while (t[n] == '=')
		n++;
	if (t[n] != '\0')
		return -1;
	*token = t;
	*len = n;
	return 0;
}
