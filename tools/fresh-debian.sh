#!/usr/bin/env bash
# The README's promise, checked the way a newcomer meets the project: on a
# Debian 12 root with nothing but debootstrap's minbase in it, a clean copy
# of the committed tree (HEAD) runs
#   1. as root:               ./dev demo, then ./dev check, then ./dev deb;
#                             then the README's build-by-hand, install,
#                             embedding and plugin steps in another copy
#   2. as an unprivileged user, in a second clean copy it owns:
#                             ./dev check (no sudo: the packages are there by
#                             then; provauth installed in /usr/local must not
#                             leak into its tests)
#   3. in another pristine root, tools/deb-smoke.sh: the built .deb files
#      installed with apt, provauth --version, both plugins load from the
#      packaged directory, examples/embed builds with pkg-config only.
# Anything the project forgot to install fails here, not on a user's machine.
#
#   tools/fresh-debian.sh [--keep]     (root; ./dev fresh runs it via sudo)
#
# The pristine minbase root is kept as a tarball in $PA_FRESH_CACHE (default
# /var/cache/provauth-fresh) and made again when missing or unreadable. Each
# root runs in a mount and PID namespace of its own (pivot_root, not chroot,
# so user namespaces work inside as on a real machine): /proc, /sys, /dev,
# /dev/pts and /dev/shm are mounted there and go away with the namespace, also
# when a step fails or the script is killed. --keep leaves the roots in
# their work directory for a look afterwards.
#
# Environment: PA_FRESH_CACHE, PA_FRESH_MIRROR (default
# http://deb.debian.org/debian), PA_FRESH_WORK (parent of the work directory,
# default /var/tmp), PA_JOBS (passed to ./dev inside).
set -euo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cache=${PA_FRESH_CACHE:-/var/cache/provauth-fresh}
mirror=${PA_FRESH_MIRROR:-http://deb.debian.org/debian}
suite=bookworm
tarball=$cache/$suite-minbase.tar
keep=0
[ "${1:-}" = --keep ] && keep=1
user=newcomer

say() { printf '==> fresh: %s\n' "$*" >&2; }
die() { say "FAILED: $*"; exit 1; }
elapsed() { local s=$(($(date +%s) - $1)); printf '%dm%02ds' $((s / 60)) $((s % 60)); }

[ "$(id -u)" = 0 ] || die "needs root (debootstrap, mounts): run ./dev fresh, which uses sudo"
for c in debootstrap unshare pivot_root tar git findmnt setpriv; do
	command -v "$c" >/dev/null || die "$c is missing (./dev fresh installs debootstrap)"
done

# ---- the pristine root -------------------------------------------------
ensure_tarball() {
	if [ -s "$tarball" ] && tar -tf "$tarball" >/dev/null 2>&1; then return 0; fi
	local t0 tmp
	t0=$(date +%s)
	say "no usable $tarball: debootstrap --variant=minbase $suite (a few minutes, once per machine)"
	mkdir -p "$cache"
	tmp=$(mktemp -d "$cache/.new-XXXXXX")
	if ! debootstrap --variant=minbase "$suite" "$tmp/root" "$mirror" >"$tmp/log" 2>&1; then
		tail -n 30 "$tmp/log" >&2
		rm -rf --one-file-system "$tmp"
		die "debootstrap failed"
	fi
	# Written next to its final name and renamed: never half a tarball.
	tar --numeric-owner -C "$tmp/root" -cf "$tmp/root.tar" .
	mv "$tmp/root.tar" "$tarball"
	rm -rf --one-file-system "$tmp"
	say "pristine root cached in $tarball ($(elapsed "$t0"))"
}

# new_root DIR: a pristine root with the network set up as a new install has it.
new_root() {
	mkdir -p "$1"
	tar --numeric-owner -xpf "$tarball" -C "$1"
	cp -L /etc/resolv.conf "$1/etc/resolv.conf"
	cat >"$1/etc/apt/sources.list" <<-EOF
		deb $mirror $suite main
		deb $mirror $suite-updates main
		deb http://deb.debian.org/debian-security $suite-security main
	EOF
	# As in any container, packages may not start services: postgresql's
	# postinst would start Debian's cluster on port 5432 of the host's
	# loopback (this root shares its network), fail when that port is taken
	# and leave a server behind otherwise. The tests start clusters of their own.
	printf '#!/bin/sh\nexit 101\n' >"$1/usr/sbin/policy-rc.d"
	chmod 755 "$1/usr/sbin/policy-rc.d"
}

# in_root DIR COMMAND...: COMMAND inside DIR as its /, in fresh mount and PID
# namespaces, with a clean environment. The mounts belong to the namespace:
# the kernel drops them when its last process ends, whatever happened.
in_root() {
	local root=$1
	shift
	unshare --mount --pid --fork --propagation private -- bash -euc '
		r=$1; shift
		mount --bind "$r" "$r"
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys" 2>/dev/null || mount --rbind /sys "$r/sys"
		mount -t tmpfs -o mode=755,nosuid dev "$r/dev"
		for d in null zero full random urandom tty; do
			touch "$r/dev/$d"
			mount --bind "/dev/$d" "$r/dev/$d"
		done
		ln -s /proc/self/fd "$r/dev/fd"
		ln -s /proc/self/fd/0 "$r/dev/stdin"
		ln -s /proc/self/fd/1 "$r/dev/stdout"
		ln -s /proc/self/fd/2 "$r/dev/stderr"
		mkdir "$r/dev/pts" "$r/dev/shm"
		mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts "$r/dev/pts"
		ln -s pts/ptmx "$r/dev/ptmx"
		mount -t tmpfs -o mode=1777,nosuid,nodev shm "$r/dev/shm"
		cd "$r"
		mkdir -p .old-root
		pivot_root . .old-root
		umount -l /.old-root
		rmdir /.old-root
		exec env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
			HOME=/root TERM=dumb CI="${CI:-}" PA_JOBS="${PA_JOBS:-}" "$@"
	' in_root "$root" "$@"
}

# remove_root DIR: only when nothing is mounted below it any more.
remove_root() {
	if findmnt -rn -o TARGET | grep -q "^$1"; then
		say "not removing $1: something is still mounted below it"
		return 1
	fi
	rm -rf --one-file-system "$1"
}

# unpack_tree DIR OWNER: a clean copy of HEAD, as `git clone` would give.
unpack_tree() {
	mkdir -p "$1"
	git -C "$top" archive --format=tar HEAD | tar -x -C "$1"
	chown -R "$2" "$1"
}

ensure_tarball
work=$(mktemp -d "${PA_FRESH_WORK:-/var/tmp}/provauth-fresh-XXXXXX")
chmod 755 "$work"
cleanup() {
	local rc=$?
	if [ "$keep" = 1 ]; then say "kept $work"
	else remove_root "$work/dev-root" 2>/dev/null || true; remove_root "$work/pkg-root" 2>/dev/null || true
		rm -rf --one-file-system "$work" 2>/dev/null || true
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP
t_all=$(date +%s)
say "testing HEAD $(git -C "$top" rev-parse --short HEAD) (commit first: uncommitted changes are not part of it)"

# ---- 1. as root: the two commands, then the packages -----------------------
root=$work/dev-root
new_root "$root"
unpack_tree "$root/root/provauth" 0:0
t0=$(date +%s)
say "as root: ./dev demo"
in_root "$root" bash -c 'cd /root/provauth && ./dev demo' >"$work/demo.out" 2>&1 ||
	{ tail -n 60 "$work/demo.out" >&2; die "./dev demo as root"; }
tail -n 3 "$work/demo.out" >&2
say "as root: ./dev demo passed ($(elapsed "$t0"))"

t0=$(date +%s)
say "as root: ./dev check"
in_root "$root" bash -c 'cd /root/provauth && ./dev check' >"$work/check-root.out" 2>&1 ||
	{ tail -n 80 "$work/check-root.out" >&2; die "./dev check as root"; }
tail -n 1 "$work/check-root.out" >&2
say "as root: ./dev check passed ($(elapsed "$t0"))"

t0=$(date +%s)
say "as root: ./dev deb"
in_root "$root" bash -c 'cd /root/provauth && ./dev deb' >"$work/deb.out" 2>&1 ||
	{ tail -n 60 "$work/deb.out" >&2; die "./dev deb as root"; }
mkdir -p "$work/debs"
cp "$root"/root/provauth/_build-deb/*.deb "$work/debs/"
say "as root: ./dev deb passed ($(elapsed "$t0")): $(cd "$work/debs" && echo *.deb)"

# ---- 1b. the README's build-by-hand, install, embedding and plugin steps ------
# As written there, in a clean copy: an in-place configure is refused with
# the out-of-tree commands (and no "rm: cannot remove 'core'"); the installed
# tool runs at once (ldconfig by the install); make installcheck builds both
# examples against the installed tree and runs them; the example plugin loads
# once its settings block is in ~/.config/provauth/provauth.yaml; man finds
# the page once man-db is there. This install into /usr/local also stays for
# step 2, whose suite must not pick any of it up.
t0=$(date +%s)
unpack_tree "$root/root/by-hand" 0:0
say "as root: the README's steps by hand (configure, make install, examples, man)"
in_root "$root" bash -euxc '
	cd /root/by-hand
	autoreconf -fi >/dev/null 2>&1
	if ./configure >/tmp/in-place.out 2>&1; then echo "configure ran in the source tree"; exit 1; fi
	grep -q "mkdir _build" /tmp/in-place.out
	if grep "cannot remove" /tmp/in-place.out; then exit 1; fi
	mkdir _build && cd _build
	../configure >/dev/null && make -j"${PA_JOBS:-2}" >/dev/null && make install >/dev/null
	provauth --version
	make installcheck >/tmp/installcheck.out 2>&1 || { tail -n 40 /tmp/installcheck.out; exit 1; }
	mkdir -p ~/.config/provauth
	printf "providers:\n  bearer:\n    base_url: https://api.example.com\n" >~/.config/provauth/provauth.yaml
	cd ../examples/plugin
	make >/dev/null && make install >/dev/null
	provauth plugins >/tmp/plugins.out
	grep -w bearer /tmp/plugins.out
	provauth config check
	rm -rf ~/.config/provauth
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends man-db >/dev/null
	man provauth >/tmp/man.out 2>&1 && grep -q "accounts import-cookies" /tmp/man.out
	man /root/by-hand/docs/provauth.1 >/tmp/man.out 2>&1 && grep -q "accounts import-cookies" /tmp/man.out
' >"$work/by-hand.out" 2>&1 || { tail -n 60 "$work/by-hand.out" >&2; die "the README's steps by hand"; }
say "as root: the README's steps by hand passed ($(elapsed "$t0"))"

# ---- 2. an unprivileged user, a copy of its own, no sudo -------------------
t0=$(date +%s)
in_root "$root" useradd --create-home --shell /bin/bash "$user"
uid=$(awk -F: -v u="$user" '$1 == u { print $3 ":" $4 }' "$root/etc/passwd")
unpack_tree "$root/home/$user/provauth" "$uid"
say "as $user: ./dev check"
in_root "$root" setpriv --reuid="$user" --regid="$user" --init-groups \
	env HOME="/home/$user" USER="$user" bash -c 'cd ~/provauth && ./dev check' \
	>"$work/check-user.out" 2>&1 ||
	{ tail -n 80 "$work/check-user.out" >&2; die "./dev check as $user"; }
tail -n 1 "$work/check-user.out" >&2
say "as $user: ./dev check passed ($(elapsed "$t0"))"
[ "$keep" = 1 ] || remove_root "$root"

# ---- 3. the packages on a clean system -------------------------------------
# deb-smoke.sh mounts into the root and chroots itself; its own mount
# namespace drops those mounts however it ends.
t0=$(date +%s)
root=$work/pkg-root
new_root "$root"
unpack_tree "$work/src" 0:0
say "packages on a clean root: tools/deb-smoke.sh"
unshare --mount --propagation private -- bash "$work/src/tools/deb-smoke.sh" "$root" "$work/debs" \
	>"$work/pkg.out" 2>&1 || { tail -n 60 "$work/pkg.out" >&2; die "the packages on a clean root"; }
tail -n 3 "$work/pkg.out" >&2
say "packages passed ($(elapsed "$t0"))"

say "all passed in $(elapsed "$t_all")"
