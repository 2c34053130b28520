#!/bin/sh
# What ships with provauthd stays true: the systemd unit (systemd-analyze
# verify and security where systemd-analyze exists, the keys it must have in
# any case), the sample settings (they load with provauthd --check, as
# installed and with their optional keys switched on, and show every key the
# daemon reads) and the man page (every option and key, the webhook headers
# notify/ sends, groff clean). What the Debian package installs, ./dev deb
# and tools/deb-smoke.sh check.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
daemon="$PA_BUILDDIR/daemon/provauthd"
need_programs "$daemon"
cli_setup pa-unit
unit="$PA_SRCDIR/etc/provauthd.service"
sample="$PA_SRCDIR/etc/provauthd.yaml"
man="$PA_SRCDIR/docs/provauthd.8"
config_c="$PA_SRCDIR/daemon/config/config.c"

# ---- the unit: keys it must have ---------------------------------------------
# One "Key=value" line each, exactly (the value a hardening review expects).
for line in \
	'Type=exec' \
	'ExecStart=/usr/sbin/provauthd --config /etc/provauth/provauthd.yaml' \
	'ExecReload=/bin/kill -HUP $MAINPID' \
	'DynamicUser=yes' 'StateDirectory=provauthd' 'RuntimeDirectory=provauthd' \
	'ConfigurationDirectory=provauth' 'UMask=0077' \
	'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
	'PrivateDevices=yes' 'ProtectKernelTunables=yes' 'ProtectKernelModules=yes' \
	'ProtectKernelLogs=yes' 'ProtectControlGroups=yes' \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'RestrictNamespaces=yes' \
	'LockPersonality=yes' 'MemoryDenyWriteExecute=yes' 'SystemCallFilter=@system-service' \
	'CapabilityBoundingSet=' 'Documentation=man:provauthd(8)' 'WantedBy=multi-user.target'; do
	if grep -qxF -- "$line" "$unit"; then ok "unit has $line"; else not_ok "unit lacks the line '$line'"; fi
done
# Type=notify needs sd_notify, which provauthd does not link.
lacks "$unit" "the unit does not claim Type=notify" "Type=notify"

# ---- the unit: systemd's own checks ------------------------------------------
# verify checks that ExecStart's program exists: point a copy at the built
# daemon, the rest unchanged. Warnings (an unknown key, a bad value) fail.
if command -v systemd-analyze >/dev/null 2>&1; then
	sed "s|/usr/sbin/provauthd|$daemon|" "$unit" >"$tmp/provauthd.service"
	systemd-analyze verify --man=no "$tmp/provauthd.service" >"$tmp/out" 2>"$tmp/err"
	check "systemd-analyze verify: exit 0, nothing to say" '[ $? = 0 ] && ! [ -s "$tmp/out" ] && ! [ -s "$tmp/err" ]'
	systemd-analyze security --offline=yes "$tmp/provauthd.service" >"$tmp/out" 2>"$tmp/err"
	score=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\) .*/\1/p' "$tmp/out")
	check "systemd-analyze security: exposure ${score:-?} is at most 2.0" \
		'[ -n "$score" ] && awk "BEGIN { exit !($score <= 2.0) }"'
	# The man page quotes the score: keep it true.
	if grep -q "exposure $score (OK)" "$man"; then ok "the man page quotes exposure $score"
	else not_ok "the man page does not say 'exposure $score (OK)'"; fi
else
	ok "systemd-analyze is not installed: the key checks above stand for it"
fi

# ---- the sample settings ---------------------------------------------------
# As the package installs it: 0644 in a directory only its owner writes.
mkdir -p "$tmp/etc/provauth"
cp "$sample" "$tmp/etc/provauth/provauthd.yaml"
chmod 0755 "$tmp/etc/provauth"
chmod 0644 "$tmp/etc/provauth/provauthd.yaml"
"$daemon" --check --config "$tmp/etc/provauth/provauthd.yaml" >"$tmp/out" 2>"$tmp/err"
check "provauthd --check of the sample: exit 0" '[ $? = 0 ]'
has "$tmp/out" "the sample listens on loopback, keeper on, no token, no webhook" \
	"ok (listen 127.0.0.1:8750, 0 tokens, keeper on, webhook off)"
check "the sample, 0644, draws nothing on stderr" '! [ -s "$tmp/err" ]'

