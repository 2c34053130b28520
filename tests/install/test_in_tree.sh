#!/bin/sh
# Builds happen out of the source tree. configure run in the tree it belongs
# to stops at once with the commands to run, before it writes anything (its
# clean-up would otherwise trip over core/ with "rm: cannot remove 'core'"),
# and ./dev, in a tree configured in place earlier, says what to run instead
# of failing inside configure. Both run on copies in a temp directory.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
[ -f "$PA_SRCDIR/configure" ] || { echo "no $PA_SRCDIR/configure"; exit 99; }
cli_setup pa-in-tree

# ---- configure in its own tree ----
tree=$tmp/tree
mkdir -p "$tree/core/include/provauth" || exit 99
cp "$PA_SRCDIR/configure" "$tree/" && : >"$tree/core/include/provauth/provauth.h" || exit 99
(cd "$tree" && ./configure) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "configure in the source tree fails" '[ $rc = 1 ]'
has "$tmp/err" "... saying the build is out of tree" "configure: error: provauth is built out of its source tree"
has "$tmp/err" "... with the commands to run" "mkdir _build && cd _build && ../configure && make"
lacks "$tmp/err" "... without a word from rm about core/" "cannot remove"
check "... and writes nothing into the tree" \
	'[ "$(cd "$tree" && find . -mindepth 1 | sort | tr "\n" " ")" = "./configure ./core ./core/include ./core/include/provauth ./core/include/provauth/provauth.h " ]'
(cd "$tree" && ./configure --version) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "configure --version still works there" '[ $rc = 0 ] && grep -q provauth "$tmp/out"'

# ---- ./dev in a tree configured in place ----
cp "$PA_SRCDIR/dev" "$tree/" && : >"$tree/config.status" || exit 99
(cd "$tree" && ./dev build) >"$tmp/out" 2>"$tmp/err"
rc=$?
check "./dev build stops in a tree configured in place" '[ $rc = 1 ]'
has "$tmp/err" "... naming the cause" "configured in place ($tree/config.status exists)"
has "$tmp/err" "... and what to run" "run 'make distclean' in $tree first"
check "... before running anything" '[ ! -e "$tree/_build" ] && [ ! -e "$tree/autom4te.cache" ]'
cli_finish
