/*
 * Cookies a user imports, in the three shapes browsers and extensions hand
 * out: a Cookie header, a {name: value} object, or an export array of
 * {name, value, domain, ...}. Everything accepted here ends up in a Cookie
 * header, so names and values are held to what a header can carry: a CR or
 * LF in a value would be a header injection, not a cookie.
 *
 * Error messages name the cookie (names are not secret) or its position,
 * never a value; names are shown escaped and shortened, since they come
 * from the same untrusted input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "pixverse.h"

#define PV_NAME_SHOWN 48

void pv_cookies_free(pv_cookie_jar *jar)
{
	size_t i;

	if (!jar || !jar->host)
		return;
	for (i = 0; i < jar->count; i++) {
		jar->host->free(jar->host, jar->items[i].name);
		jar->host->secret_free(jar->host, jar->items[i].value);
	}
	free(jar->items);
	jar->items = NULL;
	jar->count = 0;
}

const char *pv_cookie_find(const provauth_cookie *cookies, size_t count, const char *name)
{
	size_t i;

	for (i = 0; cookies && name && i < count; i++)
		if (cookies[i].name && strcmp(cookies[i].name, name) == 0)
			return cookies[i].value;
	return NULL;
}

int pv_account_cookies(const provauth_host *h, const provauth_account *a, provauth_cookie **out, size_t *count)
{
	provauth_credential c;
	size_t i, n = h->account_credential_count(a);

	*out = NULL;
	*count = 0;
	for (i = 0; i < n; i++) {
		if (h->account_credential_at(&c, a, i) < 0 || strcmp(c.kind, PROVAUTH_CRED_COOKIE) != 0)
			continue;
		if (!*out && !(*out = calloc(n, sizeof(**out))))
			return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
		/* Borrowed: a request only reads its cookies. */
		(*out)[*count].name = (char *)c.name;
		(*out)[*count].value = (char *)c.value;
		(*count)++;
	}
	return 0;
}

int pv_session_cookies(const provauth_host *h, const provauth_session *s, provauth_cookie **out, size_t *count)
{
	size_t i;

	*out = NULL;
	*count = 0;
	for (i = 0; i < s->credential_count; i++) {
		if (strcmp(s->credentials[i].kind, PROVAUTH_CRED_COOKIE) != 0)
			continue;
		if (!*out && !(*out = calloc(s->credential_count, sizeof(**out))))
			return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: out of memory");
		/* Borrowed: a request only reads its cookies. */
		(*out)[*count].name = (char *)s->credentials[i].name;
		(*out)[*count].value = (char *)s->credentials[i].value;
		(*count)++;
	}
	return 0;
}

/* RFC 6265 cookie-name: an RFC 9110 token. */
int pv_cookie_name_ok(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;

	if (!p || !*p)
		return 0;
	for (; *p; p++)
		if (*p <= 0x20 || *p >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *p))
			return 0;
	return 1;
}

/* Printable ASCII without ';' (which ends a cookie) or a backslash; spaces kept for lenient servers. */
int pv_cookie_value_ok(const char *value)
{
	const unsigned char *p = (const unsigned char *)value;

	if (!p)
		return 0;
	for (; *p; p++)
		if (*p < 0x20 || *p >= 0x7f || *p == ';' || *p == '\\')
			return 0;
	return 1;
}

/* A cookie name made safe to show: printable, escaped, shortened. */
static void shown_name(const char *name, size_t len, char *out, size_t size)
{
	size_t i, o = 0;

	for (i = 0; i < len && o + 5 < size; i++) {
		unsigned char c = (unsigned char)name[i];
		if (i >= PV_NAME_SHOWN) {
			snprintf(out + o, size - o, "...");
			return;
		}
		if (c >= 0x20 && c < 0x7f && c != '\'' && c != '\\')
			out[o++] = (char)c;
		else
			o += (size_t)snprintf(out + o, size - o, "\\x%02x", c);
	}
	out[o] = '\0';
}