# Its commented optional keys switched on (a token, a Unix socket's mode,
# the webhook with its secret from the environment) load as well.
hash=$(printf '%s\n' "sample-token-0123456789abcdef" | "$daemon" --hash-token)
python3 - "$sample" "$tmp/on.yaml" "$hash" <<'EOF' || not_ok "could not switch the options on"
import re, sys
text = open(sys.argv[1]).read()
token = "  tokens:\n    - name: backend\n      sha256: %s\n      scope: admin\n" % sys.argv[3]
assert "  tokens: []\n" in text
text = text.replace("  tokens: []\n", token)
for key in ("socket_mode", "url", "secret", "dead_letter"):
    text, n = re.subn(r"^(\s*)# (%s: [^ ]+)$" % key, r"\1\2", text, count=1, flags=re.M)
    assert n == 1, key
open(sys.argv[2], "w").write(text)
EOF
chmod 0600 "$tmp/on.yaml"
secret="whsec-sample-0123456789abcdef"
PROVAUTHD_WEBHOOK_SECRET=$secret "$daemon" --check --config "$tmp/on.yaml" >"$tmp/out" 2>"$tmp/err"
check "the sample with its options on: exit 0" '[ $? = 0 ]'
has "$tmp/out" "one token and the webhook are read" "1 token, keeper on, webhook on"
cat "$tmp/out" "$tmp/err" >>"$all"
lacks "$all" "the webhook secret is never printed" "$secret"
"$daemon" --check --config "$tmp/on.yaml" >"$tmp/out" 2>"$tmp/err"
check "without PROVAUTHD_WEBHOOK_SECRET set, --check exits 3" '[ $? = 3 ]'
has "$tmp/err" "and names the variable" "PROVAUTHD_WEBHOOK_SECRET"

# Every key the daemon reads is shown in the sample and the man page. The
# lists are config.c's own tables (daemon_keys, keeper_keys, ...).
keys() {
	# From "NAME[] = {" to the first "};", which may be on the same line.
	awk -v name="$1" 'index($0, "const " name "[] = {") { on = 1 } on { print } on && /};/ { exit }' "$config_c" |
		grep -o '"[a-z_0-9]*"' | tr -d '"'
}
for table in daemon_keys token_keys keeper_keys webhook_keys; do
	list=$(keys "$table")
	[ -n "$list" ] || not_ok "found no keys in config.c's $table"
	case $table in keeper_keys) pre=keeper. ;; webhook_keys) pre=webhook. ;; *) pre= ;; esac
	for k in $list; do
		if grep -qE "^ *(# *)?(- )?$k:" "$sample"; then ok "the sample shows $pre$k"
		else not_ok "the sample lacks key $pre$k"; fi
		# On a roff macro line (.B, .BR, .TP...), as a word: "keeper.max_idle".
		if grep -qE "^\.[A-Z]+ (.*[^a-z_.])?$(printf '%s' "$pre" | sed 's/\./\\./')$k([^a-z_]|\$)" "$man"; then
			ok "the man page names $pre$k"
		else not_ok "the man page lacks key $pre$k"; fi
	done
done

# ---- the man page ----------------------------------------------------------
"$daemon" --help >"$tmp/help" 2>&1
for opt in $(grep -oE -- '--[a-z][a-z-]*' "$tmp/help" | sort -u); do
	if grep -qF -- "$(printf '%s' "$opt" | sed 's/-/\\-/g')" "$man"; then ok "man page mentions $opt"
	else not_ok "man page lacks option $opt of provauthd --help"; fi
done
# The webhook headers a receiver checks, as daemon/notify/ sends them.
notifier="$PA_SRCDIR/daemon/notify/notifier.c"
headers=$(grep -o '"X-Provauth-[A-Za-z]*:' "$notifier" | tr -d '"' | sort -u)
[ -n "$headers" ] || not_ok "found no X-Provauth- header in $notifier"
for h in $headers; do
	if grep -qF -- "$(printf '%s' "$h" | sed 's/-/\\-/g')" "$man"; then ok "man page names the webhook header $h"
	else not_ok "man page lacks the webhook header $h that notify/ sends"; fi
done
grep -q '"X-Provauth-Signature: v1=%s"' "$notifier" && grep -qF 'X\-Provauth\-Signature: v1=' "$man"
check "the signature's v1= prefix is documented as sent" '[ $? = 0 ]'

if ! command -v groff >/dev/null 2>&1; then
	not_ok "groff is not installed (Debian: groff-base), so the man page cannot be checked"
elif warnings=$(groff -man -Tutf8 -ww -z "$man" 2>&1) && [ -z "$warnings" ]; then
	ok "groff -ww: no warnings in provauthd.8"
else
	not_ok "groff -ww: $warnings"
fi

cli_finish
