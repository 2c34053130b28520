/*
 * The OpenAPI validator the daemon's tests lean on: it must refuse what the
 * document forbids (a wrong type, a missing required property, an extra
 * property, a value outside an enum, a null where none is allowed) and
 * name the JSON path at fault, or every "validated against the document"
 * in test_daemon_api.c would prove nothing. Also checks that the document
 * itself covers every route of the daemon's table with its scope.
 */
#include "config.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <CUnit/Basic.h>
#include "openapi_check.h"
#include "pa_test.h"

#define PA_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static pad_openapi *doc;

static int suite_init(void)
{
	char path[4096];
	const char *src = getenv("PA_SRCDIR");

	snprintf(path, sizeof(path), "%s/docs/api/openapi.json", src ? src : ".");
	return (doc = pad_openapi_load(path)) ? 0 : -1;
}

static int suite_clean(void)
{
	pad_openapi_free(doc);
	return 0;
}

/* Checks `json` against components.schemas[name]; the result, err filled. */
static int check_json(const char *name, const char *json, char *err, size_t size)
{
	json_object *v = json_tokener_parse(json);
	int rc;

	CU_ASSERT_PTR_NOT_NULL(pad_openapi_schema(doc, name));
	rc = pad_openapi_check_value(doc, pad_openapi_schema(doc, name), v, "$", err, size);
	json_object_put(v);
	return rc;
}

static const char good_account[] =
	"{\"id\":\"acct-1\",\"provider_id\":\"pixverse\",\"email\":\"a@example.com\",\"auth_method\":\"password\","
	"\"health\":{\"state\":null,\"reason\":null,\"code\":null,\"at\":null,\"message\":null},"
	"\"needs_human\":false,\"needs_human_code\":null,\"needs_human_reason\":null,"
	"\"credentials\":[{\"kind\":\"jwt\",\"name\":\"\",\"expires_at\":null,\"redacted\":true}],"
	"\"has_jwt\":true,\"jwt_expires_at\":null,\"has_cookies\":false,\"has_api_key\":false,"
	"\"cooldown_until\":null,\"pool\":null,\"updated_at\":1700000000,\"revision\":1}";

