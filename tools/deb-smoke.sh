#!/usr/bin/env bash
# The Debian packages work on a machine that has nothing else of provauth:
#
#   tools/deb-smoke.sh ROOTDIR DEBDIR
#
# ROOTDIR is an unpacked clean Debian root of the release the packages were
# built for (e.g. a debootstrap --variant=minbase tree); it is changed, so pass
# a throw-away copy. DEBDIR holds libprovauth0, libprovauth-dev, provauth and
# provauthd .deb files (./dev deb writes them to _build-deb/). As root, this script
# mounts /proc, /sys, /dev and /dev/pts into ROOTDIR (unmounted again on any
# exit), installs the four packages with apt-get inside it via chroot, plus
# what a user building the embedding example needs (gcc, make, pkg-config and
# libcurl's -dev package, which the example itself uses), then checks:
#
#   1. provauth --version names the packaged version;
#   2. provauth plugins, with no settings file and no PROVAUTH_PLUGIN_PATH,
#      loads pixverse and pixiv from the directory libprovauth0 installs
#      them in, /usr/lib/<triplet>/provauth/plugins, which is also what
#      pkg-config --variable=plugindir provauth says;
#   3. provauth ships its man page and the sample settings, which load with
#      both plugins and draw no error or warning (provauth config check);
#   4. examples/embed builds with its own Makefile (pkg-config only), links
#      the packaged library and runs a job against a memory store;
#   5. provauthd --version names the packaged version, the package ships the
#      daemon, its man page and unit, and /etc/provauth/provauthd.yaml as a
#      conffile 0644 root:root, which provauthd --check (its default path)
#      loads. The service is neither enabled nor started by the install.
#
# Exits 0 when all hold, 1 with "deb-smoke FAILED: ..." otherwise, 2 on bad usage.
set -euo pipefail

die() { echo "deb-smoke FAILED: $*" >&2; exit 1; }
ok() { echo "ok $*"; }

[ $# -eq 2 ] || { echo "usage: $0 ROOTDIR DEBDIR" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "$0: must run as root (chroot, mount)" >&2; exit 2; }
root=$(cd "$1" && pwd)
debdir=$(cd "$2" && pwd)
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[ "$root" != / ] || { echo "$0: ROOTDIR must not be /" >&2; exit 2; }
[ -x "$root/usr/bin/apt-get" ] || { echo "$0: $root has no usr/bin/apt-get: not a Debian root" >&2; exit 2; }

# Exactly one of each package (the -dbgsym ones are not needed).
debs=()
for p in libprovauth0 libprovauth-dev provauth provauthd; do
	shopt -s nullglob
	found=("$debdir/${p}_"[0-9]*.deb)
	shopt -u nullglob
	[ ${#found[@]} = 1 ] || { echo "$0: want one ${p}_*.deb in $debdir, found ${#found[@]}" >&2; exit 2; }
	debs+=("${found[0]}")
done
version=$(dpkg-deb -f "${debs[2]}" Version)

# ---- mounts, undone on every exit ----------------------------------------
mounted=()
cleanup() {
	local i
	for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
		umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" ||
			echo "deb-smoke: could not unmount ${mounted[i]}" >&2
	done
}
trap cleanup EXIT
trap 'exit 130' INT TERM
bind() {  # bind SOURCE TARGET-IN-ROOT
	mkdir -p "$root$2"
	mount --bind "$1" "$root$2"
	mounted+=("$root$2")
}
mkdir -p "$root/proc"
mount -t proc proc "$root/proc"
mounted+=("$root/proc")
bind /sys /sys
bind /dev /dev
bind /dev/pts /dev/pts

# Name resolution as on this machine; no service starts inside the root.
rm -f "$root/etc/resolv.conf"
cp /etc/resolv.conf "$root/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
chmod 755 "$root/usr/sbin/policy-rc.d"

# The packages and the example, readable by apt's unprivileged downloader.
work=/tmp/deb-smoke
rm -rf "$root$work"
mkdir -p "$root$work"
cp "${debs[@]}" "$root$work/"
cp -r "$top/examples/embed" "$root$work/embed"
rm -f "$root$work/embed/embed-jobs"
chmod -R a+rX "$root$work"

# A clean environment inside: nothing of this machine's provauth settings.
in_root() {
	chroot "$root" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LC_ALL=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}

echo "== apt-get install the packages into $root"
in_root apt-get update -qq >"$root$work/apt.out" 2>&1 || { cat "$root$work/apt.out" >&2; die "apt-get update"; }
in_root apt-get install -y -qq --no-install-recommends \
	"$work/$(basename "${debs[0]}")" "$work/$(basename "${debs[1]}")" "$work/$(basename "${debs[2]}")" \
	"$work/$(basename "${debs[3]}")" \
	gcc libc6-dev make pkg-config libcurl4-openssl-dev >>"$root$work/apt.out" 2>&1 ||
	{ cat "$root$work/apt.out" >&2; die "apt-get install"; }
ok "installed: $(in_root dpkg-query -W -f '${Package} ${Version}\n' libprovauth0 libprovauth-dev provauth provauthd |
	paste -sd, | sed 's/,/, /g')"

# ---- 1. the tool runs ----------------------------------------------------
out=$(in_root provauth --version) || die "provauth --version exits $?"
echo "  $ provauth --version"
sed 's/^/  /' <<<"$out"
case $out in "provauth ${version%%-*} "*) ok "provauth --version names $version" ;;
	*) die "provauth --version does not name ${version%%-*}" ;; esac

