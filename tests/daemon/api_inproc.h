/*
 * The API's handlers run in the test's process, without http/: the same
 * scenarios as over HTTP (test_daemon_api.c built with
 * PAD_API_IN_PROCESS), the request matched against pad_routes[] and handed
 * to its handler with a manager of its own. What the HTTP layer does
 * (tokens, scopes, limits, bad JSON) is not exercised here; the table's
 * scopes are checked against the OpenAPI document instead.
 */
#ifndef PAD_API_INPROC_H
#define PAD_API_INPROC_H

#include <provauth/provauth.h>

/* `yaml`: top-level settings added (the providers: block). 0 or -1 (reason on stderr). */
int pad_inproc_start(const char *yaml);
void pad_inproc_stop(void);
/* One request; the status, *reply the body (malloc()ed, "" for none). Query and body as over HTTP. */
long pad_inproc_request(const char *method, const char *path, const char *body, char **reply);
/* The scope name ("none", "read", ...) of the route `method` `path` matches in pad_routes[], or NULL. */
const char *pad_inproc_route_scope(const char *method, const char *path);
/* The manager the handlers run against (for a test to read the store). */
provauth_manager *pad_inproc_manager(void);
/* Everything the library and the handlers logged, or NULL. */
const char *pad_inproc_log(void);

#endif /* PAD_API_INPROC_H */
