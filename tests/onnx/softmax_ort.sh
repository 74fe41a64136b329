#!/usr/bin/env bash
# int8 Softmax against ONNX Runtime (tests/fixtures/onnx/softmax_spans.onnx, made by
# scripts/fixtures/gen_softmax_ort.py: spans of 40 and 17 codes, some with a dominant code
# past ONNX Runtime's 16-code blocks). Calibrated on its input with `quant target=ort`
# (Softmax outputs at 1/256, -128, as ONNX Runtime's QDQ quantizer fixes them), exported as
# QDQ and run in onnxruntime-node:
#   'all' (DequantizeLinear -> Softmax -> QuantizeLinear fused into QLinearSoftmax) and
#   'basic' (the float Softmax between them): 100 % of output codes identical to qscope's
#   integer engine at both levels.
# With `quant target=qscope` (Softmax outputs on their calibrated grid) the export is
# identical at 'basic' (qscope's rule is the float op, quantized), and at 'all' the figures
# are printed: QLinearSoftmax multiplies by floor(1 / s_out), not 1 / s_out, which moves
# codes on a calibrated grid (docs/onnx.md, "The model zoo").
# Usage: softmax_ort.sh QSCOPE BUILD_DIR. Exit 77 when onnxruntime-node cannot be had.
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
source tests/onnx/ort_env.sh
out="$build/softmax_ort"
mkdir -p "$out"
m=tests/fixtures/onnx/softmax_spans.onnx
x=tests/fixtures/onnx/softmax_spans_x.npy
status=0
for t in ort qscope; do
  "$qscope" --json -c "load $m; data calib $x; quant target=$t
mode int8-static; calibrate; export $out/${t}_int8.onnx; run $x out=$out/${t}_qscope.npy
layers" >"$out/$t.jsonl"
  step=$(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
    const j = lines.map((l) => JSON.parse(l)).filter((o) => o.cmd === "layers").pop();
    const sm = j.layers.filter((l) => l.op === "Softmax");
    if (sm.length !== 2 || sm.some((l) => l.kernel !== "int8")) process.exit(1);
    console.log(j.layers[j.layers.length - 1].scale);' "$out/$t.jsonl") ||
    { echo "FAILED: the Softmax layers do not run as int8 ($t)"; status=1; continue; }
  for opt in basic all; do
    node tests/onnx/run_ort.js run "$out/${t}_int8.onnx" "$out/${t}_${opt}_ort" "$x" --opt=$opt
    args=(--step="$step" --min-within=100 --min-identical=100)
    [ "$t:$opt" = qscope:all ] && args=(--step="$step")
    printf 'target %s, %s: ' "$t" "$opt"
    node tests/onnx/run_ort.js compare "$out/${t}_${opt}_ort0.npy" "$out/${t}_qscope.npy" \
      "${args[@]}" || { echo "FAILED: $t $opt"; status=1; }
  done
done
exit $status