# ---- 2. both plugins load from the packaged directory --------------------
triplet=$(in_root gcc -print-multiarch)
plugindir=/usr/lib/$triplet/provauth/plugins
for p in pixiv pixverse; do
	in_root dpkg -L libprovauth0 | grep -qx "$plugindir/$p.so" || die "libprovauth0 does not install $plugindir/$p.so"
done
ok "libprovauth0 installs pixiv.so and pixverse.so in $plugindir"
[ "$(in_root pkg-config --variable=plugindir provauth)" = "$plugindir" ] ||
	die "pkg-config --variable=plugindir provauth is not $plugindir"
ok "pkg-config --variable=plugindir provauth = $plugindir"
out=$(in_root provauth plugins) || die "provauth plugins exits $?"
echo "  $ provauth plugins"
sed 's/^/  /' <<<"$out"
json=$(in_root provauth --json plugins) || die "provauth --json plugins exits $?"
for p in pixiv pixverse; do
	grep -q "\"file\": \"$plugindir/$p.so\"" <<<"$json" || die "provauth plugins did not load $plugindir/$p.so"
done
tr -d ' \n' <<<"$json" | grep -q '"skipped":\[\]' || die "provauth plugins skipped a file"
ok "provauth plugins loads pixiv and pixverse from $plugindir, skips nothing"

# ---- 3. the man page and the sample settings ----------------------------
sample=/usr/share/provauth/provauth.yaml.sample
for f in /usr/share/man/man1/provauth.1.gz "$sample"; do
	in_root dpkg -L provauth | grep -qx "$f" || die "provauth does not install $f"
done
out=$(in_root provauth -c "$sample" config check) || die "provauth config check of $sample exits $?"
grep -q '^providers: pixiv, pixverse$' <<<"$out" && grep -q '^0 errors, 0 warnings$' <<<"$out" ||
	{ sed 's/^/  /' <<<"$out" >&2; die "the sample settings do not load cleanly with the packaged plugins"; }
ok "provauth installs its man page and $sample, which loads both plugins without a warning"

