#!/usr/bin/env bash
# LiteRT on the zoo (tests/fixtures/zoo/, scripts/fixtures/gen_zoo.py): every member that
# the .tflite exporter writes, exported at fp32 and at int8-static (`quant target=xnnpack`,
# float IO and io=int8), run in LiteRT (@litertjs/core, tests/tflite/litert_run.mjs) on N
# seeded inputs shaped like the member's fixture input (tests/tflite/zoo_inputs.mjs, the
# calibration split too), and compared with qscope's engine (`run ... out=`) by
# tests/tflite/litert_compare.mjs. Figures as in tests/tflite/litert_peer.sh.
#
# Bounds:
#   fp32   rel_inf <= FP32_MAX_REL (1e-5) and top-1 100 %: the same float32 function; only
#          the order of sums (XNNPACK's tiles against OpenBLAS and qscope's reductions) and
#          libm routines (expf, erff against TFLite's GELU) differ, a few float32 ulps of
#          the accumulated magnitudes (measured at most 8.7e-7, swin).
#   int8   same_pct >= INT8_MIN_SAME (99 %) of output elements on qscope's int8 level. The
#          file computes each int8 step as the target does: XNNPACK's kernels for the units,
#          ADD and the rest; qscope's int8 tables (Pow, Sqrt, Div or Mul by a constant,
#          untied concat inputs) and its int8 MatMul of two activations as the float op
#          between DEQUANTIZE and QUANTIZE, which computes quant(f(dq(code))). What remains
#          is QUANTIZE's float rounding against qscope's integer requantization, within an
#          ulp of a tie (one step on one element: measured 99.94 % on yolo, 100 % on detr
#          and efficientnet).
#   int8, GELU members (vit, swin): qscope's plan runs torch's GELU (Div, Erf, Add, Mul, Mul)
#          as five int8 steps, each rounding to its calibrated grid; TFLite has no Erf, and
#          the file writes the one int8 GELU (a table of the float function on x's grid),
#          which rounds once. The outputs differ by several steps after the following
#          LayerNorm (measured 23 % and 27 % on the same level, at most 5 steps), so these
#          two are held to top-1 >= GELU_MIN_TOP1 (90 %, measured 100 %) and rel_inf <=
#          GELU_MAX_REL (0.1, measured 0.054), bounds a wrong axis or scale exceeds.
#   io=int8  the int8 file with int8 IO, fed the codes the float-IO file's own QUANTIZE
#          gives (LiteRT's dump of that tensor, scripts/taps/litert_taps.mjs): its codes
#          dequantized with the output's parameters must meet the member's int8 bound.
# Usage: zoo_litert.sh QSCOPE BUILD_DIR. Exit 77 (skipped) with the reason when node/npm or
# the pinned @litertjs/core cannot be had.
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root"
N=${N:-16}
MEMBERS=${MEMBERS:-"yolo detr vit swin shufflenet mobilenet_v3 efficientnet"}
FP32_MAX_REL=1e-5
INT8_MIN_SAME=99
GELU_MIN_TOP1=90
GELU_MAX_REL=0.1

mods=$("$root/tests/peers/npm_package.sh" "$build" @litertjs/core "$(cat "$here/litert_version")") ||
  { status=$?; echo "$mods"; exit $status; }
export LITERT_NODE_MODULES=$mods
out="$build/zoo_litert"
mkdir -p "$out"
table="$out/table.jsonl"
: >"$table"
status=0

# compare GOT WANT LABEL ARGS...: one compare, its line kept for the table
compare() {
  local got=$1 want=$2 label=$3 res rc
  shift 3
  set +e
  res=$(node "$here/litert_compare.mjs" "$got" "$want" --label="$label" "$@")
  rc=$?
  set -e
  echo "$res"
  echo "$res" >>"$table"
  [ $rc = 0 ] || { echo "FAILED: $label"; status=1; }
}

