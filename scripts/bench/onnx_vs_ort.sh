#!/usr/bin/env bash
# qscope against ONNX Runtime (onnxruntime-node) on the same ONNX model and inputs: FP32
# and INT8 static (the QDQ export of a 500-sample calibration), one thread and two, for
# mnist_cnn and mnist_dw. Both time one forward pass over the first N test digits as one
# batch (warm-up, then the median of R passes) and the script prints ms per sample and the
# ratio qscope / ORT (below 1: qscope is faster).
#
# ORT runs the exported file with all graph optimizations on (it fuses QDQ into its own
# integer kernels); qscope runs its own model and plan, which the exported file reproduces
# (tests/onnx/ort_peer.sh checks the outputs agree).
#
# Usage: scripts/bench/onnx_vs_ort.sh [BUILD_DIR=build] [N=1000] [R=5]
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${1:-build}
n=${2:-1000}
repeat=${3:-5}
q=$build/qscope
[ -x "$q" ] || scripts/build.sh "$build"
mods="$build/npm/node_modules"
if [ ! -d "$mods/onnxruntime-node" ]; then
  npm install --prefix "$build/npm" --ignore-scripts --no-audit --no-fund onnxruntime-node \
    >/dev/null
fi
export ORT_NODE_MODULES=$mods
out="$build/onnx_bench"
mkdir -p "$out"
data=models/data/mnist_test.npz
scale=0.00392156886
printf '%-10s %-12s %3s %12s %12s %8s\n' model precision thr qscope_ms/s ort_ms/s ratio
for m in mnist_cnn mnist_dw; do
  "$q" -c "load models/$m.qsm; source scripts/train/mnist_data.qs; calibrate n=500
    mode int8-static; variant save ptq; export $out/${m}_int8.onnx variant=ptq
    mode fp32; export $out/${m}_fp32.onnx" >/dev/null
  for threads in 1 2; do
    json=$("$q" --json -c "load models/$m.qsm; source scripts/train/mnist_data.qs
      calibrate n=500; set threads=$threads; set batch=$n
      mode fp32; bench n=$n repeat=$repeat; mode int8-static; bench n=$n repeat=$repeat")
    for prec in fp32 int8; do
      want=$([ $prec = fp32 ] && echo fp32 || echo int8-static)
      qms=$(echo "$json" | node -e '
        let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
          const rows = s.trim().split("\n").map((l) => JSON.parse(l))
            .filter((o) => o.cmd === "bench" && o.precision === process.argv[1]);
          console.log(rows[0].ms_per_sample); });' "$want")
      oms=$(node tests/onnx/run_ort.js bench "$out/${m}_$prec.onnx" "$data:x" --scale=$scale \
              --shape=1,28,28 --n="$n" --threads="$threads" --repeat="$repeat" |
            node -e 'let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
              const j = JSON.parse(s); console.log(j.median_ms / j.samples); });')
      ratio=$(node -e "console.log(($qms / $oms).toFixed(2))")
      printf '%-10s %-12s %3s %12.4f %12.4f %8s\n' "$m" "$prec" "$threads" "$qms" "$oms" "$ratio"
    done
  done
done
