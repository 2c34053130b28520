/*
 * Checks that a text is one JSON document without building it: the
 * plugins' named operations hand back the server's reply as JSON text and
 * only need to know it is JSON, and a json-c object tree costs far more
 * than the request itself (bench/RESULTS.md, e2e).
 *
 * Strict RFC 8259: one value of any type, surrounded by optional blanks;
 * strings are well-formed UTF-8 with no raw control characters and only
 * the standard escapes, \u0000 excepted (see pa_json_parse). json-c's extensions (comments, single quotes, NaN,
 * trailing commas) are refused: what passes here is JSON to every reader.
 * No recursion and no allocation: containers nest at most
 * PA_JSON_CHECK_MAX_DEPTH deep and their kinds live in one bit set.
 */
#include "config.h"
#include <stdint.h>
#include "internal.h"

/* The same bound pa_json_parse gives json-c. */
#define PA_JSON_CHECK_MAX_DEPTH 64

typedef const unsigned char *cursor;

/* The blanks RFC 8259 allows between tokens. */
static const unsigned char blank_byte[256] = {
	[' '] = 1, ['\t'] = 1, ['\n'] = 1, ['\r'] = 1,
};

/* Runs before and after every token: one look-up per byte. */
static cursor skip_blanks(cursor p, cursor end)
{
	while (p < end && blank_byte[*p])
		p++;
	return p;
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/*
 * One UTF-8 sequence of 2 to 4 bytes starting at p (p[0] >= 0x80), as RFC
 * 3629 allows it: no overlong forms, no surrogates, nothing above U+10FFFF.
 * Returns its end, or NULL.
 */
static cursor utf8_sequence(cursor p, cursor end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (c >= 0xc2 && c <= 0xdf)
		n = 2;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4;
	else
		return NULL;
	/* The second byte's range is what rules out overlongs, surrogates and > U+10FFFF. */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return NULL;
	for (i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return NULL;
	return p + n;
}

/* Bytes that stand for themselves in a string: printable ASCII but '"' (0x22) and '\\' (0x5c). */
static const unsigned char plain_byte[256] = {
	[0x20 ... 0x21] = 1, [0x23 ... 0x5b] = 1, [0x5d ... 0x7f] = 1,
};

/* A string whose opening quote is at p; returns the position after the closing one, or NULL. */
static cursor string(cursor p, cursor end)
{
	for (p++;;) {
		unsigned char c;

		/* Most of a reply is plain text: one table look-up per byte. */
		while (p < end && plain_byte[*p])
			p++;
		if (p == end)
			return NULL;
		c = *p;
		if (c == '"')
			return p + 1;
		if (c < 0x20)
			return NULL;
		if (c == '\\') {
			if (end - p < 2)
				return NULL;
			switch (p[1]) {
			case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
				p += 2;
				break;
			case 'u':
				/* Any four hex digits: the grammar allows lone surrogates (RFC 8259, 8.2). */
				if (end - p < 6 || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) || !is_hex(p[5]))
					return NULL;
				/* But not NUL, which pa_json_parse refuses: it would cut a C string short. */
				if (p[2] == '0' && p[3] == '0' && p[4] == '0' && p[5] == '0')
					return NULL;
				p += 6;
				break;
			default:
				return NULL;
			}
		} else if (!(p = utf8_sequence(p, end))) {
			return NULL;
		}
	}
}

static cursor digits(cursor p, cursor end)
{
	cursor start = p;

	while (p < end && is_digit(*p))
		p++;
	return p > start ? p : NULL;
}

/* -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)? */
static cursor number(cursor p, cursor end)
{
	if (*p == '-')
		p++;
	if (p == end)
		return NULL;
	if (*p == '0')
		p++;
	else if (!(p = digits(p, end)))
		return NULL;
	if (p < end && *p == '.' && !(p = digits(p + 1, end)))
		return NULL;
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (!(p = digits(p, end)))
			return NULL;
	}
	return p;
}

static cursor literal(cursor p, cursor end, const char *word, size_t n)
{
	size_t i;

	if ((size_t)(end - p) < n)
		return NULL;
	for (i = 0; i < n; i++)
		if (p[i] != (unsigned char)word[i])
			return NULL;
	return p + n;
}

/* `"key" :` with the blanks around it; returns the position after the colon, or NULL. */
static cursor member_name(cursor p, cursor end)
{
	p = skip_blanks(p, end);
	if (p == end || *p != '"' || !(p = string(p, end)))
		return NULL;
	p = skip_blanks(p, end);
	return p < end && *p == ':' ? p + 1 : NULL;
}

int pa_json_valid(const char *text, size_t len)
{
	cursor p = (cursor)text, end;
	uint64_t objects = 0; /* bit d: the container at depth d + 1 is an object */
	unsigned int depth = 0;

	/* Before any arithmetic: NULL + len is undefined even when nothing reads it. */
	if (!text)
		return 0;
	end = p + len;
	for (;;) {
		/* A value is expected. */
		p = skip_blanks(p, end);
		if (p == end)
			return 0;
		/*
		 * Every value takes a level, as it does in json-c's tokener: inside
		 * 64 containers only an empty one fits, so a document json-c
		 * refuses for depth is never accepted here.
		 */
		if (depth == PA_JSON_CHECK_MAX_DEPTH)
			return 0;
		switch (*p) {
		case '{':
		case '[':
			if (*p == '{')
				objects |= (uint64_t)1 << depth;
			else
				objects &= ~((uint64_t)1 << depth);
			depth++;
			p = skip_blanks(p + 1, end);
			if (p < end && *p == (((objects >> (depth - 1)) & 1) ? '}' : ']')) {
				depth--;
				p++;
				break;
			}
			if (((objects >> (depth - 1)) & 1) && !(p = member_name(p, end)))
				return 0;
			continue;
		case '"':
			p = string(p, end);
			break;
		case 't':
			p = literal(p, end, "true", 4);
			break;
		case 'f':
			p = literal(p, end, "false", 5);
			break;
		case 'n':
			p = literal(p, end, "null", 4);
			break;
		default:
			p = *p == '-' || is_digit(*p) ? number(p, end) : NULL;
			break;
		}
		if (!p)
			return 0;
		/* A value ended: close containers until one goes on, or the document ends. */
		for (;;) {
			int in_object;

			p = skip_blanks(p, end);
			if (depth == 0)
				return p == end;
			if (p == end)
				return 0;
			in_object = ((objects >> (depth - 1)) & 1);
			if (*p == ',') {
				p++;
				if (in_object && !(p = member_name(p, end)))
					return 0;
				break;
			}
			if (*p != (in_object ? '}' : ']'))
				return 0;
			depth--;
			p++;
		}
	}
}
