#!/bin/sh
# The sample settings file loads with the real plugins: every key it shows
# is one a provider accepts, and nothing draws a warning.
set -u
provauth="$PA_BUILDDIR/provauth"
sample="$PA_SRCDIR/etc/provauth.yaml"
fail=0

out=$(PROVAUTH_PLUGIN_PATH="$PA_BUILDDIR/plugins/.libs" "$provauth" -c "$sample" config check 2>&1)
rc=$?
echo "$out"
[ $rc -eq 0 ] || { echo "FAIL: config check exited $rc"; fail=1; }
case $out in *"providers: pixiv, pixverse"*) ;; *) echo "FAIL: both providers should load"; fail=1 ;; esac
case $out in *"0 errors, 0 warnings"*) ;; *) echo "FAIL: the sample should draw no error or warning"; fail=1 ;; esac
exit $fail
