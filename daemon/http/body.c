/*
 * Request bodies: the routes take JSON objects only. json-c is told the
 * exact length, and what follows the object must be whitespace, so that
 * "{} trailing" or a NUL-cut body cannot pass as the object before it.
 */
#include "config.h"
#include <string.h>
#include "daemon.h"

/* Deep enough for any body the routes take, shallow enough to bound the parser's stack. */
#define BODY_MAX_DEPTH 64

int pad_body_parse(json_object **out, const char *body, size_t len)
{
	struct json_tokener *tok;
	json_object *o;
	size_t end;

	*out = NULL;
	if (len == 0)
		return 0;
	if (len > INT32_MAX || memchr(body, '\0', len) || !(tok = json_tokener_new_ex(BODY_MAX_DEPTH)))
		return -1;
	o = json_tokener_parse_ex(tok, body, (int)len);
	end = json_tokener_get_parse_end(tok);
	if (!o || json_tokener_get_error(tok) != json_tokener_success) {
		json_tokener_free(tok);
		json_object_put(o);
		return -1;
	}
	json_tokener_free(tok);
	for (; end < len; end++)
		if (!strchr(" \t\r\n", body[end]))
			break;
	if (end != len || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		return -1;
	}
	*out = o;
	return 0;
}
