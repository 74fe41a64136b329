#!/usr/bin/env bash
# ONNX Runtime as a peer: qscope exports mnist_cnn and mnist_dw (calibrated on 500 samples)
# as QDQ int8, fp16 and fp32 ONNX; ONNX Runtime for Node.js runs each on the 2000 bundled
# test digits; tests/onnx/run_ort.js compares its outputs with qscope's own engine on the
# same inputs.
#   int8-static: top-1 agreement >= 99.5 % and >= 99 % of output elements within one
#                quantization step (the output's scale);
#   fp16:        top-1 >= 99.5 %, >= 99 % within 0.01 (half rounding of logits ~ +-20 is
#                0.0156, so sums in another order may differ by one half ulp);
#   fp32:        top-1 100 %, every element within 1e-4 (float sums in another order).
# Usage: ort_peer.sh QSCOPE BUILD_DIR. Exit 77 (skipped) when node/npm or the
# onnxruntime-node package cannot be had; it is installed into BUILD_DIR/npm, never into
# the source tree.
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "SKIP: node or npm not found (scripts/setup.sh installs nodejs and npm)"
  exit 77
fi
mods="$build/npm/node_modules"
if [ ! -d "$mods/onnxruntime-node" ]; then
  echo "installing onnxruntime-node into $build/npm"
  if ! timeout 600 npm install --prefix "$build/npm" --ignore-scripts --no-audit --no-fund \
       onnxruntime-node >"$build/npm-install.log" 2>&1; then
    echo "SKIP: npm install onnxruntime-node failed:"
    tail -5 "$build/npm-install.log"
    exit 77
  fi
fi
export ORT_NODE_MODULES="$mods"
if ! node -e 'require(require("path").resolve(process.env.ORT_NODE_MODULES, "onnxruntime-node"))' \
     2>"$build/ort-load.log"; then
  echo "SKIP: onnxruntime-node does not load here:"
  tail -3 "$build/ort-load.log"
  exit 77
fi
out="$build/ort_peer"
mkdir -p "$out"
data=models/data/mnist_test.npz
scale=0.00392156886
status=0
for m in mnist_cnn mnist_dw; do
  cat >"$out/$m.qs" <<EOF
load models/$m.qsm
source scripts/train/mnist_data.qs
mode int8-static
calibrate n=500
variant save ptq
export $out/${m}_int8.onnx variant=ptq
run $data scale=$scale out=$out/${m}_int8_qscope.npy
layers
mode fp16
export $out/${m}_fp16.onnx
run $data scale=$scale out=$out/${m}_fp16_qscope.npy
mode fp32
export $out/${m}_fp32.onnx
run $data scale=$scale out=$out/${m}_fp32_qscope.npy
EOF
  "$qscope" --json --batch "$out/$m.qs" >"$out/$m.jsonl"
  # The output scale: the last layer's row of `layers` at int8-static.
  step=$(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
    const j = lines.map((l) => JSON.parse(l)).filter((o) => o.cmd === "layers").pop();
    console.log(j.layers[j.layers.length - 1].scale);' "$out/$m.jsonl")
  for prec in int8 fp16 fp32; do
    node tests/onnx/run_ort.js run "$out/${m}_$prec.onnx" "$out/${m}_${prec}_ort" "$data:x" \
      --scale=$scale --shape=1,28,28
    case $prec in
      int8) args=(--step="$step" --min-top1=99.5 --min-within=99) ;;
      fp16) args=(--step=0.01 --min-top1=99.5 --min-within=99) ;;
      fp32) args=(--step=1e-4 --min-top1=100 --min-within=100) ;;
    esac
    printf '%s %s: ' "$m" "$prec"
    node tests/onnx/run_ort.js compare "$out/${m}_${prec}_ort0.npy" \
      "$out/${m}_${prec}_qscope.npy" "${args[@]}" || { echo "FAILED: $m $prec"; status=1; }
  done
done
exit $status
