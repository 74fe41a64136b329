#!/usr/bin/env bash
# Issue 17's targets, measured side by side in one run (scripts/bench/README.md): qscope
# against ONNX Runtime (onnxruntime-node, graph optimization 'all') and PyTorch 1.13 on the
# four models of scripts/fixtures/gen_bench_models.py (LeNet, a depthwise-separable MNIST
# net, ResNet18 and MobileNetV2 at 3x64x64), written into BUILD_DIR/bench_models.
#
#   - time per batch (batch 1 and 64, 1 and 2 threads): qscope FP32 / ORT FP32, qscope INT8
#     static / ORT FP32 and / ORT on qscope's QDQ export of the same plan; every
#     measurement is the median of its passes (warm-up excluded), best of ROUNDS rounds in
#     which qscope and ORT alternate;
#   - calibration (statistics with histograms; 2048 samples for the MNIST nets, 256 for
#     the others; batch 64) / a plain FP32 pass over the same samples, 1 thread, best of
#     ROUNDS; both as wall time of a qscope process less that of one that only loads;
#   - one QAT epoch / PyTorch's (scripts/bench/qat_torch.py), 1 thread, batch 64;
#   - peak resident memory (max RSS) of the qscope and the ORT process at batch 64.
# Then a table with every ratio and its target, and the CPU's flags; before it, how far
# qscope's outputs on the 64 timed inputs are from ORT's (FP32: max abs difference; INT8
# against ORT on the QDQ export: top-1 agreement), so that both sides run the same model.
#
# Usage: scripts/bench/engine_vs_ort.sh [BUILD_DIR=build]
# Environment: ROUNDS (3), MODELS ("lenet dwnet resnet18 mobilenetv2"), QAT_MNIST (1024)
# and QAT_IMG (256): QAT training samples for the MNIST and the 64x64 models.
# Exit 77 (skipped) when /usr/bin/python3 has no torch/torchvision or node/npm are missing.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
build=${1:-build}
rounds=${ROUNDS:-3}
models=${MODELS:-lenet dwnet resnet18 mobilenetv2}
qat_mnist=${QAT_MNIST:-1024}
qat_img=${QAT_IMG:-256}
py=/usr/bin/python3
skip() { echo "engine_vs_ort: skipped: $*" >&2; exit 77; }
[ -x $py ] && $py -c 'import torch, torchvision' 2>/dev/null ||
  skip "$py with torch and torchvision is needed (scripts/setup.sh --bench installs them)"
command -v node >/dev/null && command -v npm >/dev/null || skip "node and npm are needed"
[ -x /usr/bin/time ] || skip "/usr/bin/time is needed for peak memory (scripts/setup.sh --bench installs it)"
q=$build/qscope
[ -x "$q" ] || scripts/build.sh "$build"
mods="$build/npm/node_modules"
[ -d "$mods/onnxruntime-node" ] ||
  npm install --prefix "$build/npm" --ignore-scripts --no-audit --no-fund onnxruntime-node \
    >/dev/null
export ORT_NODE_MODULES=$mods
dir=$build/bench_models
[ -f "$dir/manifest.json" ] || $py scripts/fixtures/gen_bench_models.py "$dir" 2>/dev/null
res=$dir/results.txt # one measurement a line: KIND MODEL THREADS BATCH VALUE
: > "$res"
t_start=$(date +%s)

openblas=0
"$q" -c "set blas=openblas" >/dev/null 2>&1 && openblas=1
# calibration samples: the MNIST nets' pass over 256 would last a few ms
cal_n() { case $1 in lenet|dwnet) echo 2048 ;; *) echo 256 ;; esac; }
data_of() { case $1 in lenet|dwnet) echo mnist ;; *) echo img64 ;; esac; }
train_of() {
  case $1 in lenet|dwnet) echo "$dir/mnist_train.npz" ;; *) echo "$dir/$1_train.npz" ;; esac
}
max_rss() { { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -n 1; } # KB
ms_now() { echo $(($(date +%s%N) / 1000000)); }
# per batch: passes and warm-up (batch 1 passes take well under a millisecond on MNIST nets)
repeat_of() { [ "$1" = 1 ] && echo 21 || echo 5; }
warm_of() { [ "$1" = 1 ] && echo 3 || echo 1; }

# qscope's bench JSON lines -> "KIND MODEL THREADS BATCH MS_PER_BATCH", KIND from precision
# and the blas setting in force (tagged by an echo line before each group)
q_rows() {
  node -e '
    let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      let tag = "", thr = 1;
      for (const l of s.trim().split("\n")) {
        const o = JSON.parse(l);
        if (o.cmd === "echo") [tag, thr] = o.text[0].split(" ");
        if (o.cmd === "bench")
          console.log(`q_${tag} ${process.argv[1]} ${thr} ${o.batch} ` +
                      `${o.ms_per_sample * o.samples}`);
      } });' "$1"
}

prepare() { # calibrate, export the QDQ file, save the INT8 plan as a variant
  local m=$1 f
  f=$(train_of "$m")
  "$q" -c "load $dir/$m.onnx; data calib $f n=256; set batch=64; calibrate observer=entropy
    mode int8-static; variant save ptq; export $dir/${m}_int8.onnx variant=ptq
    save $dir/${m}_int8.qsm variant=ptq" >/dev/null
}

