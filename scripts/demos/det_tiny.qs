# Tiny objects: FP16 first, INT8 by QAT. models/det_balls.qsm is a small conv heat-map
# detector (24,881 parameters) for balls of 2 to 20 px in 64x64 images with clutter,
# noise and occasional glare; a ball counts as found when a heat-map peak lies within
# 3 px of its centre, and balls under 15 px are counted apart ("small").
load models/det_balls.qsm
# Seeded synthetic images (src/core/data/synth_balls.c): train for QAT, calib to calibrate
# and to pick QAT's epoch, eval to report (the status line lists them).
data train synth:balls n=1000 seed=1; data calib synth:balls n=300 seed=3; data eval synth:balls n=500 seed=2
# FP32: nearly every large ball, about four small ones in five (recall_small, on the
# console's first line).
eval
# FP16: weights stored as half, every layer's output rounded to half. Nothing moves.
mode fp16
eval
# INT8 static as TensorRT calibrates by default: per-channel weights, ranges from the
# entropy (KL) observer. f1 drops by a fifth of a point (the status line).
calibrate; mode int8-static; quant observer=entropy
eval
# Min-max ranges instead: the glare in a quarter of the images reaches 12 times the
X
quant observer=minmax
hist relu1 act
# ... and some faint small balls vanish. Watch recall_small.
eval
# A pipeline that cuts such outliers hard: a percentile observer keeping 99.5 % of each
# layer's values. At relu5 (conv5's output) it clips 1 % of the values...
quant observer=percentile pct=99.5
hist relu5 act
# ... and the small balls' peaks, just above the threshold, fall under it: recall_small
# drops by about fourteen points (the console's first line).
eval
variant save ptq
# QAT from this plan: one epoch at a tenth of the training rate, ranges learned (LSQ),
# the FP32 logits as teacher (MSE), the epoch picked on the calib split.
qat epochs=1 lr=0.0001 distill=mse scales=learn val=calib seed=1 as=qat
variant use qat
eval
# Side by side, back on the session's float model first (the precision rows run on the
# active model, each variant on its own weights); z shows the whole table.
variant use ptq
compare
