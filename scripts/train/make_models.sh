#!/usr/bin/env bash
# Re-trains the bundled models with qscope's own `train` and saves them under models/.
# Usage: scripts/train/make_models.sh [mnist_mlp mnist_cnn mnist_dw falls deepsets det_balls ...]  (default: all)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
"$root/scripts/build.sh" "$root/build"
models=("$@")
[ ${#models[@]} -gt 0 ] || models=(mnist_mlp mnist_cnn mnist_dw falls deepsets det_balls)
for m in "${models[@]}"; do
  echo "== $m"
  build/qscope -c "source scripts/train/$m.qs; save models/$m.qsm"
done
