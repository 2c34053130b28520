#!/bin/sh
# The sample settings file loads with the real plugins: every key it shows
# is one a provider accepts, and nothing draws a warning.
set -u
# shellcheck source=tests/cli/cli_helpers.sh
. "${PA_SRCDIR:?run through make check}/tests/cli/cli_helpers.sh"
need_programs "$prog"
cli_setup pa-sample
PROVAUTH_PLUGIN_PATH="$PA_BUILDDIR/plugins/.libs"
export PROVAUTH_PLUGIN_PATH
settings="$PA_SRCDIR/etc/provauth.yaml"

run 0 "config check of the sample settings" config check
has "$tmp/out" "both providers load" "providers: pixiv, pixverse"
has "$tmp/out" "the sample draws no error or warning" "0 errors, 0 warnings"
cli_finish
