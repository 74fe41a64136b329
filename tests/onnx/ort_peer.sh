#!/usr/bin/env bash
# ONNX Runtime as a peer: qscope exports every bundled model (models/*.qsm, calibrated on
# 500 samples of its calib split) as QDQ int8, fp16 and fp32 ONNX; ONNX Runtime for Node.js
# (graph optimisation 'all') runs each on the model's test inputs (the 2000 bundled test
# digits; 500 seeded synth:deepsets, synth:falls and synth:balls samples written by
# qs_synth_npz); tests/onnx/run_ort.js compares its outputs with qscope's own engine on
# the same inputs. Every int8 plan runs with `quant target=ort`: qscope's integer engine
# then computes ONNX Runtime's arithmetic (docs/quantization.md, Targets), including the
# groups ONNX Runtime leaves unfused (det_balls' conv3 and conv4, whose neighbour relu3
# feeds two nodes and so stays int8 where its fused kernels want uint8: float Conv between
# DequantizeLinear and QuantizeLinear, in MLAS's summation order) and deepsets' MatMul
# (MatMulIntegerToFloat and a float bias Add).
#   int8-static: 100 % of output elements identical (the same int8 code), top-1 100 %, on
#                every model (with target=qscope: rounding ties differ);
#   fp16:        top-1 >= 99.5 %, >= 99 % within 0.01 (half rounding of logits ~ +-20 is
#                0.0156, so sums in another order may differ by one half ulp);
#   fp32:        top-1 100 %, every element within 1e-4 (float sums in another order).
# Then mixed plans (calibrated on 300 samples): fp16 pins between int8 layers and int8 pins
# between fp16 layers, on mnist_cnn, mnist_dw and det_balls (a value read by an fp16 and an
# int8 layer at once; a Resize and a Concat at the borders), the full-int8 det_balls plan
# beside them (100 % identical required). Every plan ends in an int8 layer, so one step is
# the output's quantization scale (its `layers` row). Required for the mixed ones: >= 99.9 %
# of output elements within one step, top-1 >= 99.5 %. Why not 100 %: fp16 layers round in
# ONNX Runtime's own order, and a float layer next to an int8 one changes what ONNX Runtime
# fuses in ways target=ort does not model (a float Gemm/MatMul, a float Add or pool between
# DequantizeLinear and QuantizeLinear). Such a flip moves an output by about one step, and a
# flip in an inner layer occasionally by two or more.
# Usage: ort_peer.sh QSCOPE BUILD_DIR. Exit 77 (skipped) when node/npm or the
# onnxruntime-node package cannot be had; it is installed into BUILD_DIR/npm, never into
# the source tree.
set -euo pipefail
qscope=$1
build=$(cd "$2" && pwd)
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
. "$root/tests/onnx/ort_env.sh"
out="$build/ort_peer"
mkdir -p "$out"
data=models/data/mnist_test.npz
scale=0.00392156886
synth="$build/tests/qs_synth_npz"
status=0

# The output step of a plan's last `layers` listing in a --json log.
output_step() {
  node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n");
    const j = lines.map((l) => JSON.parse(l)).filter((o) => o.cmd === "layers").pop();
    console.log(j.layers[j.layers.length - 1].scale);' "$1"
}

# model_io MODEL: sets calib (qscope commands that set the calib split), qsin (`run`'s input
# and options) and ortin (run_ort.js's inputs and options) for the model's test inputs.
model_io() {
  case $1 in
    mnist_*) calib="source scripts/train/mnist_data.qs"
      qsin="$data scale=$scale" ortin=("$data:x" --scale=$scale --shape=1,28,28) ;;
    deepsets) "$synth" deepsets 22 500 "$out/deepsets.npz" peers,ego
      calib="data calib synth:deepsets n=500 seed=21"
      qsin=$out/deepsets.npz ortin=("$out/deepsets.npz:peers" "$out/deepsets.npz:ego") ;;
    falls) "$synth" falls 3 500 "$out/falls.npz" x
      calib="data calib synth:falls n=500 seed=2"
      qsin=$out/falls.npz ortin=("$out/falls.npz:x") ;;
    det_balls) "$synth" balls 2 500 "$out/det_balls.npz" x
      calib="data calib synth:balls n=500 seed=3"
      qsin=$out/det_balls.npz ortin=("$out/det_balls.npz:x") ;;
    *) echo "ort_peer.sh: no inputs known for $1" >&2; exit 2 ;;
  esac
}