static int jar_put(pv_cookie_jar *jar, const provauth_host *h, const char *name, size_t nlen,
                   const char *value, size_t vlen)
{
	provauth_cookie *grown;
	char *n, *v;
	size_t i;

	if (!(n = h->alloc(h, nlen + 1)) || !(v = h->alloc(h, vlen + 1))) {
		h->free(h, n);
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: cookies: out of memory");
	}
	memcpy(n, name, nlen);
	n[nlen] = '\0';
	memcpy(v, value, vlen);
	v[vlen] = '\0';
	for (i = 0; i < jar->count; i++)
		if (strcmp(jar->items[i].name, n) == 0) {
			h->free(h, n);
			h->secret_free(h, jar->items[i].value);
			jar->items[i].value = v;
			return 0;
		}
	if (jar->count >= PV_COOKIES_MAX_COUNT) {
		h->free(h, n);
		h->secret_free(h, v);
		return h->set_error(h, PROVAUTH_EINVAL,
		                    "pixverse: cookies: more than %d cookies; export only the pixverse.ai ones",
		                    PV_COOKIES_MAX_COUNT);
	}
	if (!(grown = realloc(jar->items, (jar->count + 1) * sizeof(*grown)))) {
		h->free(h, n);
		h->secret_free(h, v);
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: cookies: out of memory");
	}
	jar->items = grown;
	grown[jar->count].name = n;
	grown[jar->count].value = v;
	jar->count++;
	return 0;
}

/* Checks one cookie and adds it; `where` says where it came from ("cookie #3"). */
static int check_and_put(pv_cookie_jar *jar, const provauth_host *h, const char *where, const char *name,
                         size_t nlen, const char *value, size_t vlen)
{
	char shown[PV_NAME_SHOWN * 4 + 8];
	char *n;
	int ok;

	if (nlen == 0)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: %s has an empty name", where);
	if (!(n = h->alloc(h, nlen + 1)))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: cookies: out of memory");
	memcpy(n, name, nlen);
	n[nlen] = '\0';
	ok = strlen(n) == nlen && pv_cookie_name_ok(n);
	h->free(h, n);
	shown_name(name, nlen, shown, sizeof(shown));
	if (!ok)
		return h->set_error(h, PROVAUTH_EINVAL,
		                    "pixverse: cookies: %s: name '%s' has characters a cookie name cannot contain", where,
		                    shown);
	if (!(n = h->alloc(h, vlen + 1)))
		return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: cookies: out of memory");
	memcpy(n, value, vlen);
	n[vlen] = '\0';
	ok = strlen(n) == vlen && pv_cookie_value_ok(n);
	h->secret_free(h, n);
	if (!ok)
		return h->set_error(h, PROVAUTH_EINVAL,
		                    "pixverse: cookies: %s ('%s'): the value has characters a Cookie header cannot carry "
		                    "(control characters, non-ASCII bytes, ';' or '\\')",
		                    where, shown);
	return jar_put(jar, h, name, nlen, value, vlen);
}

static int is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* "a=1; b=2", optionally prefixed by "Cookie:". */
static int parse_header(pv_cookie_jar *jar, const provauth_host *h, const char *p)
{
	size_t index = 0;
	char where[48];
	int rc;

	if (strncasecmp(p, "cookie:", 7) == 0)
		p += 7;
	while (*p) {
		const char *seg, *end, *eq, *ns, *ne, *vs, *ve;

		while (is_ws(*p))
			p++;
		if (!*p)
			break;
		seg = p;
		end = strchr(p, ';');
		if (!end)
			end = p + strlen(p);
		p = *end ? end + 1 : end;
		if (end == seg)
			continue;                /* ";;" */
		index++;
		snprintf(where, sizeof(where), "cookie #%zu", index);
		if (!(eq = memchr(seg, '=', (size_t)(end - seg))))
			return h->set_error(h, PROVAUTH_EINVAL,
			                    "pixverse: cookies: %s has no '=' (expected \"name=value; name2=value2\")", where);
		ns = seg;
		ne = eq;
		while (ne > ns && is_ws(ne[-1]))
			ne--;
		vs = eq + 1;
		ve = end;
		while (vs < ve && is_ws(*vs))
			vs++;
		while (ve > vs && is_ws(ve[-1]))
			ve--;
		if ((rc = check_and_put(jar, h, where, ns, (size_t)(ne - ns), vs, (size_t)(ve - vs))) < 0)
			return rc;
	}
	return 0;
}

