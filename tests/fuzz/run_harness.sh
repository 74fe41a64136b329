#!/usr/bin/env bash
# Runs one libFuzzer harness over its committed corpus and fuzzes it for a while:
#   run_harness.sh BINARY NAME WORKDIR SECONDS [RUNS [fresh]]
# New corpus entries go to WORKDIR/corpus/NAME and crash inputs to WORKDIR/findings/NAME/
# (never into the source tree); the log is WORKDIR/NAME.log. Prints one line with the
# executions and findings, and exits non-zero when the harness found anything.
# FUZZ_SEED (default 1) fixes libFuzzer's seed; with "fresh" the work corpus starts empty,
# so the CTest run is repeatable (it ends at RUNS inputs where the machine is fast enough).
# FUZZ_TIMEOUT (default 10) is libFuzzer's per-input limit in seconds. It counts wall time,
# so a long run beside other work at a low priority needs more (an input that takes 0.2 s
# alone timed out at 11 s for a starved fuzzer).
set -uo pipefail
bin=$1 name=$2 work=$3 seconds=$4 runs=${5:--1} fresh=${6:-}
here=$(cd "$(dirname "$0")" && pwd)
[ "$fresh" = fresh ] && rm -rf "${work:?}/corpus/$name" "$work/findings/$name"
mkdir -p "$work/corpus/$name" "$work/findings/$name"
args=(-seed="${FUZZ_SEED:-1}" -max_total_time="$seconds" -runs="$runs"
      -timeout="${FUZZ_TIMEOUT:-10}" -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$work/findings/$name/")
before=$(find "$work/findings/$name" -type f | wc -l)
[ -f "$here/$name.dict" ] && args+=(-dict="$here/$name.dict")
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  "$bin" "${args[@]}" "$work/corpus/$name" "$here/corpus/$name" >"$work/$name.log" 2>&1
status=$?
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log" | tail -n1)
reports=$(grep -cE '^==[0-9]+==ERROR|runtime error:' "$work/$name.log" || true)
findings=$(( $(find "$work/findings/$name" -type f | wc -l) - before ))
entries=$(find "$work/corpus/$name" -type f | wc -l)
echo "fuzz $name: ${execs:-?} executions (limit ${seconds} s, ${runs} runs)," \
     "$findings new findings in $work/findings/$name, $reports sanitizer reports," \
     "$entries new corpus entries, exit $status (log $work/$name.log)"
if [ $status -ne 0 ]; then
  grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$work/$name.log" | head -n 20
fi
exit $status
