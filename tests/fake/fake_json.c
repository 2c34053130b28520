/* JSON helpers shared by the fakes: strict parsing and tolerant reading. */
#include "config.h"
#include "fake_common.h"

#include <stdint.h>
#include <string.h>

json_object *fake_json_parse(const char *text, size_t len)
{
	json_tokener *tok;
	json_object *obj;
	size_t end;

	if (!text || len > INT32_MAX)
		return NULL;
	tok = json_tokener_new();
	if (!tok)
		return NULL;
	obj = json_tokener_parse_ex(tok, text, (int)len);
	if (!obj || json_tokener_get_error(tok) != json_tokener_success) {
		json_object_put(obj);
		json_tokener_free(tok);
		return NULL;
	}
#if JSON_C_VERSION_NUM >= ((0 << 16) | (15 << 8))
	end = json_tokener_get_parse_end(tok);
#else
	end = (size_t)tok->char_offset;
#endif
	json_tokener_free(tok);
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", text[end])) {
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

const char *fake_json_text(json_object *obj, size_t *len)
{
	const char *s = json_object_to_json_string_ext(obj,
		JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);

	if (len)
		*len = s ? strlen(s) : 0;
	return s;
}

const char *fake_json_str(json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

int fake_json_int64(long long *out, json_object *obj, const char *key)
{
	json_object *v;

	if (!obj || !json_object_object_get_ex(obj, key, &v))
		return -1;
	if (json_object_is_type(v, json_type_int)) {
		*out = (long long)json_object_get_int64(v);
		return 0;
	}
	if (json_object_is_type(v, json_type_double)) {
		*out = (long long)json_object_get_double(v);
		return 0;
	}
	return -1;
}

