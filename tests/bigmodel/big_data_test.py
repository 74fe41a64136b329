#!/usr/bin/env python3
"""Data larger than the memory bound (issue 18): calibration and evaluation stream over an
IDX file whose float32 form would not fit the bound, reading it batch by batch.

Usage: big_data_test.py QSCOPE SOURCE_DIR WORKDIR [keep]

Python's standard library only. It writes into WORKDIR (the build tree) an IDX file of
REPEAT x 2000 MNIST test images (28x28 uint8; 342000 images, 268128016 bytes = 255.7 MiB,
1023 MiB as float32) and their labels, made by repeating models/data/mnist_test.npz, then
runs one qscope process:

  load models/mnist_mlp.qsm; data calib BIG LABELS scale=1/255; calibrate;
  mode int8-static; data eval BIG LABELS scale=1/255; eval; bench ...

and the same commands on the 2000-image .npz (read whole: the reference). The test asserts

  * the same figures, exactly: the int8 accuracy and every class's precision and recall are
    equal, and every support and confusion count is REPEAT times the reference's (min/max
    calibration sees the same values, evaluation the same images, REPEAT times over);
  * the process's peak resident memory (getrusage of the child, and bench's
    peak_rss_bytes) stays under BOUND = 96 MiB: the binary and its libraries (~13 MiB),
    OpenBLAS's buffers, a batch and the calibration's histograms fit; the file (256 MiB)
    does not, nor its float32 form (1 GiB), so a load that reads the file whole fails it.

The big files are deleted at the end (pass `keep` to keep them for measuring by hand)."""
import json
import os
import struct
import subprocess
import sys
import zipfile

from peak_rss import run_child

REPEAT = 171                 # 342000 images: 268128016 bytes of IDX
BOUND = 96 << 20
SCALE = "0.00392156886"      # the float32 nearest 1/255 (models/README.md)


def npy_payload(raw):
    """The data bytes of a .npy image (uint8 arrays here)."""
    assert raw[:6] == b"\x93NUMPY" and raw[6] == 1, "npy 1.0 expected"
    hl = struct.unpack("<H", raw[8:10])[0]
    assert "'|u1'" in raw[10:10 + hl].decode(), "uint8 expected"
    return raw[10 + hl:]


def write_idx(src_npz, images, labels):
    with zipfile.ZipFile(src_npz) as z:
        xs, ys = npy_payload(z.read("x.npy")), npy_payload(z.read("y.npy"))
    n = len(ys)
    assert len(xs) == n * 784, "28x28 images expected"
    for path, dims, payload in ((images, (n * REPEAT, 28, 28), xs),
                                (labels, (n * REPEAT,), ys)):
        with open(path + ".tmp", "wb") as f:
            f.write(bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims))
            for _ in range(REPEAT):
                f.write(payload)
        os.replace(path + ".tmp", path)
    return n


def run_results(qscope, script, work):
    """Runs qscope --json -c script (peak_rss.run_child); returns (its eval and calibrate
    results by command, its own peak RSS in bytes)."""
    stdout, peak = run_child(qscope, script, work, "data")
    results = {}
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            r = json.loads(line)
            results[r.get("cmd")] = r
    for cmd in ("eval", "calibrate"):
        if cmd not in results:
            sys.exit("FAIL: no %s result in:\n%s" % (cmd, stdout[-2000:]))
    return results, peak


def script(model, calib, evals, tail=""):
    return ("load %s; data calib %s scale=%s; calibrate; mode int8-static; "
            "data eval %s scale=%s; eval%s" % (model, calib, SCALE, evals, SCALE, tail))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    qscope, src, work = os.path.abspath(sys.argv[1]), sys.argv[2], sys.argv[3]
    keep = len(sys.argv) > 4 and sys.argv[4] == "keep"
    os.makedirs(work, exist_ok=True)
    npz = os.path.join(src, "models", "data", "mnist_test.npz")
    model = os.path.join(src, "models", "mnist_mlp.qsm")
    images = os.path.join(work, "big-images-idx3-ubyte")
    labels = os.path.join(work, "big-labels-idx1-ubyte")
    try:
        n = write_idx(npz, images, labels)
        size = os.path.getsize(images)
        ref, _ = run_results(qscope, script(model, npz, npz), work)
        pair = "%s %s" % (images, labels)
        got, peak = run_results(qscope, script(model, pair, pair,
                                             "; bench batch=64 repeat=1 warmup=0"), work)
        e, r = got["eval"], ref["eval"]
        if e["n"] != n * REPEAT or r["n"] != n:
            sys.exit("FAIL: eval n %d (expected %d), reference n %d" % (e["n"], n * REPEAT,
                                                                         r["n"]))
        if e["accuracy"] != r["accuracy"]:
            sys.exit("FAIL: accuracy %r, reference %r" % (e["accuracy"], r["accuracy"]))
        for a, b in zip(e["per_class"], r["per_class"]):
            if (a["precision"], a["recall"]) != (b["precision"], b["recall"]) or \
                    a["support"] != REPEAT * b["support"]:
                sys.exit("FAIL: class %d: %r, reference %r" % (a["class"], a, b))
        for a, b in zip(e["confusion"], r["confusion"]):
            if any(a[k] != REPEAT * b[k] for k in b if k != "true"):
                sys.exit("FAIL: confusion row %d: %r, reference %r" % (b["true"], a, b))
        bench = got.get("bench")
        if not bench or "peak_rss_bytes" not in bench:
            sys.exit("FAIL: no bench result with peak_rss_bytes")
        for what, v in (("peak RSS (getrusage)", peak),
                        ("bench peak_rss_bytes", bench["peak_rss_bytes"])):
            if v > BOUND:
                sys.exit("FAIL: %s %d bytes over the bound %d (file %d bytes, %d as float32)"
                         % (what, v, BOUND, size, (size - 16) * 4))
        print("ok: %d images (%d bytes of IDX, %.0f MiB as float32) calibrated and evaluated, "
              "figures exact; peak RSS %.1f MiB (bound %.0f MiB)"
              % (n * REPEAT, size, (size - 16) * 4 / 2**20, peak / 2**20, BOUND / 2**20))
    finally:
        if not keep:
            for p in (images, labels, os.path.join(work, "data_out.txt"),
                      os.path.join(work, "data_err.txt")):
                if os.path.exists(p):
                    os.remove(p)


if __name__ == "__main__":
    main()
