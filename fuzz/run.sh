#!/usr/bin/env bash
# Runs the libFuzzer targets built by ./configure --enable-fuzz.
#
#   fuzz/run.sh BUILD_DIR SECONDS [TARGET...]   fuzz each target for SECONDS
#   fuzz/run.sh BUILD_DIR replay [TARGET...]    run each target once over its corpus
#   fuzz/run.sh BUILD_DIR merge [TARGET...]     add to fuzz/corpus/<target> the inputs
#                                               of BUILD_DIR/fuzz-work/<target> that
#                                               reach code the corpus does not
#
# Fuzzing and replay only read the corpus in the tree (fuzz/corpus/<target>);
# what the fuzzer learns goes to BUILD_DIR/fuzz-work/<target>, crash, leak and
# timeout inputs to BUILD_DIR/fuzz-artifacts/<target>/. "merge" is how what
# a long run learnt reaches the tree, so that CI's short runs and make check's
# replays start from it. Exit status 1 when any target crashed (the artifacts
# are listed). Usually run via ./dev fuzz.
set -uo pipefail

top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:?usage: fuzz/run.sh BUILD_DIR SECONDS|replay [TARGET...]}
mode=${2:?usage: fuzz/run.sh BUILD_DIR SECONDS|replay [TARGET...]}
shift 2
all=(jwt cookies settings pixverse_reply pixiv_reply pixiv_token record sealed json_check redact json_string daemon_request)
if [ $# -gt 0 ]; then targets=("$@"); else targets=("${all[@]}"); fi

dict_of() {
	case $1 in
		settings) echo "$top/fuzz/dict/settings.dict" ;;
		cookies) echo "$top/fuzz/dict/cookies.dict" ;;
		pixverse_reply|pixiv_reply|pixiv_token|jwt|json_check|json_string|daemon_request) echo "$top/fuzz/dict/json.dict" ;;
	esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
failed=()
for t in "${targets[@]}"; do
	bin=$build/fuzz/fuzz_$t
	seeds=$top/fuzz/corpus/$t
	[ -x "$bin" ] || { echo "fuzz: $bin is not built" >&2; exit 2; }
	art=$build/fuzz-artifacts/$t
	work=$build/fuzz-work/$t
	mkdir -p "$art" "$work"
	log=$build/fuzz-artifacts/$t.log
	dict=$(dict_of "$t")
	args=(-artifact_prefix="$art/" -timeout=10 -rss_limit_mb=2048 -max_len=65536 -print_final_stats=1)
	[ -n "$dict" ] && args+=(-dict="$dict")
	start=$SECONDS
	if [ "$mode" = replay ]; then
		"$bin" "${args[@]}" -runs=0 "$seeds" >"$log" 2>&1
	elif [ "$mode" = merge ]; then
		before=$(find "$seeds" -type f | wc -l)
		if "$bin" "${args[@]}" -merge=1 "$seeds" "$work" >"$log" 2>&1; then
			echo "merged: $t: $before -> $(find "$seeds" -type f | wc -l) inputs in fuzz/corpus/$t"
			continue
		fi
		false
	else
		"$bin" "${args[@]}" -max_total_time="$mode" "$work" "$seeds" >"$log" 2>&1
	fi
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -ao 'cov: [0-9]*' "$log" | tail -1)
	if [ $rc -ne 0 ]; then
		echo "FAIL: $t (exit $rc, $((SECONDS - start))s); log: $log"
		grep -avE '^#[0-9]' "$log" | grep -aE 'ERROR|invariant|secret|refusal|SUMMARY|Test unit written' | head -8 | sed 's/^/  /'
		failed+=("$t")
	else
		echo "ok: $t ($((SECONDS - start))s, ${execs:-?} runs, ${cov:-cov: ?})"
	fi
done
if [ ${#failed[@]} -ne 0 ]; then
	echo "fuzz: crashed: ${failed[*]}; inputs in $build/fuzz-artifacts/<target>/" >&2
	exit 1
fi
