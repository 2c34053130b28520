/*
 * The YAML reader: libyaml's event API feeds a small tree of
 * provauth_setting nodes. Events rather than libyaml's document API so that
 * the limits (size, depth, node count) and the refusals (aliases, tags, a
 * second document) act while reading, before an attacker-sized tree
 * exists.
 *
 * Null (~, null or nothing) becomes NODE_NULL: "use the default". A scalar
 * keeps whether it was quoted, since YAML types an unquoted 300 as a number;
 * the typed readers (values.c) judge that against the key that reads it.
 */
#include "config.h"
#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>
#include "settings/yaml_tree.h"

void pa_node_free(provauth_setting *n)
{
	size_t i;

	if (!n)
		return;
	if (n->value)
		pa_secret_free(n->value);
	for (i = 0; n->entries && i < n->count; i++) {
		free(n->entries[i].key);
		pa_node_free(n->entries[i].value);
	}
	for (i = 0; n->items && i < n->count; i++)
		pa_node_free(n->items[i]);
	free(n->entries);
	free(n->items);
	free(n->path);
	free(n);
}

provauth_setting *pa_node_new(node_kind kind, const char *file, const char *path,
                              unsigned line, unsigned col)
{
	provauth_setting *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	if (!(n->path = strdup(path))) {
		free(n);
		return NULL;
	}
	n->kind = kind;
	n->file = file;
	n->line = line;
	n->col = col;
	return n;
}

char *pa_node_child_path(const char *parent, const char *key)
{
	char clean[PA_SHOWN_MAX * 4 + 8];

	pa_settings_sanitize(clean, sizeof(clean), key, strlen(key), PA_SHOWN_MAX);
	return *parent ? pa_sprintf("%s.%s", parent, clean) : pa_strdup(clean);
}

const pa_entry *pa_map_entry(const provauth_setting *map, const char *key)
{
	size_t i;

	if (!map || map->kind != NODE_MAP)
		return NULL;
	for (i = 0; i < map->count; i++)
		if (strcmp(map->entries[i].key, key) == 0)
			return &map->entries[i];
	return NULL;
}

const provauth_setting *pa_map_value(const provauth_setting *map, const char *key)
{
	const pa_entry *e = pa_map_entry(map, key);
	return e && e->value->kind != NODE_NULL ? e->value : NULL;
}

/* ------------------------------------------------------------------------ */
/* Reading the YAML                                                         */
/* ------------------------------------------------------------------------ */

typedef struct parser {
	yaml_parser_t yp;
	const char *file;
	const char *text;
	size_t len;
	size_t nodes;
	size_t expanded;  /* bytes of all values so far, after ${NAME} expansion */
} parser;

/* Byte offset of a 0-based line and character column (libyaml counts characters). */
static size_t position_offset(const char *text, size_t len, size_t line, size_t col)
{
	size_t i = 0;

	for (; line && i < len; i++)
		if (text[i] == '\n')
			line--;
	for (; col && i < len; col--)
		for (i++; i < len && ((unsigned char)text[i] & 0xC0) == 0x80; i++)
			;
	return i;
}

/* libyaml's reader errors give a byte offset only. */
static void offset_position(const char *text, size_t len, size_t off, unsigned *line, unsigned *col)
{
	size_t i;

	*line = 1, *col = 1;
	for (i = 0; i < off && i < len; i++) {
		if (text[i] == '\n')
			++*line, *col = 1;
		else if (((unsigned char)text[i] & 0xC0) != 0x80)
			++*col;
	}
}

