# QAT wins back what per-tensor weight scales cost mnist_dw (docs/qat.md). The float model
# scores 95.90 %; PTQ with one weight scale per tensor falls to about 60 % (the doctored
# depthwise channel of dw1 sets the scale). One epoch of QAT on the 7000 training digits,
# distilled from the float model, must win back at least half of that loss, and the
# variant's real INT8 accuracy must be its fake-quantized accuracy within 0.2 points.
# The epoch is picked on the calib digits (58.20 % at epoch 0, 92.90 % after one epoch).
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
mode int8-static
quant wgran=tensor
eval
check accuracy <= 0.75
variant save ptq
qat epochs=1 seed=1
check ptq_metric <= 0.75
# half the loss back: (95.90 % + 60.25 %) / 2 = 78.1 %
check int8_metric >= 0.781
check fake_int8_gap <= 0.002
check best_epoch == 1
# the epoch was picked on calib and the variant scored on eval; qat made it current, so
# eval measures it: exactly the scored figure, not the PTQ plan's
check decided_on == calib
check scored_on == eval
check current == qat
check kept == qat
check scored_ptq_metric <= 0.75
keep q
eval
check accuracy == q.scored_metric
check accuracy >= 0.781
eval split=calib
check accuracy == q.int8_metric
variant list
# the variant runs on its own weights
variant use qat
eval
check accuracy == q.scored_metric
# the session's float model is untouched: back on it, FP32 is what it was
variant use ptq
mode fp32
eval
check accuracy == 0.959
compare
