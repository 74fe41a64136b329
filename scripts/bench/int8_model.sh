#!/usr/bin/env bash
# Whole-model latency of each precision against FP32, measured in one run on this machine:
# the `bench` command (warm-up, 5 timed passes, median) on the bundled test split at batch
# 256, for mnist_cnn and mnist_dw. Prints ms per sample and the speed-up over FP32.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
q=build/qscope
[ -x "$q" ] || scripts/build.sh build
for model in mnist_cnn mnist_dw; do
  out=$($q --json -c "load models/$model.qsm; source scripts/train/mnist_data.qs
    calibrate n=500; set batch=256
    mode fp32; bench repeat=5; mode fp16; bench repeat=5
    mode int8-dyn; bench repeat=5; mode int8-static; bench repeat=5")
  echo "$out" | awk -v model="$model" -F'[:,]' '
    /"cmd":"bench"/ {
      for (i = 1; i <= NF; i++) {
        if ($i ~ /"precision"/) p = $(i + 1)
        if ($i ~ /"ms_per_sample"/) ms = $(i + 1)
      }
      gsub(/"/, "", p)
      if (p == "fp32") base = ms
      printf "%-10s %-12s %8.4f ms/sample  %5.2fx fp32\n", model, p, ms, base / ms
    }'
done
