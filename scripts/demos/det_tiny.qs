# Tiny objects: FP16 first, INT8 by QAT. models/det_balls.qsm is a small conv heat-map
# detector (24,881 parameters) for balls of 2 to 20 px in 64x64 images with clutter,
# noise and occasional glare; a ball counts as found when a heat-map peak lies within
# 3 px of its centre, and balls under 15 px are counted apart ("small").
load models/det_balls.qsm
# Seeded synthetic images (src/core/data/synth_balls.c): train for QAT, calib to calibrate
# and to pick QAT's epoch, eval to report.
data train synth:balls n=1000 seed=1; data calib synth:balls n=300 seed=3; data eval synth:balls n=500 seed=2
# FP32: nearly every large ball, about four small ones in five.
eval
# FP16: weights stored as half, every layer's output rounded to half. Nothing moves.
mode fp16
eval
# INT8 static the way TensorRT calibrates by default: per-channel weights, activation
# ranges from the entropy (KL) observer. Watch recall_small.
calibrate; mode int8-static; quant observer=entropy
eval
# Why: KL keeps the bulk of each histogram and clips the rare largest values. conv5
# keeps about a quarter of its range ([ ] marks the clip; 1.7 % of its values are cut,
# around balls of every size and clutter)...
hist relu5 act
# ... which lowers every heat-map peak by about half a logit. Large balls peak near +2
# and stay above the threshold; small balls peak just above 0 and drop under it.
# Which layers matter: conv5, and up and skip, which carry its grid.
sensitivity n=300
variant save ptq
# QAT from this plan: one epoch at a tenth of the training rate, ranges learned (LSQ),
# the FP32 logits as teacher (MSE), the epoch picked on the calib split.
qat epochs=1 lr=0.0001 distill=mse scales=learn val=calib seed=1 as=qat
variant use qat
eval
# Side by side, back on the session's float model first (the precision rows run on the
# active model, each variant on its own weights).
variant use ptq
compare
