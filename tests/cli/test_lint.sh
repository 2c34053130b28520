#!/bin/sh
# tools/lint.py (./dev lint) judged from outside: each rule fires on a file
# that breaks it, at the right line, and not on a clean file; a reviewed
# exception (/* lint: allow RULE WHY */) silences its line only, and one
# without a reason is a finding itself; --json and the exit status say the
# same as the text. Last, the checker runs over the real tree and every
# finding it reports there is well formed (CI's lint stage, .ci/run, is the
# one that requires the tree to be clean).
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
command -v python3 >/dev/null 2>&1 || { echo "python3 missing (./dev deps installs it)"; exit 99; }
lint="$PA_SRCDIR/tools/lint.py"
cli_setup provauth-lint
cd "$tmp" || exit 99
mkdir -p core/include/provauth plugins/demo tools clean/core

# expect_finding FILE LINE RULE: linting FILE alone reports RULE at LINE.
expect_finding() {
	python3 "$lint" "$1" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "^$1:$2: $3: " "$tmp/out"; then ok "$3 fires at $1:$2"
	else not_ok "$3 at $1:$2 (exit $rc)"; fi
}
# expect_none FILE RULE: linting FILE reports no RULE.
expect_none() {
	python3 "$lint" "$1" >"$tmp/out" 2>"$tmp/err"
	if grep -q ": $2: " "$tmp/out"; then not_ok "$1: no $2 finding expected"
	else ok "$1: no $2 finding"; fi
}

# ---- one file per rule ----------------------------------------------------
long=$(printf '%0121d' 0 | tr 0 x)
printf '/* Long. */\nstatic const char *s = "%s";\n' "$long" >core/long.c
expect_finding core/long.c 2 line-length
# Tabs count 4 columns: 29 tabs and 4 characters are 120 columns, one more is 121.
printf '/* Tabs. */\n%s1234\n%s12345\n' "$(printf '%29s' '' | tr ' ' '\t')" "$(printf '%29s' '' | tr ' ' '\t')" >core/tabs.c
expect_finding core/tabs.c 3 line-length
python3 "$lint" core/tabs.c 2>/dev/null | grep -q '^core/tabs.c:2:' && not_ok "120 columns are allowed" || ok "120 columns are allowed"

printf '/* Spaces. */\nint pa_x; \n' >core/trailing.c
expect_finding core/trailing.c 2 trailing-space

printf '/* Indent. */\nint pa_f(void)\n{\n \treturn 0;\n}\nint pa_g(void)\n{\n\treturn 0;\t/* aligned by tab */\n}\n' >core/indent.c
expect_finding core/indent.c 4 indent
expect_finding core/indent.c 8 indent
printf '/* CRLF. */\r\nint pa_x;\r\n' >core/crlf.c
expect_finding core/crlf.c 1 indent

printf '#include <stdio.h>\nint pa_x;\n' >core/nocomment.c
expect_finding core/nocomment.c 1 opening-comment
printf '/* No newline. */\nint pa_x;' >core/nonl.c
expect_finding core/nonl.c 2 final-newline

cat >core/banned.c <<'EOF'
/* Banned functions, and the names that only look like them. */
#include <stdio.h>
#include <string.h>
int pa_banned(char *d, const char *s, char *b)
{
	strcpy(d, s);
	strcat(d, s);
	sprintf(d, "%s", s);
	/* strcpy(d, s) in a comment is fine, and so is "strcat(" in a string: */
	puts_like("strcat(d, s)");
	snprintf(d, 4, "%s", s);
	pa_strcpy_checked(d, s);
	return atoi(s) + (strtok(b, ",") != NULL) + (gmtime(NULL) != NULL);
}
EOF
expect_finding core/banned.c 6 banned-function
expect_finding core/banned.c 7 banned-function
expect_finding core/banned.c 8 banned-function
expect_finding core/banned.c 13 banned-function
n=$(python3 "$lint" core/banned.c 2>/dev/null | grep -c ': banned-function: ')
[ "$n" -eq 6 ] && ok "banned-function: 6 findings, none in comments, strings or longer names" \
	|| not_ok "banned-function: expected 6 findings, got $n"

