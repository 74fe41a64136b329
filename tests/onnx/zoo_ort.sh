#!/usr/bin/env bash
# The zoo (tests/fixtures/zoo/) against ONNX Runtime: each member that loads is calibrated
# on its two fixture inputs with `quant target=ort`, exported as QDQ int8 and run in
# onnxruntime-node on the same inputs; one step is the output's quantization scale (the
# last `layers` row).
#   optimization 'basic' (constant folding, QDQ kept as written): 100 % of output elements
#     identical on every member: the export means what qscope's integer engine computes;
#   optimization 'all': 100 % identical too, on every member. There ONNX Runtime fuses
#     DequantizeLinear -> Softmax -> QuantizeLinear into QLinearSoftmax, which multiplies
#     by floor(1 / s_out): exact on the 1/256 grid that `quant target=ort` fixes for Softmax
#     outputs (as ONNX Runtime's QDQ quantizer does), a systematic move of codes on a
#     calibrated grid. Before the Softmax ran as an int8 step on that grid the transformers
#     agreed at 'all' on vit 65 %, swin 40 %, detr 16 % of output elements within one step
#     (docs/onnx.md, "The model zoo").
# Usage: zoo_ort.sh QSCOPE BUILD_DIR. Exit 77 when onnxruntime-node cannot be had.
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source tests/onnx/ort_env.sh
out="$build/zoo_ort"
mkdir -p "$out"
status=0
for m in vit swin mobilenet_v3 shufflenet efficientnet detr yolo; do
  x=tests/fixtures/zoo/${m}_x.npy
  "$qscope" --json -c "load tests/fixtures/zoo/$m.onnx; data calib $x; quant target=ort
mode int8-static; calibrate; export $out/${m}_int8.onnx; run $x out=$out/${m}_qscope.npy
layers" >"$out/$m.jsonl"
  step=$(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
    const j = lines.map((l) => JSON.parse(l)).filter((o) => o.cmd === "layers").pop();
    console.log(j.layers[j.layers.length - 1].scale);' "$out/$m.jsonl")
  for opt in basic all; do
    node tests/onnx/run_ort.js run "$out/${m}_int8.onnx" "$out/${m}_${opt}_ort" "$x" --opt=$opt
    args=(--step="$step" --min-top1=100 --min-within=100 --min-identical=100)
    printf '%s %s: ' "$m" "$opt"
    node tests/onnx/run_ort.js compare "$out/${m}_${opt}_ort0.npy" "$out/${m}_qscope.npy" \
      "${args[@]}" || { echo "FAILED: $m $opt"; status=1; }
  done
done
exit $status
