#!/usr/bin/env bash
# Cost of QAT against float training on mnist_cnn, measured in one run: one QAT epoch
# (7000 digits, batch 64, Adam, KL distillation from the FP32 teacher, moving-average
# ranges, then the fake-quantized and the real INT8 validation on the 2000 eval digits)
# against one float training epoch of the same model (same batch, optimizer and data, then
# its float validation on the same digits), and the ratio of the two. QAT runs first: it
# leaves the session's float model untouched, while train changes it. Needs a build
# (scripts/build.sh); run it on an otherwise idle machine.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
q=${QSCOPE:-build/qscope}
[ -x "$q" ] || scripts/build.sh build
out=$(OPENBLAS_NUM_THREADS=1 $q --json -c 'load models/mnist_cnn.qsm; source scripts/train/mnist_data.qs;
  calibrate n=500; mode int8-static;
  qat epochs=1 batch=64 seed=1;
  train epochs=1 batch=64 val=eval seed=1')
/usr/bin/env python3 - "$out" <<'PY'
import json, sys
rows = [json.loads(l) for l in sys.argv[1].splitlines() if l.startswith("{")]
qat = next(r for r in rows if r["cmd"] == "qat")
train = next(r for r in rows if r["cmd"] == "train")
tq = qat["epochs"][0]["seconds"]
tt = train["epochs"][0]["seconds"]
n = 7000
print(f"mnist_cnn, 1 thread, 7000 digits, batch 64, validation on 2000 included:")
print(f"  float training epoch {tt:.2f} s ({n / tt:.0f} samples/s)")
print(f"  QAT epoch            {tq:.2f} s ({n / tq:.0f} samples/s; fake {qat['epochs'][0]['fake_metric']:.4f}, "
      f"int8 {qat['epochs'][0]['int8_metric']:.4f})")
print(f"QAT costs {tq / tt:.2f}x float training per epoch")
PY
