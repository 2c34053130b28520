#!/bin/sh
# docs/provauth.1 stays in step with the tool: every command `provauth
# --help` lists has a section in the man page, and every option a command's
# --help shows is in the man page too. Also, groff finds nothing to warn about.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
need_programs "$prog"
man="$PA_SRCDIR/docs/provauth.1"

# roff source spells '-' as '\-'.
roff() { printf '%s' "$1" | sed 's/-/\\-/g'; }

commands=$("$prog" --help | sed -n '/^Commands:/,/^$/p' | sed -n 's/^  \([a-z][a-z -]*[a-z]\)  .*/\1/p')
[ -n "$commands" ] || not_ok "provauth --help lists commands"
for cmd in $(printf '%s\n' "$commands" | tr ' ' '_'); do
	cmd=$(printf '%s' "$cmd" | tr '_' ' ')
	if grep -qF ".SS \"$(roff "$cmd")" "$man"; then ok "man page has a section for '$cmd'"
	else not_ok "man page lacks a section '.SS \"$cmd ...' for a command --help lists"; fi
	# shellcheck disable=SC2086
	for opt in $("$prog" $cmd --help | grep -E '^ +-' | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
		if grep -qF -- "$(roff "$opt")" "$man"; then ok "man page mentions '$cmd $opt'"
		else not_ok "man page lacks option '$opt' of '$cmd'"; fi
	done
done
for opt in $("$prog" --help | grep -E '^ +-' | grep -oE -- '--[a-z][a-z-]*' | sort -u); do
	if grep -qF -- "$(roff "$opt")" "$man"; then ok "man page mentions '$opt'"
	else not_ok "man page lacks global option '$opt'"; fi
done

# ./dev installs groff-base; a machine without groff fails this check rather
# than skip it unseen.
if ! command -v groff >/dev/null 2>&1; then
	not_ok "groff is not installed (Debian: groff-base), so the man page cannot be checked"
elif warnings=$(groff -man -Tutf8 -ww -z "$man" 2>&1) && [ -z "$warnings" ]; then
	ok "groff -ww: no warnings"
else
	not_ok "groff -ww: $warnings"
fi
cli_finish
