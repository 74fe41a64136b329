#!/usr/bin/env bash
# Load time of a 65,536-node model (issue 14, finding 6: loading must be linear in nodes):
# a chain of Relu nodes written as ONNX by gen_chain_onnx.py (/usr/bin/python3 with onnx),
# converted to .qsm by qscope, both into build/bench/. Prints the median of 3 loads of each,
# less qscope's start-up (the same command without the load). Usage: load_large.sh [N]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
q=build/qscope
[ -x "$q" ] || scripts/build.sh build
n=${1:-65536}
dir=build/bench
mkdir -p "$dir"
onnx=$dir/chain_$n.onnx qsm=$dir/chain_$n.qsm
[ -f "$onnx" ] || /usr/bin/python3 scripts/bench/gen_chain_onnx.py "$n" "$onnx"
[ -f "$qsm" ] || $q -c "load $onnx; save $qsm" >/dev/null

# seconds of one run of qscope -c "$1", to the millisecond
run_s() {
  local t0 t1
  t0=$(date +%s%N)
  $q -c "$1" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000000))
}
median3() { printf '%s\n' "$@" | sort -n | sed -n 2p; }

base=$(median3 "$(run_s 'set')" "$(run_s 'set')" "$(run_s 'set')")
for f in "$qsm" "$onnx"; do
  ms=$(median3 "$(run_s "load $f")" "$(run_s "load $f")" "$(run_s "load $f")")
  printf '%-6s %6d nodes  %8.3f s  (%s, %d bytes)\n' "${f##*.}" "$n" \
    "$(echo "($ms - $base) / 1000" | bc -l)" "$f" "$(stat -c %s "$f")"
done