for qsm in models/*.qsm; do
  m=$(basename "$qsm" .qsm)
  model_io "$m"
  cat >"$out/$m.qs" <<EOF
load models/$m.qsm
$calib
quant target=ort
mode int8-static
calibrate n=500
variant save ptq
export $out/${m}_int8.onnx variant=ptq
run $qsin out=$out/${m}_int8_qscope.npy
layers
mode fp16
export $out/${m}_fp16.onnx
run $qsin out=$out/${m}_fp16_qscope.npy
mode fp32
export $out/${m}_fp32.onnx
run $qsin out=$out/${m}_fp32_qscope.npy
EOF
  "$qscope" --json --batch "$out/$m.qs" >"$out/$m.jsonl"
  step=$(output_step "$out/$m.jsonl")
  for prec in int8 fp16 fp32; do
    node tests/onnx/run_ort.js run "$out/${m}_$prec.onnx" "$out/${m}_${prec}_ort" "${ortin[@]}"
    case $prec in
      int8) args=(--step="$step" --min-top1=100 --min-within=100 --min-identical=100) ;;
      fp16) args=(--step=0.01 --min-top1=99.5 --min-within=99) ;;
      fp32) args=(--step=1e-4 --min-top1=100 --min-within=100) ;;
    esac
    printf '%s %s: ' "$m" "$prec"
    node tests/onnx/run_ort.js compare "$out/${m}_${prec}_ort0.npy" \
      "$out/${m}_${prec}_qscope.npy" "${args[@]}" || { echo "FAILED: $m $prec"; status=1; }
  done
done

# mixed NAME MODEL PLAN: PLAN is commands separated by ';'.
mixed() {
  local name=$1 model=$2 plan=$3 setup input qsargs ortargs
  if [ "$model" = det_balls ]; then
    setup="data calib synth:balls n=300 seed=5"
    input=$out/balls.npy qsargs="" ortargs=()
  else
    setup="source scripts/train/mnist_data.qs"
    input=$data qsargs="scale=$scale" ortargs=(--scale=$scale --shape=1,28,28)
  fi
  { echo "load models/$model.qsm"; echo "$setup"; echo "calibrate n=300"; echo "quant target=ort"
    echo "$plan" | tr ';' '\n'
    echo "layers"; echo "export $out/$name.onnx"
    echo "run $input $qsargs out=$out/${name}_qscope.npy"; } >"$out/$name.qs"
  "$qscope" --json --batch "$out/$name.qs" >"$out/$name.jsonl"
  local step
  step=$(output_step "$out/$name.jsonl")
  local ortin=$input
  [ "$model" = det_balls ] || ortin="$data:x"
  node tests/onnx/run_ort.js run "$out/$name.onnx" "$out/${name}_ort" "$ortin" "${ortargs[@]}"
  printf '%s: ' "$name"
  local ident=0
  [ "$name" = det_int8 ] && ident=100
  node tests/onnx/run_ort.js compare "$out/${name}_ort0.npy" "$out/${name}_qscope.npy" \
    --step="$step" --min-top1=99.5 --min-within=99.9 --min-identical=$ident ||
    { echo "FAILED: $name"; status=1; }
}

# 500 seeded ball images (det_balls' inputs; qscope generates synth:balls in memory only)
node tests/onnx/run_ort.js balls "$out/balls.npy" 500 7
mixed cnn_int8_conv2_fc1_fp16 mnist_cnn "mode int8-static;prec conv2 fp16;prec fc1 fp16"
mixed cnn_fp16_conv2_fc2_int8 mnist_cnn "mode fp16;prec conv2 int8-static;prec fc2 int8-static"
mixed dw_int8_pw1_gap_fp16 mnist_dw "mode int8-static;prec pw1 fp16;prec gap fp16"
mixed dw_fp16_dw2_gap_fc_int8 mnist_dw \
  "mode fp16;prec dw2 int8-static;prec gap int8-static;prec fc int8-static"
mixed det_int8 det_balls "mode int8-static"
mixed det_int8_conv3_fp32_conv4_up_fp16 det_balls \
  "mode int8-static;prec conv3 fp32;prec conv4 fp16;prec up fp16"
mixed det_fp16_conv4_skip_heat_int8 det_balls \
  "mode fp16;prec conv4 int8-static;prec skip int8-static;prec heat int8-static"
exit $status