# litert MODEL INPUT PREFIX LABEL: runs the file, or records the failure
litert() {
  node "$here/litert_run.mjs" "$1" "$2" "$3" --channels-last=4 >"$3.log" 2>&1 && return 0
  echo "FAILED: $4: LiteRT: $(tail -3 "$3.log")"
  status=1
  return 1
}

# The int8 output's "scale,zero_point": the last layer with parameters in a --json log.
output_qparams() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
    const j = lines.map((l) => JSON.parse(l)).filter((o) => o.cmd === "layers").pop();
    const rows = j.layers.filter((r) => r.scale !== null);
    console.log(`${rows[rows.length - 1].scale},${rows[rows.length - 1].zp}`);' "$1"
}

for m in $MEMBERS; do
  z=tests/fixtures/zoo/$m.onnx
  x=$out/${m}_x.npy
  node "$here/zoo_inputs.mjs" "tests/fixtures/zoo/${m}_x.npy" "$N" 7 "$x"

  if "$qscope" -c "load $z; export $out/${m}_fp32.tflite batch=1; run $x out=$out/${m}_fp32_qs.npy" \
       >"$out/${m}_fp32.log" 2>&1; then
    litert "$out/${m}_fp32.tflite" "$x" "$out/${m}_fp32_lr" "$m fp32" &&
      compare "$out/${m}_fp32_lr0.npy" "$out/${m}_fp32_qs.npy" "$m fp32" \
        --max-rel=$FP32_MAX_REL --min-top1=100
  else
    echo "FAILED: $m fp32: qscope: $(tail -1 "$out/${m}_fp32.log")"
    status=1
  fi

  if ! "$qscope" --json -c "load $z; data calib $x; mode int8-static; quant target=xnnpack
calibrate; export $out/${m}_int8.tflite batch=1; export $out/${m}_int8_io.tflite batch=1 io=int8
run $x out=$out/${m}_int8_qs.npy; layers" >"$out/${m}_int8.jsonl" 2>"$out/${m}_int8.err"; then
    echo "FAILED: $m int8: qscope: $(tail -1 "$out/${m}_int8.err")"
    status=1
    continue
  fi
  qp=$(output_qparams "$out/${m}_int8.jsonl")
  case $m in
    vit|swin) bound=(--min-top1=$GELU_MIN_TOP1 --max-rel=$GELU_MAX_REL) ;;
    *) bound=(--min-same=$INT8_MIN_SAME) ;;
  esac
  litert "$out/${m}_int8.tflite" "$x" "$out/${m}_int8_lr" "$m int8" &&
    compare "$out/${m}_int8_lr0.npy" "$out/${m}_int8_qs.npy" "$m int8" --step="${qp%,*}" "${bound[@]}"
  # io=int8: the codes the float-IO file quantizes its input to
  if node scripts/taps/litert_taps.mjs "$out/${m}_int8.tflite" "$x" "$out/${m}_taps.npz" \
       --channels-last >"$out/${m}_taps.log" 2>&1; then
    node -e '
      const { npzMember, npyWrite } = require(process.argv[1]);
      for (const k of ["x::quantized_nhwc", "x::quantized"]) {
        let a;
        try { a = npzMember(process.argv[2], k); } catch (e) { continue; }
        npyWrite(process.argv[3], a.dims, a.data);
        break;
      }' "$root/tests/peers/npy.cjs" "$out/${m}_taps.npz" "$out/${m}_xq.npy"
    litert "$out/${m}_int8_io.tflite" "$out/${m}_xq.npy" "$out/${m}_io_lr" "$m int8 io=int8" &&
      compare "$out/${m}_io_lr0.npy" "$out/${m}_int8_qs.npy" "$m int8 io=int8" \
        --dequant="$qp" --step="${qp%,*}" "${bound[@]}"
  else
    echo "FAILED: $m int8: LiteRT taps: $(tail -3 "$out/${m}_taps.log")"
    status=1
  fi
done
node "$here/litert_compare.mjs" --table="$table"
exit $status
