#!/bin/sh
# make install runs ldconfig after installing the library, so that the
# installed provauth (and programs linked against libprovauth) start without
# "libprovauth.so.0: cannot open shared object file": only for a real
# install (DESTDIR empty) by root; a staged or unprivileged install leaves
# the linker cache alone. ldconfig here is a stand-in that records its calls.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
cli_setup pa-ldconfig
unset MAKEFLAGS MFLAGS MAKELEVEL

mkdir -p "$tmp/bin" || exit 99
cat >"$tmp/bin/ldconfig" <<EOS
#!/bin/sh
echo "ldconfig \$*" >>"$tmp/calls"
exit \${PA_FAKE_LDCONFIG_RC:-0}
EOS
chmod +x "$tmp/bin/ldconfig" || exit 99
hook() { ${PA_MAKE:-make} -s -C "$PA_BUILDDIR" install-exec-hook LDCONFIG="$tmp/bin/ldconfig" "$@" >"$tmp/out" 2>"$tmp/err"; }
calls() { if [ -f "$tmp/calls" ]; then wc -l <"$tmp/calls" | tr -d ' '; else echo 0; fi; }

check "a staged install (DESTDIR) succeeds" 'hook DESTDIR="$tmp/dest"'
check "... and does not run ldconfig" '[ "$(calls)" = 0 ]'

if [ "$(id -u)" = 0 ]; then
	check "a real install by root succeeds" 'hook DESTDIR='
	check "... and runs ldconfig once, to rebuild the whole cache" \
		'[ "$(calls)" = 1 ] && [ "$(cat "$tmp/calls")" = "ldconfig " ]'
	check "... saying so" 'grep -q "$tmp/bin/ldconfig" "$tmp/out"'
	rm -f "$tmp/calls"
	check "a failing ldconfig does not fail the install" 'PA_FAKE_LDCONFIG_RC=1 hook DESTDIR='
	check "... but says what to do" 'grep -q "warning: .*ldconfig.*failed" "$tmp/err"'
	check "without ldconfig the install still succeeds" \
		'${PA_MAKE:-make} -s -C "$PA_BUILDDIR" install-exec-hook LDCONFIG="$tmp/no-such-ldconfig" >"$tmp/out" 2>"$tmp/err"'
else
	check "an unprivileged install succeeds" 'hook DESTDIR='
	check "... and leaves ldconfig (which it could not run) alone" '[ "$(calls)" = 0 ]'
fi
check "nothing was installed by the hook" '[ ! -e "$tmp/dest" ]'
cli_finish
