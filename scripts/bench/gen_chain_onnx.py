#!/usr/bin/env python3
"""Writes an ONNX model that is a chain of N Relu nodes on a (1, 4) input, for
scripts/bench/load_large.sh. Needs the onnx package (/usr/bin/python3 has it):
  gen_chain_onnx.py N OUT.onnx
"""
import sys

from onnx import TensorProto, helper

n, out = int(sys.argv[1]), sys.argv[2]
nodes = [helper.make_node("Relu", ["x" if i == 0 else "v%d" % (i - 1)], ["v%d" % i],
                          name="n%d" % i) for i in range(n)]
graph = helper.make_graph(nodes, "chain",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                          [helper.make_tensor_value_info("v%d" % (n - 1), TensorProto.FLOAT,
                                                         [1, 4])])
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
with open(out, "wb") as f:
    f.write(model.SerializeToString())