cat >plugins/demo/out.c <<'EOF'
/* A library never writes to stdout. */
#include <stdio.h>
int demo_talk(void)
{
	printf("hello\n");
	fputs("hello\n", stdout);
	fprintf(stderr, "to stderr is the log sinks' business\n");
	return 0;
}
EOF
expect_finding plugins/demo/out.c 5 stdout
expect_finding plugins/demo/out.c 6 stdout
python3 "$lint" plugins/demo/out.c 2>/dev/null | grep -q ':7: stdout' && not_ok "stderr is not stdout" || ok "stderr is not stdout"
# The CLI owns its stdout.
printf '/* A tool. */\n#include <stdio.h>\nint main(void)\n{\n\tprintf("hi\\n");\n\treturn 0;\n}\n' >tools/tool.c
expect_none tools/tool.c stdout

cat >core/include/provauth/pub.h <<'EOF'
/* A public header. */
#ifndef PROVAUTH_PUB_H
#define PROVAUTH_PUB_H
#define BAD_MACRO 1
typedef struct provauth_fine { int a; } provauth_fine;
typedef struct bad_tag { int a; } bad_type;
typedef int (*bad_callback)(void *payload);
typedef enum provauth_kind { PROVAUTH_KIND_A = 0, BAD_CONSTANT } provauth_kind;
PROVAUTH_EXTERN(int) provauth_fine_call(provauth_fine **out);
PROVAUTH_EXTERN(int) unprefixed_call(void);
#endif
EOF
expect_finding core/include/provauth/pub.h 4 public-name
expect_finding core/include/provauth/pub.h 6 public-name
expect_finding core/include/provauth/pub.h 7 public-name
expect_finding core/include/provauth/pub.h 8 public-name
expect_finding core/include/provauth/pub.h 10 public-name
n=$(python3 "$lint" core/include/provauth/pub.h 2>/dev/null | grep -c ': public-name: ')
[ "$n" -eq 6 ] && ok "public-name: 6 findings (macro, tag, type, callback, constant, function)" \
	|| not_ok "public-name: expected 6 findings, got $n"
# Inside extern "C", and with other libraries' types used (not defined) in it.
cat >core/include/provauth/cxx.h <<'EOF'
/* A public header ready for C++. */
#ifndef PROVAUTH_CXX_H
#define PROVAUTH_CXX_H
#include <time.h>
#ifdef __cplusplus
extern "C" {
#endif
typedef struct provauth_reply {
	struct { char *name; } *headers;
	struct timespec at;
} provauth_reply;
PROVAUTH_EXTERN(int) provauth_reply_at(const struct timespec *t);
PROVAUTH_EXTERN(int) reply_unprefixed(void);
#ifdef __cplusplus
}
#endif
#endif
EOF
expect_finding core/include/provauth/cxx.h 13 public-name
n=$(python3 "$lint" core/include/provauth/cxx.h 2>/dev/null | grep -c ': public-name: ')
[ "$n" -eq 1 ] && ok "public-name: inside extern \"C\", only the unprefixed function" \
	|| not_ok "public-name in extern \"C\": expected 1 finding, got $n"

cat >core/names.c <<'EOF'
/* Non-static names in the core. */
static int helper(void) { return 0; }
int pa_fine(void) { return helper(); }
int provauth_api(void) { return 0; }
int loose_function(void)
{
	return 0;
}
int loose_object = 1;
const char *const pa_table[] = { "a", "b" };
static struct pa_pair { int a; } pair;
int declared_elsewhere(void);
EOF
expect_finding core/names.c 5 internal-name
expect_finding core/names.c 9 internal-name
n=$(python3 "$lint" core/names.c 2>/dev/null | grep -c ': internal-name: ')
[ "$n" -eq 2 ] && ok "internal-name: only the two loose definitions" || not_ok "internal-name: expected 2, got $n"
printf '/* A plugin. */\nint demo_ok(void) { return 0; }\nint pa_host_name(void) { return 1; }\nint provauth_plugin_init(void) { return 0; }\n' >plugins/demo/names.c
expect_finding plugins/demo/names.c 3 internal-name
n=$(python3 "$lint" plugins/demo/names.c 2>/dev/null | grep -c ': internal-name: ')
[ "$n" -eq 1 ] && ok "internal-name: a plugin's prefix and its entry point are fine" || not_ok "plugin names: got $n"

{ echo '/* Long. */'; i=0; while [ $i -lt 600 ]; do echo "int pa_v$i;"; i=$((i + 1)); done; } >core/long_file.c
expect_finding core/long_file.c 1 file-length
{ echo '/* Long, and why. lint: allow file-length one table that reads best whole */'; i=0
  while [ $i -lt 600 ]; do echo "int pa_v$i;"; i=$((i + 1)); done; } >core/long_file_why.c
expect_none core/long_file_why.c file-length