# ---- 4. the embedding example builds against the -dev package ------------
in_root make -C "$work/embed" >"$root$work/embed.out" 2>&1 || { cat "$root$work/embed.out" >&2; die "examples/embed does not build"; }
ok "examples/embed builds with its Makefile (pkg-config only)"
# /lib is /usr/lib on a merged-/usr root: compare where the paths lead.
lib=$(in_root ldd "$work/embed/embed-jobs" | awk '$1 == "libprovauth.so.0" { print $3 }')
[ -n "$lib" ] && [ "$(in_root readlink -f "$lib")" = "$(in_root readlink -f "/usr/lib/$triplet/libprovauth.so.0")" ] ||
	die "embed-jobs does not link the packaged /usr/lib/$triplet/libprovauth.so.0 (ldd: ${lib:-none})"
ok "embed-jobs links the packaged libprovauth.so.0 ($lib)"
# One job for an account the (memory) store lacks: the manager loads the
# packaged plugins, the job fails by name, embed-jobs exits 1. No network.
printf 'store:\n  backend: memory\n' >"$root$work/provauth.yaml"
rc=0
echo nosuch-account | in_root "$work/embed/embed-jobs" -c "$work/provauth.yaml" \
	>"$root$work/jobs.out" 2>"$root$work/jobs.err" || rc=$?
if [ $rc != 1 ] || ! grep -q '^job 1 nosuch-account failed: ' "$root$work/jobs.out"; then
	cat "$root$work/jobs.out" "$root$work/jobs.err" >&2
	die "embed-jobs did not run its job (exit $rc)"
fi
ok "embed-jobs runs: $(head -1 "$root$work/jobs.out")"

# ---- 5. the daemon, its unit and its settings ------------------------------
out=$(in_root provauthd --version) || die "provauthd --version exits $?"
echo "  $ provauthd --version"
sed 's/^/  /' <<<"$out"
[ "$out" = "provauthd ${version%%-*}" ] || die "provauthd --version does not name ${version%%-*}"
ok "provauthd --version names $version"
files=$(in_root dpkg -L provauthd)
for f in /usr/sbin/provauthd /usr/share/man/man8/provauthd.8.gz /etc/provauth/provauthd.yaml; do
	grep -qx "$f" <<<"$files" || die "provauthd does not install $f"
done
# debhelper puts units in /lib/systemd/system (bookworm) or /usr/lib/...
grep -qE '^(/usr)?/lib/systemd/system/provauthd\.service$' <<<"$files" || die "provauthd does not install its unit"
in_root dpkg-query -W -f '${Conffiles}\n' provauthd | grep -q '^ /etc/provauth/provauthd.yaml ' ||
	die "/etc/provauth/provauthd.yaml is not a conffile"
# The unit's dynamic user must read it: 0644, and only root may change it.
[ "$(in_root stat -c '%a %U:%G' /etc/provauth/provauthd.yaml)" = "644 root:root" ] ||
	die "/etc/provauth/provauthd.yaml is $(in_root stat -c '%a %U:%G' /etc/provauth/provauthd.yaml), not 644 root:root"
[ "$(in_root stat -c '%a %U' /etc/provauth)" = "755 root" ] || die "/etc/provauth is not 755 root"
ok "provauthd installs the daemon, provauthd(8), its unit and the conffile /etc/provauth/provauthd.yaml (644 root:root)"
rc=0
out=$(in_root provauthd --check 2>&1) || rc=$?
[ $rc = 0 ] || { echo "$out" >&2; die "provauthd --check of the installed settings exits $rc"; }
echo "  $ provauthd --check"
sed 's/^/  /' <<<"$out"
[ "$out" = "/etc/provauth/provauthd.yaml: ok (listen 127.0.0.1:8750, 0 tokens, keeper on, webhook off)" ] ||
	die "provauthd --check does not load the installed settings cleanly"
ok "provauthd --check loads /etc/provauth/provauthd.yaml without a warning"
if [ -e "$root/etc/systemd/system/multi-user.target.wants/provauthd.service" ]; then
	die "installing provauthd enabled the service before it has a token"
fi
ok "the service is not enabled by the install"

echo "deb-smoke: all checks passed"