static int yaml_failure(parser *p)
{
	const yaml_parser_t *yp = &p->yp;
	const char *problem = yp->problem ? yp->problem : "syntax error";
	unsigned line = (unsigned)yp->problem_mark.line + 1, col = (unsigned)yp->problem_mark.column + 1;
	size_t at = position_offset(p->text, p->len, yp->problem_mark.line, yp->problem_mark.column);

	if (yp->error == YAML_MEMORY_ERROR)
		return pa_error_oom();
	if (yp->error == YAML_READER_ERROR) {
		offset_position(p->text, p->len, yp->problem_offset, &line, &col);
		return pa_settings_fail_at(p->file, line, col, NULL,
		                           "not a text settings file: %s (settings must be UTF-8 text; "
		                           "is this a binary file?)", problem);
	}
	if (yp->context && strstr(yp->context, "quoted scalar") &&
	    (strstr(problem, "end of stream") || strstr(problem, "document indicator")))
		return pa_settings_fail_at(p->file, (unsigned)yp->context_mark.line + 1,
		                           (unsigned)yp->context_mark.column + 1, NULL,
		                           "unterminated quoted string: the quote opened here is never closed");
	if (strstr(problem, "tab") || (at < p->len && p->text[at] == '\t'))
		return pa_settings_fail_at(p->file, line, col, NULL,
		                           "invalid YAML: %s%s%s; tabs cannot be used for indentation in YAML, "
		                           "indent with spaces", problem, yp->context ? " " : "",
		                           yp->context ? yp->context : "");
	if (yp->context)
		return pa_settings_fail_at(p->file, line, col, NULL,
		                           "invalid YAML: %s %s (started at line %u, column %u)",
		                           problem, yp->context, (unsigned)yp->context_mark.line + 1,
		                           (unsigned)yp->context_mark.column + 1);
	return pa_settings_fail_at(p->file, line, col, NULL, "invalid YAML: %s", problem);
}

static int next_event(parser *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->yp, ev)) {
		memset(ev, 0, sizeof(*ev));
		return yaml_failure(p);
	}
	return 0;
}

#define EV_LINE(ev) ((unsigned)(ev)->start_mark.line + 1)
#define EV_COL(ev)  ((unsigned)(ev)->start_mark.column + 1)

static int count_node(parser *p, const yaml_event_t *ev)
{
	if (++p->nodes > PA_YAML_MAX_NODES)
		return pa_settings_fail_at(p->file, EV_LINE(ev), EV_COL(ev), NULL,
		                           "more than %d values; this is too large for a settings file",
		                           PA_YAML_MAX_NODES);
	return 0;
}

static int no_anchor_or_tag(parser *p, const yaml_event_t *ev, const char *path,
                            const yaml_char_t *anchor, const yaml_char_t *tag)
{
	if (anchor)
		return pa_settings_fail_at(p->file, EV_LINE(ev), EV_COL(ev), path,
		                           "anchors and aliases are not supported");
	if (tag)
		return pa_settings_fail_at(p->file, EV_LINE(ev), EV_COL(ev), path,
		                           "YAML tags (!...) are not supported");
	return 0;
}

static int parse_node(parser *p, const yaml_event_t *ev, const char *path, int depth,
                      provauth_setting **out);