/* A JSON scalar as cookie text: strings as they are, integers printed; others refused. */
static int scalar_text(const provauth_host *h, const provauth_json *v, char *buf, size_t size, const char **out)
{
	int64_t n;

	if (h->json_type(v) == PROVAUTH_JSON_STRING) {
		*out = h->json_string(v);
		return 0;
	}
	if (h->json_type(v) == PROVAUTH_JSON_INT && h->json_int(v, &n) == 0) {
		snprintf(buf, size, "%lld", (long long)n);
		*out = buf;
		return 0;
	}
	return -1;
}

static const char *type_name(provauth_json_type t)
{
	switch (t) {
	case PROVAUTH_JSON_NULL: return "null";
	case PROVAUTH_JSON_BOOL: return "a boolean";
	case PROVAUTH_JSON_INT: return "a number";
	case PROVAUTH_JSON_DOUBLE: return "a number";
	case PROVAUTH_JSON_STRING: return "a string";
	case PROVAUTH_JSON_OBJECT: return "an object";
	case PROVAUTH_JSON_ARRAY: return "an array";
	}
	return "something else";
}

static int parse_array(pv_cookie_jar *jar, const provauth_host *h, const provauth_json *arr)
{
	size_t i, n = h->json_array_len(arr);
	char where[48], num[32];
	int rc;

	if (n == 0)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: the JSON array is empty");
	for (i = 0; i < n; i++) {
		const provauth_json *c = h->json_array_at(arr, i);
		const provauth_json *nv, *vv;
		const char *name, *value;

		snprintf(where, sizeof(where), "array element %zu", i);
		if (h->json_type(c) != PROVAUTH_JSON_OBJECT)
			return h->set_error(h, PROVAUTH_EINVAL,
			                    "pixverse: cookies: %s is %s, not an object {\"name\": ..., \"value\": ...}", where,
			                    type_name(h->json_type(c)));
		nv = h->json_get(c, "name");
		vv = h->json_get(c, "value");
		if (!nv || h->json_type(nv) != PROVAUTH_JSON_STRING)
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: %s has no string \"name\"", where);
		name = h->json_string(nv);
		if (!vv || scalar_text(h, vv, num, sizeof(num), &value) < 0) {
			char shown[PV_NAME_SHOWN * 4 + 8];
			shown_name(name, strlen(name), shown, sizeof(shown));
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: %s ('%s') has no string \"value\"", where,
			                    shown);
		}
		if ((rc = check_and_put(jar, h, where, name, strlen(name), value, strlen(value))) < 0)
			return rc;
	}
	return 0;
}

/* Skips a JSON string starting at *p == '"'; returns the char after it. */
static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

/* Skips any JSON value (already known to be valid). */
static const char *skip_value(const char *p)
{
	int depth = 0;

	do {
		while (is_ws(*p))
			p++;
		if (*p == '"') {
			p = skip_string(p);
		} else if (*p == '{' || *p == '[') {
			depth++;
			p++;
		} else if (*p == '}' || *p == ']') {
			depth--;
			p++;
		} else if (*p) {
			if (depth == 0) {
				while (*p && *p != ',' && *p != '}' && *p != ']' && !is_ws(*p))
					p++;
			} else {
				p++;
			}
		}
	} while (*p && depth > 0);
	return p;
}

/*
 * {"a": "1", ...}. The host's JSON service has no key iteration, so the keys
 * are walked here: the text was just validated by the host's parser, which
 * makes a simple scan of the top level safe.
 */
