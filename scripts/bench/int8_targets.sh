#!/usr/bin/env bash
# The integer executor's speed in each deployment target mode (`quant target=..`) against
# the default (qscope), measured in one run on this machine: the `bench` command (warm-up,
# 5 timed passes, median) at int8-static on the bundled test split at batch 256, for
# mnist_cnn, mnist_dw and det_balls. Prints ms per sample and the ratio to qscope's time
# (above 1: the target's arithmetic is slower).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
q=build/qscope
[ -x "$q" ] || scripts/build.sh build
for model in mnist_cnn mnist_dw det_balls; do
  if [ "$model" = det_balls ]; then
    setup="data calib synth:balls n=300 seed=5
    data eval synth:balls n=500 seed=7"
  else
    setup="source scripts/train/mnist_data.qs"
  fi
  cmds="load models/$model.qsm
    $setup
    calibrate n=300; set batch=256; mode int8-static"
  for t in qscope xnnpack tflm ort; do
    cmds="$cmds
    quant target=$t; bench repeat=5"
  done
  out=$($q --json -c "$cmds")
  echo "$out" | awk -v model="$model" -F'[:,]' '
    /"cmd":"bench"/ {
      for (i = 1; i <= NF; i++) {
        if ($i ~ /"target"/) t = $(i + 1)
        if ($i ~ /"ms_per_sample"/) ms = $(i + 1)
      }
      gsub(/"/, "", t)
      if (t == "qscope") base = ms
      printf "%-10s %-8s %8.4f ms/sample  %5.2fx qscope\n", model, t, ms, ms / base
    }'
done
