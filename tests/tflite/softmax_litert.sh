#!/usr/bin/env bash
# int8 SOFTMAX against LiteRT (tests/fixtures/onnx/softmax_span40.onnx, made by
# scripts/fixtures/gen_softmax_ort.py: MatMul -> Softmax over 40 codes -> Relu, some spans
# with a dominant code). Each target exported as full-int8 .tflite at batch 1 and run in
# LiteRT (@litertjs/core) on the same inputs:
#   xnnpack: Softmax outputs fixed at 1/256, -128, written as int8 SOFTMAX; LiteRT runs
#     TFLite's float-table kernel itself (XNNPACK takes no int8 softmax), which is the
#     target's rule: 100 % of output elements on qscope's int8 level;
#   qscope: calibrated outputs, the float SOFTMAX between DEQUANTIZE and QUANTIZE: 100 %;
#   tflm: the same int8 SOFTMAX file, but the target's rule is TensorFlow Lite Micro's
#     fixed-point kernel, which LiteRT does not run: asserted within one step, the share
#     on the same level printed (measured 100 %, 1920 of 1920, on this fixture; the
#     fixed-point codes are checked exactly in tests/unit/test_qexec_softmax.c).
# Usage: softmax_litert.sh QSCOPE BUILD_DIR. Exit 77 when @litertjs/core cannot be had.
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
mods=$("$root/tests/peers/npm_package.sh" "$build" @litertjs/core "$(cat "$here/litert_version")") ||
  { status=$?; echo "$mods"; exit $status; }
export LITERT_NODE_MODULES=$mods
out="$build/softmax_litert"
mkdir -p "$out"
m=tests/fixtures/onnx/softmax_span40.onnx
x=tests/fixtures/onnx/softmax_spans_x.npy
status=0
for t in xnnpack tflm qscope; do
  "$qscope" -c "load $m; data calib $x; quant target=$t
mode int8-static; calibrate; export $out/$t.tflite batch=1; run $x out=$out/${t}_qscope.npy" \
    >"$out/$t.log"
  node tests/tflite/litert_run.mjs "$out/$t.tflite" "$x" "$out/${t}_litert" >"$out/${t}_run.log" 2>&1 ||
    { echo "FAILED: LiteRT did not run $t.tflite"; tail -3 "$out/${t}_run.log"; status=1; continue; }
  printf 'target %s: ' "$t"
  bound=--min-same=100
  [ "$t" = tflm ] && bound=--max-steps=1
  node tests/tflite/litert_compare.mjs "$out/${t}_litert0.npy" "$out/${t}_qscope.npy" \
    --step=0.00390625 "$bound" --label="softmax $t" || { echo "FAILED: $t"; status=1; }
done
exit $status
