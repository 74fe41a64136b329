#!/usr/bin/python3
"""The table of scripts/bench/engine_vs_ort.sh: reads its measurements (one a line:
KIND MODEL THREADS BATCH VALUE; times in milliseconds per batch, memory in KB), keeps the
best (smallest) time of the rounds, and prints every ratio beside issue 17's target.

    engine_vs_ort_table.py RESULTS DIR "MODELS" ORT_VERSION ROUNDS SECONDS

DIR holds each model's outputs on the timed batch (NAME_out_{q_fp32,q_int8}.npy from
qscope, NAME_out_{o_fp32,o_qdq}_0.npy from ORT), compared first.
"""
import os
import sys

import numpy as np
from collections import defaultdict

# (numerator, denominator, what, target); issue 17 sets no target for the OpenBLAS backend
# (the user's choice of speed over machine-independent sums): its row is shown, not judged
TIME_ROWS = [
    ("q_fp32", "o_fp32", "FP32 / ORT FP32", 1.0),
    ("q_fp32-openblas", "o_fp32", "FP32 blas=openblas / ORT FP32", None),
    ("q_int8", "o_fp32", "INT8 / ORT FP32", 0.67),
    ("q_int8", "o_qdq", "INT8 / ORT QDQ", 1.0),
]


def cpu_flags():
    want = ["sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
            "avx512_vnni", "avx_vnni", "avx512_bf16", "amx_tile"]
    with open("/proc/cpuinfo") as f:
        info = f.read().splitlines()
    flags = next((l.split(":", 1)[1].split() for l in info if l.startswith("flags")), [])
    model = next((l.split(":", 1)[1].strip() for l in info if l.startswith("model name")), "?")
    return model, [w for w in want if w in flags]


def agreement(d, models):
    print("outputs on the 64 timed inputs, qscope against ONNX Runtime")
    print(f"{'model':<12} {'FP32 max|diff|':>14} {'max|ORT|':>9} {'top-1 same':>10}   "
          f"{'INT8 vs QDQ max|diff|':>21} {'top-1 same':>10}")
    for m in models:
        try:
            o = {k: np.load(os.path.join(d, f"{m}_out_{k}.npy"))
                 for k in ("q_fp32", "o_fp32_0", "q_int8", "o_qdq_0")}
        except OSError:
            continue
        f, i = (o["q_fp32"], o["o_fp32_0"]), (o["q_int8"], o["o_qdq_0"])
        top = [100 * np.mean(a.argmax(1) == b.argmax(1)) for a, b in (f, i)]
        print(f"{m:<12} {np.abs(f[0] - f[1]).max():>14.3g} {np.abs(f[1]).max():>9.3g} "
              f"{top[0]:>9.1f}%   {np.abs(i[0] - i[1]).max():>21.3g} {top[1]:>9.1f}%")
    print()


def main(path, d, models, ort_version, rounds, seconds):
    agreement(d, models)
    best = defaultdict(lambda: None)
    with open(path) as f:
        for line in f:
            kind, model, thr, batch, value = line.split()
            key, v = (kind, model, int(thr), int(batch)), float(value)
            old = best[key]
            if kind.startswith("mem_"):
                best[key] = v if old is None else max(old, v)
            else:
                best[key] = v if old is None else min(old, v)
    misses, judged = [], 0

    def verdict(ratio, target, label):
        nonlocal judged
        if target is None:
            return "-"
        judged += 1
        ok = ratio <= target
        if not ok:
            misses.append(label)
        return "yes" if ok else "NO"

    print(f"ONNX Runtime {ort_version} (onnxruntime-node, graph optimization 'all'); "
          f"times per batch in ms, best of {rounds} rounds of medians")
    print(f"{'model':<12} {'thr':>3} {'batch':>5}  {'ratio':<30} {'qscope':>9} "
          f"{'other':>9} {'ratio':>7} {'target':>7} {'met':>4}")
    for m in models:
        for thr in (1, 2):
            for batch in (1, 64):
                for num, den, what, target in TIME_ROWS:
                    a, b = best[(num, m, thr, batch)], best[(den, m, thr, batch)]
                    if a is None or b is None:
                        continue
                    r = a / b
                    ok = verdict(r, target, f"{m} t{thr} b{batch} {what}")
                    shown = "-" if target is None else f"{target:.2f}x"
                    print(f"{m:<12} {thr:>3} {batch:>5}  {what:<30} {a:>9.3f} {b:>9.3f} "
                          f"{r:>6.2f}x {shown:>7} {ok:>4}")
    print()
    print("calibration (2048 MNIST or 256 64x64 samples, batch 64, 1 thread; ms less the "
          "load) and one QAT epoch (batch 64, 1 thread; ms)")
    print(f"{'model':<12} {'ratio':<34} {'qscope':>9} {'other':>9} {'ratio':>7} "
          f"{'target':>7} {'met':>4}")
    for m in models:
        for num, den, what, target in [
                ("cal_q", "cal_fp32", "calibrate / qscope FP32 pass", 1.5),
                ("qat_q", "qat_torch", "QAT epoch / PyTorch 1.13", 0.5)]:
            a, b = best[(num, m, 1, 64)], best[(den, m, 1, 64)]
            if a is None or b is None:
                continue
            r = a / b
            ok = verdict(r, target, f"{m} {what}")
            print(f"{m:<12} {what:<34} {a:>9.1f} {b:>9.1f} {r:>6.2f}x {target:>6.2f}x {ok:>4}")
    print()
    bq, bo = best[("mem_base_q", "-", 1, 0)], best[("mem_base_o", "-", 1, 0)]
    print(f"peak memory, max RSS in MB, batch 64, 1 thread; ratios of the figures less an "
          f"idle process's (qscope -c set: {bq / 1024:.0f}, node -e '': {bo / 1024:.0f})")
    print(f"{'model':<12} {'qscope FP32':>12} {'ORT FP32':>9} {'ratio':>6} "
          f"{'qscope INT8':>12} {'ORT QDQ':>8} {'ratio':>6}")
    for m in models:
        v = [best[(k, m, 1, 64)] for k in ("mem_q_fp32", "mem_o_fp32", "mem_q_int8", "mem_o_qdq")]
        if None in v:
            continue
        r = [(v[0] - bq) / (v[1] - bo), (v[2] - bq) / (v[3] - bo)]
        print(f"{m:<12} {v[0] / 1024:>12.0f} {v[1] / 1024:>9.0f} {r[0]:>5.2f}x "
              f"{v[2] / 1024:>12.0f} {v[3] / 1024:>8.0f} {r[1]:>5.2f}x")
    print()
    model, flags = cpu_flags()
    print(f"CPU: {model}; flags: {' '.join(flags)}")
    print(f"targets met: {judged - len(misses)} of {judged}; "
          f"run took {seconds} s")


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2], sys.argv[3].split(), *sys.argv[4:])
