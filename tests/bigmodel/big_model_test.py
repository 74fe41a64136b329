#!/usr/bin/env python3
"""The 1 GiB model (issue 18): a model whose weights are larger than anything qscope would
copy lightly loads from a memory-mapped file and runs within a stated memory bound.

Usage: big_model_test.py QSCOPE WORKDIR [keep]

Python's standard library only (no numpy, no torch). It writes into WORKDIR (the build
tree) a .qsm of one Dense layer, x[2, 16384] -> y[2, 16384], whose weight is 16384 x 16384
float32 (exactly 1 GiB), and an ONNX model (Gemm, transB=1) whose weight is ONNX external
data pointing at the same bytes inside the .qsm (location big.qsm, offset = the .qsm's data
section), so the two formats share one file. Each is loaded, benchmarked and run by a
separate qscope process; the test asserts

  * the outputs equal, exactly, a reference computed here by integer arithmetic: weights
    are k/16 for small integers k, inputs small integers, so every partial sum is a
    multiple of 1/16 below 2^15 and exact in float32 in any summation order;
  * the process's peak resident memory (getrusage of the child, and bench's
    peak_rss_bytes) stays under the bound: the file's size plus 200 MiB. The file's pages
    are resident once read (they count in RSS as file-backed pages); the 200 MiB cover the
    binary and its libraries (~25 MiB), OpenBLAS's buffers, the bench split (128 KiB) and
    the run's activations, and leave no room for a second copy of the weights (1 GiB), so
    a load that copies them, or a packed-weight cache of the big layer, fails the test;
  * bench reports the weights as mapped (mapped_weight_bytes = 1 GiB).

The big file is deleted at the end (pass `keep` to keep it for measuring by hand)."""
import array
import json
import os
import struct
import subprocess
import sys

from peak_rss import run_child

K = N = 16384           # 16384 * 16384 * 4 bytes = 1 GiB of weights
BATCH = 2
BOUND_EXTRA = 200 << 20


def weight_row(n):
    """Row n of the Dense weight [N, K] as integers (the weight is these / 16)."""
    return [((n * 7 + k * 13) % 17) - 8 for k in range(K)]


def bias(n):
    return ((n % 5) - 2) / 4.0


def x_value(s, k):
    return ((k * 3 + s * 5) % 7) - 3


def write_npy(path, shape, values):
    head = "{'descr': '<f4', 'fortran_order': False, 'shape': (%s), }" % (
        "".join("%d, " % d for d in shape))
    pad = 64 - (10 + len(head) + 1) % 64
    head = head + " " * pad + "\n"
    with open(path, "wb") as f:
        f.write(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(head)) + head.encode())
        array.array("f", values).tofile(f)


def read_npy(path):
    with open(path, "rb") as f:
        b = f.read()
    assert b[:6] == b"\x93NUMPY", path
    hl = struct.unpack("<H", b[8:10])[0]
    head = b[10:10 + hl].decode()
    assert "'<f4'" in head, head
    a = array.array("f")
    a.frombytes(b[10 + hl:])
    return a


