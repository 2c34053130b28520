/*
 * A small streaming JSON writer for the documents the tool builds itself
 * (--json output); results of operations are printed with json-c. Indents
 * two spaces per level.
 */
#include "config.h"
#include <stdio.h>
#include <string.h>
#include "cli.h"

#define MAX_DEPTH ((int)(sizeof(((cli_json *)0)->has_items) / sizeof(int)))

void cli_json_init(cli_json *w, FILE *out)
{
	memset(w, 0, sizeof(*w));
	w->out = out;
}

static void indent(cli_json *w)
{
	int i;

	fputc('\n', w->out);
	for (i = 0; i < w->depth; i++)
		fputs("  ", w->out);
}

/* Length of the valid UTF-8 sequence at s, or 0 when it is not valid. */
static size_t utf8_len(const unsigned char *s)
{
	size_t n, i;
	unsigned int cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0) { n = 2; cp = s[0] & 0x1f; }
	else if ((s[0] & 0xf0) == 0xe0) { n = 3; cp = s[0] & 0x0f; }
	else if ((s[0] & 0xf8) == 0xf0) { n = 4; cp = s[0] & 0x07; }
	else return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* File names need not be UTF-8; invalid bytes become U+FFFD so the document stays valid. */
static void put_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p) {
		size_t n;
		switch (*p) {
		case '"':  fputs("\\\"", out); p++; continue;
		case '\\': fputs("\\\\", out); p++; continue;
		case '\n': fputs("\\n", out); p++; continue;
		case '\t': fputs("\\t", out); p++; continue;
		case '\r': fputs("\\r", out); p++; continue;
		default: break;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p);
			p++;
			continue;
		}
		if ((n = utf8_len(p)) == 0) {
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		fwrite(p, 1, n, out);
		p += n;
	}
	fputc('"', out);
}

static void member(cli_json *w, const char *key)
{
	/* Deeper than has_items can track is a bug in the caller; stay in bounds anyway. */
	if (w->depth > 0 && w->depth <= MAX_DEPTH) {
		if (w->has_items[w->depth - 1])
			fputc(',', w->out);
		w->has_items[w->depth - 1] = 1;
		indent(w);
	}
	if (key) {
		put_string(w->out, key);
		fputs(": ", w->out);
	}
}

static void open_container(cli_json *w, const char *key, char c)
{
	member(w, key);
	fputc(c, w->out);
	if (w->depth < MAX_DEPTH)
		w->has_items[w->depth] = 0;
	w->depth++;
}

static void close_container(cli_json *w, char c)
{
	int had = w->depth <= MAX_DEPTH && w->has_items[w->depth - 1];

	w->depth--;
	if (had)
		indent(w);
	fputc(c, w->out);
}

void cli_json_object_begin(cli_json *w, const char *key) { open_container(w, key, '{'); }
void cli_json_object_end(cli_json *w) { close_container(w, '}'); }
void cli_json_array_begin(cli_json *w, const char *key) { open_container(w, key, '['); }
void cli_json_array_end(cli_json *w) { close_container(w, ']'); }

void cli_json_string(cli_json *w, const char *key, const char *value)
{
	member(w, key);
	if (value)
		put_string(w->out, value);
	else
		fputs("null", w->out);
}

void cli_json_bool(cli_json *w, const char *key, int value)
{
	member(w, key);
	fputs(value ? "true" : "false", w->out);
}

void cli_json_int(cli_json *w, const char *key, long long value)
{
	member(w, key);
	fprintf(w->out, "%lld", value);
}

void cli_json_finish(cli_json *w)
{
	fputc('\n', w->out);
}

void cli_json_raw(cli_json *w, const char *key, const char *json)
{
	member(w, key);
	fputs(json, w->out);
}
