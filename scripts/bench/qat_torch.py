#!/usr/bin/python3
"""One QAT epoch in PyTorch 1.13, the same work as qscope's `qat epochs=1` on a bench model
(scripts/fixtures/gen_bench_models.py), for scripts/bench/engine_vs_ort.sh.

    /usr/bin/python3 scripts/bench/qat_torch.py DIR NAME N_TRAIN N_VAL BATCH THREADS

The model is rebuilt from DIR/NAME.pt, BatchNorm folded into the convs as in the ONNX file
qscope loads (torch's fuse_fx in eval mode), then prepared for QAT by FX graph mode with
the default x86 QAT qconfig (per-channel weight and per-tensor activation fake-quantizers,
moving-average ranges), as qscope fake-quantizes every int8 unit's weights and activations.
The epoch, timed as qscope's `epochs.seconds`: the first N_TRAIN samples of the model's
training set in shuffled batches of BATCH, Adam lr 1e-4, loss 0.5 cross-entropy + 0.5 KL
distillation (T = 4, scaled by T^2) from the float model (qscope's defaults); then the
fake-quantized model scored on the first N_VAL samples (qscope also scores the real INT8
model there, which this side cannot: Debian's torch has no FBGEMM). Prints one JSON line.
"""
import copy
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.ao.quantization import get_default_qat_qconfig_mapping
from torch.ao.quantization.quantize_fx import prepare_qat_fx
from torch.nn.utils.fusion import fuse_conv_bn_eval

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures"))
import gen_bench_models as gbm  # noqa: E402

T, ALPHA, LR = 4.0, 0.5, 1e-4


def fold_bn(model):
    """A copy of the eval-mode model traced, each Conv2d -> BatchNorm2d pair folded into
    one conv (what torch's ONNX export does)."""
    g = torch.fx.symbolic_trace(model)
    mods = dict(g.named_modules())
    for node in list(g.graph.nodes):
        conv = node.args[0] if node.op == "call_module" and node.args else None
        if (not isinstance(mods.get(node.target), torch.nn.BatchNorm2d) or conv is None
                or conv.op != "call_module" or len(conv.users) != 1
                or not isinstance(mods.get(conv.target), torch.nn.Conv2d)):
            continue
        fused = fuse_conv_bn_eval(mods[conv.target], mods[node.target])
        parent, _, leaf = conv.target.rpartition(".")
        setattr(g.get_submodule(parent) if parent else g, leaf, fused)
        node.replace_all_uses_with(conv)
        g.graph.erase_node(node)
    g.graph.lint()
    g.recompile()
    return g


def main(d, name, n_train, n_val, batch, threads):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    data = gbm.MODELS[name][1]
    f = np.load(os.path.join(d, f"{data if data == 'mnist' else name}_train.npz"))
    x, y = torch.from_numpy(f["x"][:n_train]), torch.from_numpy(f["y"][:n_train])
    vx, vy = torch.from_numpy(f["x"][:n_val]), torch.from_numpy(f["y"][:n_val])
    teacher = gbm.build(name, gbm.SEED)
    teacher.load_state_dict(torch.load(os.path.join(d, f"{name}.pt")))
    teacher.eval()
    example = (x[:1],)
    student = fold_bn(copy.deepcopy(teacher)).train()
    student = prepare_qat_fx(student, get_default_qat_qconfig_mapping("x86"), example)
    opt = torch.optim.Adam(student.parameters(), lr=LR)
    t0 = time.perf_counter()
    perm = torch.randperm(n_train)
    for i in range(0, n_train, batch):
        idx = perm[i:i + batch]
        with torch.no_grad():
            soft = F.softmax(teacher(x[idx]) / T, dim=1)
        out = student(x[idx])
        kl = F.kl_div(F.log_softmax(out / T, dim=1), soft, reduction="batchmean") * T * T
        loss = ALPHA * F.cross_entropy(out, y[idx]) + (1 - ALPHA) * kl
        opt.zero_grad()
        loss.backward()
        opt.step()
    student.eval()
    with torch.no_grad():
        correct = sum((student(vx[i:i + batch]).argmax(1) == vy[i:i + batch]).sum().item()
                      for i in range(0, n_val, batch))
    seconds = time.perf_counter() - t0
    print(f'{{"model": "{name}", "seconds": {seconds:.4f}, "fake_metric": {correct / n_val:.4f},'
          f' "steps": {(n_train + batch - 1) // batch}}}')


if __name__ == "__main__":
    if len(sys.argv) != 7:
        sys.exit(__doc__)
    a = sys.argv[1:]
    main(a[0], a[1], int(a[2]), int(a[3]), int(a[4]), int(a[5]))