def write_qsm(path):
    """The .qsm (docs/formats.md): header JSON padded to 64 bytes, then the weight rows
    (17 distinct rows, since row n depends on n % 17) and the bias. Returns the data
    section's offset in the file."""
    graph = {"inputs": [{"name": "x", "shape": [K]}], "outputs": ["fc"],
             "nodes": [{"name": "fc", "op": "Dense", "inputs": ["x", "fc.weight", "fc.bias"],
                        "output": "fc", "attrs": {}}],
             "params": ["fc.weight", "fc.bias"]}
    wbytes = N * K * 4
    header = {"__metadata__": {"format": "qsm", "qsm.version": "1",
                               "qsm.graph": json.dumps(graph, separators=(",", ":")),
                               "meta.task": "regress", "meta.name": "big1g"},
              "fc.weight": {"dtype": "F32", "shape": [N, K], "data_offsets": [0, wbytes]},
              "fc.bias": {"dtype": "F32", "shape": [N],
                          "data_offsets": [wbytes, wbytes + N * 4]}}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((-(8 + len(h))) % 64)
    rows = [array.array("f", [v / 16.0 for v in weight_row(r)]).tobytes() for r in range(17)]
    with open(path + ".tmp", "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for n in range(N):
            f.write(rows[n % 17])
        f.write(array.array("f", [bias(n) for n in range(N)]).tobytes())
    os.replace(path + ".tmp", path)
    return 8 + len(h)


# ---- a minimal protobuf writer for the ONNX twin ------------------------------------

def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field_bytes(num, payload):
    if isinstance(payload, str):
        payload = payload.encode()
    return varint(num << 3 | 2) + varint(len(payload)) + payload


def field_int(num, v):
    return varint(num << 3) + varint(v)


def onnx_value_info(name, dims):
    """ValueInfoProto: a float tensor, first dim symbolic ("batch")."""
    shape = b"".join(field_bytes(1, field_bytes(2, d) if isinstance(d, str)
                                 else field_int(1, d)) for d in dims)
    tensor_type = field_int(1, 1) + field_bytes(2, shape)
    return field_bytes(1, name) + field_bytes(2, field_bytes(1, tensor_type))


def onnx_external(name, dims, location, offset, length):
    """TensorProto of float with data_location EXTERNAL."""
    t = b"".join(field_int(1, d) for d in dims) + field_int(2, 1) + field_bytes(8, name)
    for k, v in (("location", location), ("offset", str(offset)), ("length", str(length))):
        t += field_bytes(13, field_bytes(1, k) + field_bytes(2, v))
    return t + field_int(14, 1)


def write_onnx(path, data_off):
    attr = field_bytes(1, "transB") + field_int(3, 1) + field_int(20, 2)  # INT
    node = (field_bytes(1, "x") + field_bytes(1, "W") + field_bytes(1, "B") +
            field_bytes(2, "y") + field_bytes(3, "fc") + field_bytes(4, "Gemm") +
            field_bytes(5, attr))
    wbytes = N * K * 4
    graph = (field_bytes(1, node) + field_bytes(2, "big1g") +
             field_bytes(5, onnx_external("W", [N, K], "big.qsm", data_off, wbytes)) +
             field_bytes(5, onnx_external("B", [N], "big.qsm", data_off + wbytes, N * 4)) +
             field_bytes(11, onnx_value_info("x", ["batch", K])) +
             field_bytes(12, onnx_value_info("y", ["batch", N])))
    opset = field_bytes(1, "") + field_int(2, 13)
    model = field_int(1, 8) + field_bytes(7, graph) + field_bytes(8, opset)
    with open(path, "wb") as f:
        f.write(model)


def reference():
    """y[s][n] = bias(n) + sum_k x[s][k] * W[n][k], grouped by n % 17 (W's rows repeat)."""
    out = []
    for s in range(BATCH):
        xs = [x_value(s, k) for k in range(K)]
        by_class = [sum(a * b for a, b in zip(xs, weight_row(r))) for r in range(17)]
        out.extend(bias(n) + by_class[n % 17] / 16.0 for n in range(N))
    return out


def bench_fields(stdout):
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{") and "peak_rss_bytes" in line:
            return json.loads(line)
    sys.exit("FAIL: no bench result with peak_rss_bytes in:\n" + stdout[-2000:])


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    qscope, work = os.path.abspath(sys.argv[1]), sys.argv[2]
    keep = len(sys.argv) > 3 and sys.argv[3] == "keep"
    os.makedirs(work, exist_ok=True)
    qsm, onnx = os.path.join(work, "big.qsm"), os.path.join(work, "big.onnx")
    xin, yout = os.path.join(work, "big_x.npy"), os.path.join(work, "big_y.npy")
    try:
        data_off = write_qsm(qsm)
        write_onnx(onnx, data_off)
        write_npy(xin, [BATCH, K], [x_value(s, k) for s in range(BATCH) for k in range(K)])
        ref = reference()
        bound = os.path.getsize(qsm) + BOUND_EXTRA
        for model in (qsm, onnx):
            if os.path.exists(yout):
                os.remove(yout)
            script = ("load %s; data eval %s; bench batch=2 repeat=1 warmup=0; run %s out=%s"
                      % (model, xin, xin, yout))
            stdout, peak = run_child(qscope, script, work, "big")
            fields = bench_fields(stdout)
            got = read_npy(yout)
            name = os.path.basename(model)
            if len(got) != len(ref):
                sys.exit("FAIL %s: %d outputs, expected %d" % (name, len(got), len(ref)))
            bad = [i for i in range(len(ref)) if got[i] != ref[i]]
            if bad:
                i = bad[0]
                sys.exit("FAIL %s: %d outputs differ; first [%d][%d] = %r, expected %r"
                         % (name, len(bad), i // N, i % N, got[i], ref[i]))
            if fields["mapped_weight_bytes"] < N * K * 4:
                sys.exit("FAIL %s: mapped_weight_bytes %d, expected the 1 GiB weight mapped"
                         % (name, fields["mapped_weight_bytes"]))
            for what, v in (("peak RSS (getrusage)", peak),
                            ("bench peak_rss_bytes", fields["peak_rss_bytes"])):
                if v > bound:
                    sys.exit("FAIL %s: %s %d bytes over the bound %d (file + 200 MiB)"
                             % (name, what, v, bound))
            print("ok %s: %d outputs exact, peak RSS %.1f MiB (bound %.1f MiB)"
                  % (name, len(ref), peak / 2**20, bound / 2**20))
    finally:
        if not keep:
            for p in (qsm, onnx, xin, yout, os.path.join(work, "big_out.txt"),
                      os.path.join(work, "big_err.txt")):
                if os.path.exists(p):
                    os.remove(p)


if __name__ == "__main__":
    main()
