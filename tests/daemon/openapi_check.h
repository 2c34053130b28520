/*
 * A small validator of provauthd's answers against docs/api/openapi.json:
 * the subset of JSON Schema the document uses (type, nullable, enum,
 * properties, required, additionalProperties false or a schema, items,
 * $ref to #/components/schemas, oneOf, allOf). A mismatch is reported with
 * the JSON path of the first value at fault ("$.account.health.at:
 * expected integer, got string").
 */
#ifndef PAD_OPENAPI_CHECK_H
#define PAD_OPENAPI_CHECK_H

#include <stddef.h>
#include <json-c/json.h>

typedef struct pad_openapi pad_openapi;

/* Reads the document; NULL with the reason on stderr. */
pad_openapi *pad_openapi_load(const char *path);
void pad_openapi_free(pad_openapi *doc);

/*
 * Checks `value` (may be NULL: JSON null) against `schema`, one of the
 * document's schema objects. 0 when it conforms; -1 with `err` holding the
 * path and what is wrong. `path` names the value ("$").
 */
int pad_openapi_check_value(const pad_openapi *doc, json_object *schema, json_object *value, const char *path,
                           char *err, size_t size);

/* A schema of components.schemas by name, or NULL. */
json_object *pad_openapi_schema(const pad_openapi *doc, const char *name);

/*
 * The operation for `method` and a concrete `path` ("/v1/accounts/acct-1";
 * a query is ignored), matched against the document's path templates, the
 * template with more literal segments winning; NULL when none.
 */
json_object *pad_openapi_operation(const pad_openapi *doc, const char *method, const char *path);

/*
 * Checks a response: the operation exists, it documents `status`, and the
 * body (NUL-terminated; NULL or "" for none) conforms to the schema of its
 * application/json content (a response without content must have no
 * body). 0, or -1 with `err` saying what.
 */
int pad_openapi_check_response(const pad_openapi *doc, const char *method, const char *path, long status,
                              const char *body, char *err, size_t size);

/* The operation's x-provauth-scope ("none", "read", "operate", "admin"), or NULL. */
const char *pad_openapi_scope(const pad_openapi *doc, const char *method, const char *path);

#endif /* PAD_OPENAPI_CHECK_H */