# ---- exceptions -------------------------------------------------------------
cat >core/allow.c <<'EOF'
/* Exceptions. */
#include <string.h>
void pa_allow(char *d, const char *s)
{
	strcpy(d, s); /* lint: allow banned-function d is sized from s by the caller */
	strcpy(d, s);
	strcat(d, s); /* lint: allow banned-function */
	strcat(d, s); /* lint: allow no-such-rule because */
}
EOF
python3 "$lint" core/allow.c >"$tmp/out" 2>"$tmp/err"
grep -q '^core/allow.c:5:' "$tmp/out" && not_ok "an allow comment with a reason silences its line" \
	|| ok "an allow comment with a reason silences its line"
grep -q '^core/allow.c:6: banned-function' "$tmp/out" && ok "the exception covers its own line only" \
	|| not_ok "the exception covers its own line only"
grep -q '^core/allow.c:7: allow-comment: ' "$tmp/out" && grep -q '^core/allow.c:7: banned-function' "$tmp/out" \
	&& ok "an allow comment without a reason is a finding and silences nothing" \
	|| not_ok "an allow comment without a reason is a finding and silences nothing"
grep -q "^core/allow.c:8: allow-comment: unknown rule 'no-such-rule'" "$tmp/out" \
	&& ok "an allow comment naming an unknown rule is a finding" \
	|| not_ok "an allow comment naming an unknown rule is a finding"

# ---- a clean file, exit codes, JSON ----------------------------------------
cat >clean/core/clean.c <<'EOF'
/*
 * A clean file: what the rules ask for, tabs to indent and spaces to align.
 */
#include <stdio.h>

static int twice(int x)
{
	return 2 * x;
}

int pa_clean(char *out, size_t size, const char *name)
{
	int n = snprintf(out, size, "%s: %d", name,
	                 twice(3));
	return n < 0 || (size_t)n >= size ? -1 : 0;
}
EOF
if python3 "$lint" clean >"$tmp/out" 2>"$tmp/err"; then ok "a clean file: exit 0, no finding"
else not_ok "a clean file: exit 0, no finding"; fi
[ -s "$tmp/out" ] && not_ok "a clean file prints nothing on stdout" || ok "a clean file prints nothing on stdout"

python3 "$lint" core plugins tools >"$tmp/text" 2>/dev/null
rc_text=$?
python3 "$lint" --json core plugins tools >"$tmp/json" 2>/dev/null
rc_json=$?
[ "$rc_text" -eq 1 ] && [ "$rc_json" -eq 1 ] && ok "findings: exit 1, with and without --json" \
	|| not_ok "findings: exit 1 (text $rc_text, json $rc_json)"
if python3 - "$tmp/text" "$tmp/json" <<'EOF'
import json, sys
text = [l.rstrip("\n") for l in open(sys.argv[1])]
doc = json.load(open(sys.argv[2]))
as_text = ["%(file)s:%(line)d: %(rule)s: %(message)s" % f for f in doc["findings"]]
sys.exit(0 if text == as_text and doc["files"] > 0 else 1)
EOF
then ok "--json lists the same findings as the text"
else not_ok "--json lists the same findings as the text"; fi

python3 "$lint" --no-such-option >/dev/null 2>&1
[ $? -eq 2 ] && ok "an unknown option: exit 2" || not_ok "an unknown option: exit 2"
python3 "$lint" no/such/dir >/dev/null 2>&1
[ $? -eq 2 ] && ok "a missing path: exit 2" || not_ok "a missing path: exit 2"

# ---- the tree ----------------------------------------------------------------
python3 "$lint" --json >"$tmp/tree.json" 2>"$tmp/err"
rc=$?
rules=$(python3 "$lint" --list-rules 2>/dev/null | awk '{print $1}' | tr '\n' ' ')
if [ "$rc" -le 1 ] && python3 - "$tmp/tree.json" "$rules" <<'EOF'
import json, sys
doc = json.load(open(sys.argv[1]))
rules = set(sys.argv[2].split())
bad = [f for f in doc["findings"] if f["rule"] not in rules or f["line"] < 1 or not f["message"]]
print("the tree: %d files, %d findings" % (doc["files"], len(doc["findings"])))
for f in doc["findings"]:
    print("  %(file)s:%(line)d: %(rule)s: %(message)s" % f)
sys.exit(1 if bad or doc["files"] < 50 else 0)
EOF
then ok "the tree: linted (exit $rc), every finding well formed"
else not_ok "the tree: lint exit $rc"; fi

cli_finish