outputs() { # both runtimes' outputs on the batch, FP32 and INT8, for the table's check
  local m=$1 x
  x=$dir/$(data_of "$m")_batch64.npy
  "$q" -c "load $dir/$m.onnx; run $x out=$dir/${m}_out_q_fp32.npy
    load $dir/${m}_int8.qsm; run $x out=$dir/${m}_out_q_int8.npy" >/dev/null
  node tests/onnx/run_ort.js run "$dir/$m.onnx" "$dir/${m}_out_o_fp32_" "$x"
  node tests/onnx/run_ort.js run "$dir/${m}_int8.onnx" "$dir/${m}_out_o_qdq_" "$x"
}

q_round() { # every qscope timing of one model: INT8 from the saved plan, then FP32
  local m=$1 x cmds="" t b
  x=$dir/$(data_of "$m")_batch64.npy
  cmds="load $dir/${m}_int8.qsm; data eval $x"
  for prec in int8 fp32 fp32-openblas; do
    [ $prec = fp32-openblas ] && [ $openblas = 0 ] && continue
    [ $prec = fp32 ] && cmds="$cmds; mode fp32"
    [ $prec = fp32-openblas ] && cmds="$cmds; set blas=openblas"
    for t in 1 2; do
      cmds="$cmds; set threads=$t; echo '$prec $t'"
      for b in 64 1; do
        cmds="$cmds; bench n=$b batch=$b repeat=$(repeat_of $b) warmup=$(warm_of $b)"
      done
    done
  done
  "$q" --json -c "$cmds" | q_rows "$m" >> "$res"
}

o_round() { # every ORT timing of one model
  local m=$1 x t b kind file
  x=$dir/$(data_of "$m")_batch64.npy
  for kind in fp32 qdq; do
    file=$dir/$m.onnx
    [ $kind = qdq ] && file=$dir/${m}_int8.onnx
    for t in 1 2; do
      for b in 64 1; do
        node tests/onnx/run_ort.js bench "$file" "$x" --n=$b --threads=$t \
          --repeat="$(repeat_of $b)" --warmup="$(warm_of $b)" |
          node -e 'let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
            const j = JSON.parse(s), a = process.argv.slice(1);
            console.log(`o_${a[0]} ${a[1]} ${a[2]} ${a[3]} ${j.median_ms}`);
            if (a[2] === "1" && a[3] === "64")
              console.log(`mem_o_${a[0]} ${a[1]} 1 64 ${j.max_rss_kb}`);
          });' "$kind" "$m" "$t" "$b" >> "$res"
      done
    done
  done
}

cal_round() { # calibration against a plain FP32 pass, both less the load: wall times
  local m=$1 f n base t0 t1 t2 t3
  f=$(train_of "$m")
  n=$(cal_n "$m")
  base="load $dir/$m.onnx; data calib $f n=$n; set threads=1"
  t0=$(ms_now); "$q" -c "$base" >/dev/null
  t1=$(ms_now); "$q" -c "$base; calibrate batch=64 observer=entropy" >/dev/null
  t2=$(ms_now); "$q" -c "$base; bench split=calib n=$n batch=64 repeat=1 warmup=0" >/dev/null
  t3=$(ms_now)
  echo "cal_q $m 1 64 $((t2 - t1 - (t1 - t0)))" >> "$res"
  echo "cal_fp32 $m 1 64 $((t3 - t2 - (t1 - t0)))" >> "$res"
}

memory() { # max RSS of qscope at batch 64, FP32 and INT8 (the ORT side comes from o_round)
  local m=$1 x kb
  x=$dir/$(data_of "$m")_batch64.npy
  for kind in fp32 int8; do
    file=$dir/$m.onnx
    [ $kind = int8 ] && file=$dir/${m}_int8.qsm
    kb=$(max_rss "$q" -c "load $file; data eval $x; set threads=1
      bench n=64 batch=64 repeat=5 warmup=1")
    echo "mem_q_$kind $m 1 64 $kb" >> "$res"
  done
}

qat() { # one QAT epoch in qscope and in PyTorch, 1 thread
  local m=$1 f n s
  f=$(train_of "$m")
  n=$qat_img
  [ "$(data_of "$m")" = mnist ] && n=$qat_mnist
  s=$("$q" --json -c "load $dir/$m.onnx; data train $f n=$n; data calib $f n=64
    set threads=1; calibrate batch=64 observer=entropy; mode int8-static
    qat epochs=1 batch=64 seed=1" |
    node -e 'let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
      const o = s.trim().split("\n").map(JSON.parse).find((r) => r.cmd === "qat");
      console.log(o.epochs[0].seconds * 1000); });')
  echo "qat_q $m 1 64 $s" >> "$res"
  s=$(OMP_NUM_THREADS=1 $py -W ignore scripts/bench/qat_torch.py "$dir" "$m" "$n" 64 64 1 |
      node -e 'let s = ""; process.stdin.on("data", (d) => s += d).on("end", () => {
        console.log(JSON.parse(s).seconds * 1000); });')
  echo "qat_torch $m 1 64 $s" >> "$res"
}

for m in $models; do
  echo "engine_vs_ort: $m ($(($(date +%s) - t_start)) s)" >&2
  prepare "$m"
  outputs "$m"
  for r in $(seq "$rounds"); do
    q_round "$m"
    o_round "$m"
    cal_round "$m"
  done
  memory "$m"
  qat "$m"
done
echo "mem_base_q - 1 0 $(max_rss "$q" -c set)" >> "$res"
echo "mem_base_o - 1 0 $(max_rss node -e '')" >> "$res"
ort_version=$(node -e "console.log(require('$root/$mods/onnxruntime-node/package.json').version)")
$py scripts/bench/engine_vs_ort_table.py "$res" "$dir" "$models" "$ort_version" "$rounds" \
  "$(($(date +%s) - t_start))"