static void test_accepts_conforming(void)
{
	char err[512];

	CU_ASSERT_EQUAL(check_json("Account", good_account, err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check_json("Error", "{\"error\":{\"code\":\"invalid\",\"message\":\"m\",\"request_id\":\"ab\"}}",
	                           err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check_json("PixverseStatus", "{\"provider_id\":\"pixverse\",\"email\":null,\"credits\":{}}", err,
	                           sizeof(err)), 0);
	/* additionalProperties given as a schema: any key, values checked. */
	CU_ASSERT_EQUAL(check_json("PoolAccount", "{\"account_id\":\"a\",\"provider_id\":\"p\",\"status\":\"active\","
	                           "\"healthy\":true,\"priority\":0,\"max_concurrent\":2,\"effective_cap\":null,"
	                           "\"in_use\":0,\"credits\":{\"web\":10,\"openapi\":0},\"credits_at\":null,"
	                           "\"cooldown_until\":null,\"cooldown_reason\":null,\"last_used\":null}", err,
	                           sizeof(err)), 0);
	CU_ASSERT_EQUAL(check_json("CallResult", "{\"result\":null}", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(check_json("CallResult", "{\"result\":{\"any\":[1,\"x\"]}}", err, sizeof(err)), 0);
}

/* Replaces the first `from` in good_account with `to`, checks, and returns the message. */
static int check_changed(const char *from, const char *to, char *err, size_t size)
{
	char buf[2048];
	const char *at = strstr(good_account, from);

	CU_ASSERT_PTR_NOT_NULL_FATAL(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - good_account), good_account, to, at + strlen(from));
	return check_json("Account", buf, err, size);
}

static void test_rejects_wrong_type(void)
{
	char err[512];

	CU_ASSERT_EQUAL(check_changed("\"revision\":1", "\"revision\":\"1\"", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.revision: expected integer, got string");
	CU_ASSERT_EQUAL(check_changed("\"at\":null", "\"at\":\"yesterday\"", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.health.at: expected integer, got string");
	CU_ASSERT_EQUAL(check_changed("\"needs_human\":false", "\"needs_human\":0", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.needs_human: expected boolean, got integer");
	/* Inside an array: the index is in the path. */
	CU_ASSERT_EQUAL(check_changed("\"kind\":\"jwt\"", "\"kind\":7", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.credentials[0].kind: expected string, got integer");
	/* A whole value of the wrong type. */
	CU_ASSERT_EQUAL(check_json("AccountList", "{}", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$: expected array, got object");
}

static void test_rejects_missing_required(void)
{
	char err[512];

	CU_ASSERT_EQUAL(check_changed("\"revision\":1", "\"x_revision\":1", err, sizeof(err)), -1);
	/* The missing one is found first, or the extra one: either names the fault. */
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "revision"));
	CU_ASSERT_EQUAL(check_json("Error", "{\"error\":{\"code\":\"x\"}}", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.error: required property 'message' is missing");
	CU_ASSERT_EQUAL(check_json("Error", "{}", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$: required property 'error' is missing");
}

static void test_rejects_extra_property(void)
{
	char err[512];

	CU_ASSERT_EQUAL(check_changed("\"revision\":1", "\"revision\":1,\"password\":\"hunter2\"", err, sizeof(err)),
	                -1);
	CU_ASSERT_STRING_EQUAL(err, "$.password: property not allowed (additionalProperties is false)");
	CU_ASSERT_EQUAL(check_changed("\"redacted\":true", "\"redacted\":true,\"value\":\"x\"", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.credentials[0].value: property not allowed (additionalProperties is false)");
	/* additionalProperties as a schema checks the extra values' type. */
	CU_ASSERT_EQUAL(check_json("PoolAccount", "{\"account_id\":\"a\",\"provider_id\":\"p\",\"status\":\"active\","
	                           "\"healthy\":true,\"priority\":0,\"max_concurrent\":2,\"effective_cap\":null,"
	                           "\"in_use\":0,\"credits\":{\"web\":\"ten\"},\"credits_at\":null,"
	                           "\"cooldown_until\":null,\"cooldown_reason\":null,\"last_used\":null}", err,
	                           sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.credits.web: expected integer, got string");
}

static void test_rejects_enum_and_null(void)
{
	char err[512];

	CU_ASSERT_EQUAL(check_changed("\"auth_method\":\"password\"", "\"auth_method\":\"magic\"", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.auth_method: value \"magic\" is not in the enum");
	CU_ASSERT_EQUAL(check_changed("\"redacted\":true", "\"redacted\":false", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.credentials[0].redacted: value false is not in the enum");
	CU_ASSERT_EQUAL(check_changed("\"id\":\"acct-1\"", "\"id\":null", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$.id: null where the document does not allow it (not nullable)");
	/* A nullable $ref (allOf + nullable) still checks a value that is there. */
	CU_ASSERT_EQUAL(check_changed("\"pool\":null", "\"pool\":{\"account_id\":1}", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "$.pool"));
}

static void test_oneof(void)
{
	char err[512];
	json_object *schema = json_tokener_parse("{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}");
	json_object *s = json_object_new_string("x"), *i = json_object_new_int(3), *b = json_object_new_boolean(1);
	json_object *both = json_tokener_parse("{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}");

	CU_ASSERT_EQUAL(pad_openapi_check_value(doc, schema, s, "$", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pad_openapi_check_value(doc, schema, i, "$", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pad_openapi_check_value(doc, schema, b, "$", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$: matches 0 of the oneOf schemas, not exactly one");
	/* 3 is both a number and an integer: not exactly one. */
	CU_ASSERT_EQUAL(pad_openapi_check_value(doc, both, i, "$", err, sizeof(err)), -1);
	json_object_put(schema);
	json_object_put(both);
	json_object_put(s);
	json_object_put(i);
	json_object_put(b);
}

static void test_unknown_keyword_refused(void)
{
	char err[512];
	json_object *schema = json_tokener_parse("{\"type\":\"string\",\"pattern\":\"^a\"}");
	json_object *s = json_object_new_string("b");

	/* A keyword it cannot check must not pass silently. */
	CU_ASSERT_EQUAL(pad_openapi_check_value(doc, schema, s, "$", err, sizeof(err)), -1);
	CU_ASSERT_STRING_EQUAL(err, "$: schema keyword 'pattern' is not supported by this validator");
	json_object_put(schema);
	json_object_put(s);
}

static void test_responses_by_operation_and_status(void)
{
	char err[512];

	/* The literal template wins over {id}. */
	CU_ASSERT_STRING_EQUAL(pad_openapi_scope(doc, "POST", "/v1/accounts/import-cookies"), "admin");
	CU_ASSERT_STRING_EQUAL(pad_openapi_scope(doc, "GET", "/v1/accounts/acct-1?x=1"), "read");
	CU_ASSERT_STRING_EQUAL(pad_openapi_scope(doc, "DELETE", "/v1/accounts/acct-1"), "admin");
	CU_ASSERT_STRING_EQUAL(pad_openapi_scope(doc, "POST", "/v1/accounts/a/call/credits"), "operate");
	CU_ASSERT_STRING_EQUAL(pad_openapi_scope(doc, "GET", "/v1/jobs/a:1"), "operate");
	CU_ASSERT_STRING_EQUAL(pad_openapi_scope(doc, "GET", "/healthz"), "none");
	CU_ASSERT_PTR_NULL(pad_openapi_operation(doc, "PUT", "/v1/accounts/a"));
	CU_ASSERT_PTR_NULL(pad_openapi_operation(doc, "GET", "/v1/accounts/a/b/c/d"));
	CU_ASSERT_PTR_NULL(pad_openapi_operation(doc, "GET", "/v1/accounts//pixverse-status"));

	CU_ASSERT_EQUAL(pad_openapi_check_response(doc, "GET", "/v1/accounts/acct-1", 200, good_account, err,
	                                          sizeof(err)), 0);
	CU_ASSERT_EQUAL(pad_openapi_check_response(doc, "GET", "/v1/accounts/acct-1", 404,
	                                          "{\"error\":{\"code\":\"not_found\",\"message\":\"no\"}}", err,
	                                          sizeof(err)), 0);
	/* A status the operation does not document. */
	CU_ASSERT_EQUAL(pad_openapi_check_response(doc, "GET", "/v1/accounts/acct-1", 418, "{}", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "status 418 is not documented"));
	/* 204 has no body. */
	CU_ASSERT_EQUAL(pad_openapi_check_response(doc, "DELETE", "/v1/accounts/a", 204, "", err, sizeof(err)), 0);
	CU_ASSERT_EQUAL(pad_openapi_check_response(doc, "DELETE", "/v1/accounts/a", 204, "{}", err, sizeof(err)), -1);
	/* Not JSON, and an error body that is the wrong shape. */
	CU_ASSERT_EQUAL(pad_openapi_check_response(doc, "GET", "/v1/pool", 200, "<html>", err, sizeof(err)), -1);
	CU_ASSERT_PTR_NOT_NULL(strstr(err, "not JSON"));
	CU_ASSERT_EQUAL(pad_openapi_check_response(doc, "GET", "/v1/pool", 401, "{\"message\":\"x\"}", err, sizeof(err)),
	                -1);
}

/* Every route of the table in daemon/api/routes.c, with its scope; kept in step by this list. */
static void test_document_covers_routes(void)
{
	static const struct { const char *method, *path, *scope; } routes[] = {
		{ "GET", "/", "none" }, { "GET", "/healthz", "none" }, { "GET", "/readyz", "none" },
		{ "GET", "/metrics", "read" }, { "POST", "/login", "none" }, { "GET", "/v1/accounts", "read" },
		{ "POST", "/v1/accounts/import-cookies", "admin" }, { "GET", "/v1/accounts/x", "read" },
		{ "DELETE", "/v1/accounts/x", "admin" }, { "POST", "/v1/accounts/x/reauth", "operate" },
		{ "POST", "/v1/accounts/x/connect-google", "admin" },
		{ "GET", "/v1/accounts/x/pixverse-status", "operate" },
		{ "POST", "/v1/accounts/x/call/op", "operate" }, { "POST", "/v1/jobs", "operate" },
		{ "GET", "/v1/jobs/a:1", "operate" }, { "GET", "/v1/pool", "read" }, { "GET", "/v1/providers", "read" },
	};
	size_t i;

	for (i = 0; i < PA_ARRAY_LEN(routes); i++) {
		const char *s = pad_openapi_scope(doc, routes[i].method, routes[i].path);
		CU_ASSERT_PTR_NOT_NULL(s);
		if (s)
			CU_ASSERT_STRING_EQUAL(s, routes[i].scope);
	}
}

int main(int argc, char **argv)
{
	static const pa_test tests[] = {
		{ "accepts conforming values", test_accepts_conforming },
		{ "rejects wrong types, naming the path", test_rejects_wrong_type },
		{ "rejects missing required properties", test_rejects_missing_required },
		{ "rejects extra properties", test_rejects_extra_property },
		{ "rejects values outside enums and unallowed nulls", test_rejects_enum_and_null },
		{ "oneOf means exactly one", test_oneof },
		{ "an unsupported keyword is refused", test_unknown_keyword_refused },
		{ "responses by operation and status", test_responses_by_operation_and_status },
		{ "the document covers every route with its scope", test_document_covers_routes },
		PA_TEST_END,
	};
	static const pa_test_suite suites[] = {
		{ "openapi_check", suite_init, suite_clean, tests },
		PA_TEST_SUITE_END,
	};
	return pa_test_run(argc, argv, suites);
}
