# FP32, FP16 and INT8 dynamic on a 3.2-million-parameter CNN: what each costs in file
# size, memory and time, and what it loses, in one table.
# Build mnist_wide from its spec: conv32, conv64, a dense layer of 1024 and a dense head.
# It is not bundled (13 MB at float32); the seed makes the same weights everywhere.
init models/specs/mnist_wide.json seed=1
# 3,241,354 parameters; fc1 alone holds 3,212,288 of them.
info
# The bundled MNIST digits: train, calib (picks the best epoch) and eval splits.
source scripts/train/mnist_data.qs
# A short training: one epoch on 2000 digits (about ten seconds; the workflow script trains
# three epochs on 7000).
data train models/data/mnist_train.npz n=2000 scale=0.00392156886
train epochs=1 lr=0.001 batch=64 opt=adam val=calib seed=1
# One table (z shows it whole): the file written at each precision, run-time memory,
# latency per digit at batch 1 (median of 3 timed passes after a warm-up) and accuracy on
# 300 test digits.
bench precisions=fp32,fp16,int8-dyn n=300 batch=1 repeat=3
# Per-tensor weight scales instead, one per layer: on this model nothing measurable
# changes (no channel is an outlier; per_tensor_vs_channel.qs has a model where one is).
bench precisions=fp32,int8-dyn wgran=tensor n=300 batch=1 repeat=3
