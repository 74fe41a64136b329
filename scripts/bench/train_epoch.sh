#!/usr/bin/env bash
# Speed of float training against float inference on mnist_cnn, measured in one run:
# samples per second of one training epoch (7000 samples, batch 64) next to the inference
# rate (batch 256) and the ratio of the two. Needs a build (scripts/build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
q=build/qscope
[ -x "$q" ] || scripts/build.sh build
out=$($q --json -c 'load models/mnist_cnn.qsm; source scripts/train/mnist_data.qs;
  bench split=train repeat=3 batch=256; train epochs=1 batch=64 val=none seed=1')
/usr/bin/env python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")]
bench = next(r for r in rows if r["cmd"] == "bench")
train = next(r for r in rows if r["cmd"] == "train")
n_train = 7000
infer = bench["samples_per_s"]
tr = n_train / train["epochs"][0]["seconds"]
print(f"mnist_cnn, 1 thread: inference {infer:.0f} samples/s (batch 256), "
      f"training {tr:.0f} samples/s (batch 64, one epoch of {n_train})")
print(f"training costs {infer / tr:.2f}x inference per sample")
PY