static int parse_object(pv_cookie_jar *jar, const provauth_host *h, const char *text, const provauth_json *obj)
{
	const char *p = text;
	size_t index = 0;
	char where[48], num[32];
	int rc;

	while (is_ws(*p))
		p++;
	p++; /* '{' */
	for (;;) {
		const char *ks, *ke;
		provauth_json *key;
		const provauth_json *v;
		const char *name, *value;
		char *kjson;

		while (is_ws(*p) || *p == ',')
			p++;
		if (*p != '"')
			break;
		ks = p;
		ke = skip_string(p);
		index++;
		snprintf(where, sizeof(where), "member %zu", index);
		/* Let the host decode the key's escapes. */
		if (!(kjson = malloc((size_t)(ke - ks) + 1)))
			return h->set_error(h, PROVAUTH_ENOMEM, "pixverse: cookies: out of memory");
		memcpy(kjson, ks, (size_t)(ke - ks));
		kjson[ke - ks] = '\0';
		key = h->json_parse(kjson, (size_t)(ke - ks));
		free(kjson);
		name = key ? h->json_string(key) : NULL;
		if (!name) {
			h->json_free(key);
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: %s has an unreadable name", where);
		}
		if (!*name) {
			h->json_free(key);
			return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: %s has an empty name", where);
		}
		/* json_get treats '.' as a path separator, and no cookie name has one anyway. */
		if (strchr(name, '.') || !(v = h->json_get(obj, name))) {
			char shown[PV_NAME_SHOWN * 4 + 8];
			shown_name(name, strlen(name), shown, sizeof(shown));
			h->json_free(key);
			return h->set_error(h, PROVAUTH_EINVAL,
			                    "pixverse: cookies: %s: name '%s' is not a usable cookie name", where, shown);
		}
		if (scalar_text(h, v, num, sizeof(num), &value) < 0) {
			char shown[PV_NAME_SHOWN * 4 + 8];
			shown_name(name, strlen(name), shown, sizeof(shown));
			rc = h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: %s ('%s') is %s, not a string", where, shown,
			                  type_name(h->json_type(v)));
			h->json_free(key);
			return rc;
		}
		rc = check_and_put(jar, h, where, name, strlen(name), value, strlen(value));
		h->json_free(key);
		if (rc < 0)
			return rc;
		/* past ':' and the value */
		p = ke;
		while (is_ws(*p))
			p++;
		if (*p == ':')
			p++;
		p = skip_value(p);
	}
	if (index == 0)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: the JSON object is empty");
	return 0;
}

int pv_cookies_parse(pv_cookie_jar *out, const provauth_host *h, const char *input)
{
	provauth_json *json;
	const char *p;
	size_t len;
	int rc;

	out->host = h;
	out->items = NULL;
	out->count = 0;
	if (!input)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: no input");
	len = strlen(input);
	if (len > PV_COOKIES_MAX_INPUT)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: input is %zu bytes; the limit is %d", len,
		                    PV_COOKIES_MAX_INPUT);
	for (p = input; is_ws(*p); p++)
		;
	if (!*p)
		return h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: input is empty");
	if (*p == '{' || *p == '[') {
		if (!(json = h->json_parse(input, len)))
			return h->set_error(h, PROVAUTH_EINVAL,
			                    "pixverse: cookies: input starts like JSON but is not valid JSON "
			                    "(unterminated, malformed or nested too deeply)");
		if (h->json_type(json) == PROVAUTH_JSON_ARRAY)
			rc = parse_array(out, h, json);
		else if (h->json_type(json) == PROVAUTH_JSON_OBJECT)
			rc = parse_object(out, h, input, json);
		else
			rc = h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: JSON input must be an object or an array");
		h->json_free(json);
	} else {
		rc = parse_header(out, h, p);
		if (rc == 0 && out->count == 0)
			rc = h->set_error(h, PROVAUTH_EINVAL, "pixverse: cookies: the Cookie header holds no cookie");
	}
	if (rc < 0)
		pv_cookies_free(out);
	return rc;
}