static int parse_scalar(parser *p, const yaml_event_t *ev, const char *path, provauth_setting **out)
{
	const char *raw = (const char *)ev->data.scalar.value;
	size_t len = ev->data.scalar.length;
	int plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	provauth_setting *n;
	int rc;

	if ((rc = no_anchor_or_tag(p, ev, path, ev->data.scalar.anchor, ev->data.scalar.tag)))
		return rc;
	if (memchr(raw, '\0', len))
		return pa_settings_fail_at(p->file, EV_LINE(ev), EV_COL(ev), path,
		                           "NUL characters are not allowed");
	if (plain && (!len || strcmp(raw, "~") == 0 || strcmp(raw, "null") == 0 ||
	              strcmp(raw, "Null") == 0 || strcmp(raw, "NULL") == 0)) {
		*out = pa_node_new(NODE_NULL, p->file, path, EV_LINE(ev), EV_COL(ev));
		return *out ? 0 : pa_error_oom();
	}
	if (!(n = pa_node_new(NODE_SCALAR, p->file, path, EV_LINE(ev), EV_COL(ev))))
		return pa_error_oom();
	n->plain = plain;
	if ((rc = pa_expand_env(n, raw, len, &p->expanded))) {
		pa_node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* Reports the earliest key that repeats one before it, naming both lines. */
static int compare_entries(const void *a, const void *b)
{
	const pa_entry *x = *(const pa_entry *const *)a, *y = *(const pa_entry *const *)b;
	int c = strcmp(x->key, y->key);
	return c ? c : (x < y ? -1 : x > y);
}

static int check_duplicates(const provauth_setting *map)
{
	const pa_entry **sorted, *first = NULL, *again = NULL;
	size_t i;
	char *path;
	int rc;

	if (map->count < 2)
		return 0;
	if (!(sorted = malloc(map->count * sizeof(*sorted))))
		return pa_error_oom();
	for (i = 0; i < map->count; i++)
		sorted[i] = &map->entries[i];
	qsort(sorted, map->count, sizeof(*sorted), compare_entries);
	for (i = 1; i < map->count; i++)
		if (strcmp(sorted[i - 1]->key, sorted[i]->key) == 0 && (!again || sorted[i] < again) &&
		    (i < 2 || strcmp(sorted[i - 2]->key, sorted[i]->key) != 0))
			first = sorted[i - 1], again = sorted[i];
	free(sorted);
	if (!again)
		return 0;
	if (!(path = pa_node_child_path(map->path, again->key)))
		return pa_error_oom();
	rc = pa_settings_fail_at(map->file, again->line, again->col, path,
	                         "duplicate key: first defined at line %u, again at line %u",
	                         first->line, again->line);
	free(path);
	return rc;
}

static int parse_entry(parser *p, provauth_setting *map, const yaml_event_t *kev, int depth)
{
	const char *key = (const char *)kev->data.scalar.value;
	yaml_event_t vev;
	pa_entry *e;
	char *path;
	int rc;

	if (kev->type == YAML_ALIAS_EVENT)
		return pa_settings_fail_at(p->file, EV_LINE(kev), EV_COL(kev), map->path,
		                           "anchors and aliases are not supported");
	if (kev->type != YAML_SCALAR_EVENT)
		return pa_settings_fail_at(p->file, EV_LINE(kev), EV_COL(kev), map->path,
		                           "a key must be a plain name, not a %s",
		                           kev->type == YAML_MAPPING_START_EVENT ? "mapping" : "sequence");
	if ((rc = no_anchor_or_tag(p, kev, map->path, kev->data.scalar.anchor, kev->data.scalar.tag)))
		return rc;
	if (memchr(key, '\0', kev->data.scalar.length))
		return pa_settings_fail_at(p->file, EV_LINE(kev), EV_COL(kev), map->path,
		                           "NUL characters are not allowed in keys");
	if (map->count % 8 == 0) {
		pa_entry *grown = realloc(map->entries, (map->count + 8) * sizeof(*grown));
		if (!grown)
			return pa_error_oom();
		map->entries = grown;
	}
	e = &map->entries[map->count];
	memset(e, 0, sizeof(*e));
	if (!(e->key = strdup(key)) || !(path = pa_node_child_path(map->path, key))) {
		free(e->key);
		return pa_error_oom();
	}
	e->line = EV_LINE(kev);
	e->col = EV_COL(kev);
	if (!(rc = next_event(p, &vev))) {
		rc = parse_node(p, &vev, path, depth, &e->value);
		yaml_event_delete(&vev);
	}
	free(path);
	if (rc) {
		free(e->key);
		return rc;
	}
	map->count++;
	return 0;
}

static int parse_collection(parser *p, provauth_setting *n, int is_map, int depth)
{
	/* parse_node refuses deeper nesting before any collection is read. */
	assert(depth <= PA_YAML_MAX_DEPTH);
	assert(n->kind == (is_map ? NODE_MAP : NODE_SEQ));
	for (;;) {
		yaml_event_t ev;
		int rc;

		if ((rc = next_event(p, &ev)))
			return rc;
		if (ev.type == YAML_MAPPING_END_EVENT || ev.type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(&ev);
			return is_map ? check_duplicates(n) : 0;
		}
		if (is_map) {
			rc = parse_entry(p, n, &ev, depth + 1);
		} else {
			char *path = pa_sprintf("%s[%zu]", n->path, n->count);
			if (n->count % 8 == 0) {
				provauth_setting **grown = realloc(n->items, (n->count + 8) * sizeof(*grown));
				if (grown)
					n->items = grown;
				else
					free(path), path = NULL;
			}
			if (!path)
				rc = pa_error_oom();
			else if (!(rc = parse_node(p, &ev, path, depth + 1, &n->items[n->count])))
				n->count++;
			free(path);
		}
		yaml_event_delete(&ev);
		if (rc)
			return rc;
	}
}

static int parse_node(parser *p, const yaml_event_t *ev, const char *path, int depth,
                      provauth_setting **out)
{
	provauth_setting *n;
	int is_map, rc;

	*out = NULL;
	if ((rc = count_node(p, ev)))
		return rc;
	switch (ev->type) {
	case YAML_SCALAR_EVENT:
		return parse_scalar(p, ev, path, out);
	case YAML_ALIAS_EVENT:
		return pa_settings_fail_at(p->file, EV_LINE(ev), EV_COL(ev), path,
		                           "anchors and aliases are not supported");
	case YAML_MAPPING_START_EVENT:
	case YAML_SEQUENCE_START_EVENT:
		break;
	default:
		return pa_settings_fail_at(p->file, EV_LINE(ev), EV_COL(ev), path, "unexpected YAML structure");
	}
	is_map = ev->type == YAML_MAPPING_START_EVENT;
	if (is_map)
		rc = no_anchor_or_tag(p, ev, path, ev->data.mapping_start.anchor, ev->data.mapping_start.tag);
	else
		rc = no_anchor_or_tag(p, ev, path, ev->data.sequence_start.anchor, ev->data.sequence_start.tag);
	if (rc)
		return rc;
	if (depth > PA_YAML_MAX_DEPTH)
		return pa_settings_fail_at(p->file, EV_LINE(ev), EV_COL(ev), path,
		                           "nesting is deeper than %d levels", PA_YAML_MAX_DEPTH);
	if (!(n = pa_node_new(is_map ? NODE_MAP : NODE_SEQ, p->file, path, EV_LINE(ev), EV_COL(ev))))
		return pa_error_oom();
	if ((rc = parse_collection(p, n, is_map, depth))) {
		pa_node_free(n);
		return rc;
	}
	*out = n;
	return 0;
}

/* The one document of the stream; *root is NULL for an empty stream. */
static int parse_stream(parser *p, provauth_setting **root)
{
	yaml_event_t ev;
	int rc, type;

	*root = NULL;
	if ((rc = next_event(p, &ev)))          /* stream start */
		return rc;
	yaml_event_delete(&ev);
	if ((rc = next_event(p, &ev)))
		return rc;
	type = ev.type;
	yaml_event_delete(&ev);
	if (type == YAML_STREAM_END_EVENT)
		return 0;
	if ((rc = next_event(p, &ev)))
		return rc;
	rc = parse_node(p, &ev, "", 1, root);
	yaml_event_delete(&ev);
	if (!rc && !(rc = next_event(p, &ev))) {  /* document end */
		yaml_event_delete(&ev);
		if (!(rc = next_event(p, &ev))) {
			if (ev.type == YAML_DOCUMENT_START_EVENT)
				rc = pa_settings_fail_at(p->file, EV_LINE(&ev), EV_COL(&ev), NULL,
				                         "a second YAML document starts here; a settings file holds "
				                         "exactly one (multiple documents are not supported)");
			yaml_event_delete(&ev);
		}
	}
	if (rc) {
		pa_node_free(*root);
		*root = NULL;
	}
	/* count_node refuses the node past the limit, so a tree read whole is within it. */
	assert(rc || p->nodes <= PA_YAML_MAX_NODES);
	return rc;
}

int pa_yaml_tree_parse(provauth_setting **root, const char *text, size_t len, const char *file)
{
	parser p;
	const char *nul;
	unsigned line, col;
	int rc;

	*root = NULL;
	if (len > PA_YAML_MAX_BYTES)
		return pa_error_set(PROVAUTH_ECONFIG, "%s: settings file is too large (%zu bytes; "
		                    "the limit is 1 MiB)", file, len);
	if ((nul = memchr(text, '\0', len))) {
		offset_position(text, len, (size_t)(nul - text), &line, &col);
		return pa_settings_fail_at(file, line, col, NULL, "the file contains a NUL byte; settings must "
		                           "be UTF-8 text (is this a binary file?)");
	}
	memset(&p, 0, sizeof(p));
	if (!yaml_parser_initialize(&p.yp))
		return pa_error_oom();
	yaml_parser_set_input_string(&p.yp, (const unsigned char *)text, len);
	yaml_parser_set_encoding(&p.yp, YAML_UTF8_ENCODING);
	p.file = file;
	p.text = text;
	p.len = len;
	rc = parse_stream(&p, root);
	yaml_parser_delete(&p.yp);
	if (rc)
		return rc;
	if (!*root || (*root)->kind == NODE_NULL) {
		pa_node_free(*root);
		*root = NULL;
		return pa_error_set(PROVAUTH_ECONFIG, "%s: empty settings file", file);
	}
	if ((*root)->kind != NODE_MAP) {
		/* Not quoted: a wrong file given as settings may be a key file. */
		rc = pa_settings_fail_at(file, (*root)->line, (*root)->col, NULL,
		                         "the top level must be a mapping of settings ('key: value' lines), got %s",
		                         pa_node_kind_name(*root));
		pa_node_free(*root);
		*root = NULL;
	}
	assert(p.nodes <= PA_YAML_MAX_NODES);
	return rc;
}

