#!/usr/bin/env python3
"""Writes the small model files of the hostile-text cases (issue 14, findings 4 and 5, and
the CI fuzz stage's shape overflow): ONNX files with names that are not UTF-8 or hold escape
sequences, Slice steps and folded additions at the int64 limits, shapes whose element count
does not fit in int64 (an input, a Reshape target, a broadcast of empty constants), and .qsm
files whose names carry control characters or an escaped NUL through JSON escapes, or whose
input's element count does not fit. The protobuf bytes are written by hand (no onnx package),
since the onnx package refuses to write such names. Run from this folder:
    python3 make_text_cases.py
"""
import json
import os
import struct

INT64_MAX = 2**63 - 1


def varint(v):
    v &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def field(num, wire, payload):
    tag = varint(num << 3 | wire)
    if wire == 0:
        return tag + varint(payload)
    return tag + varint(len(payload)) + payload


def s(num, text):
    return field(num, 2, text if isinstance(text, bytes) else text.encode())


def node(op, name, ins, out):
    body = b"".join(s(1, i) for i in ins) + s(2, out) + s(3, name) + s(4, op)
    return field(1, 2, body)


def value_info(name, cols):
    cols = cols if isinstance(cols, list) else [cols]
    dims = field(1, 2, s(2, "N")) + b"".join(field(1, 2, field(1, 0, c)) for c in cols)
    tensor_type = field(1, 0, 1) + field(2, 2, dims)
    return s(1, name) + field(2, 2, field(1, 2, tensor_type))


def init_i64(name, values):
    body = field(1, 2, b"".join(varint(len(values)) for _ in [0])) + field(2, 0, 7)
    body += s(8, name) + field(9, 2, b"".join(struct.pack("<q", v) for v in values))
    return field(5, 2, body)


def init_empty_i64(name, dims):
    body = b"".join(field(1, 0, d) for d in dims) + field(2, 0, 7) + s(8, name)
    return field(5, 2, body)


def model(graph, x="x", y="y", ycols=4, xcols=4):
    graph += field(11, 2, value_info(x, xcols)) + field(12, 2, value_info(y, ycols))
    opset = field(8, 2, s(1, "") + field(2, 0, 13))
    return field(1, 0, 8) + s(2, "hostile") + field(7, 2, graph) + opset


def write(case, name, data):
    os.makedirs(case, exist_ok=True)
    with open(os.path.join(case, name), "wb") as f:
        f.write(data)


def qsm(node_name, sample=(4,)):
    graph = {"inputs": [{"name": "x", "shape": list(sample)}],
             "nodes": [{"name": "NODE", "op": "Relu", "inputs": ["x"], "output": "y",
                        "attrs": {}}],
             "outputs": ["y"], "params": []}
    text = json.dumps(graph, separators=(",", ":")).replace("NODE", node_name)
    header = json.dumps({"__metadata__": {"format": "qsm", "qsm.version": "1",
                                          "qsm.graph": text}}, separators=(",", ":"))
    raw = header.encode()
    return struct.pack("<Q", len(raw)) + raw


relu = lambda name, x="x", y="y": model(node("Relu", name, [x], y), x, y)
write("onnx_name_not_utf8", "m.onnx", relu(b"r\xffelu"))
write("onnx_name_escape", "m.onnx", relu("relu", y="y\x1b[2J"))
calc = init_i64("a", [INT64_MAX]) + init_i64("b", [1])
calc += node("Add", "calc", ["a", "b"], "s") + node("Reshape", "reshape", ["x", "s"], "y")
write("onnx_fold_overflow", "m.onnx", model(calc))
sl = init_i64("k", [10, 11, 12, 13, 14]) + init_i64("st", [1]) + init_i64("en", [5])
sl += init_i64("ax", [0]) + init_i64("sp", [INT64_MAX])
sl += node("Slice", "slice", ["k", "st", "en", "ax", "sp"], "ks")
sl += node("Add", "add", ["x", "ks"], "y")
write("onnx_slice_step_max", "m.onnx", model(sl))
# found by the CI's fuzz stage: a shape whose element count does not fit in int64
rs = init_i64("s", [2887828657164, 469762050]) + node("Reshape", "reshape", ["x", "s"], "y")
write("onnx_reshape_numel_overflow", "m.onnx", model(rs))
# two empty constants whose broadcast has non-zero dims that do not fit
em = init_empty_i64("a", [2887828657164, 1, 0]) + init_empty_i64("b", [1, 469762050, 0])
em += node("Add", "add", ["a", "b"], "e") + node("Reshape", "reshape", ["x", "e"], "y")
write("onnx_empty_broadcast_overflow", "m.onnx", model(em))
# found by the CI's fuzz stage: every input dim below 2^31, their product beyond int64
big = [2147483647, 2147483647, 2147483647]
write("onnx_input_numel_overflow", "m.onnx", model(node("Relu", "relu", ["x"], "y"), xcols=big))
# one backslash: the graph's JSON holds the escape, the header escapes that backslash
write("qsm_name_escape", "m.qsm", qsm("r\\u001b[2J"))
write("qsm_name_nul", "m.qsm", qsm("re\\u0000lu"))
write("qsm_input_numel_overflow", "m.qsm", qsm("relu", big))
