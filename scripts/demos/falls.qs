# Fall detection: what outlier clipping does to a model whose evidence is the outlier.
# models/falls.qsm is a 1-D CNN over 2 s windows of a waist-worn accelerometer (3 axes x
# 100 samples, in g); class 0 is a fall (10 % of windows), then walk, run/jump,
# sit/stand/lie transitions and still postures (models/README.md, "falls").
load models/falls.qsm
# Seeded synthetic windows (src/core/data/synth_falls.c): train for QAT, calib to calibrate and
# to pick QAT's epoch, eval to report. Falls and their look-alikes (jumps, hard sit-downs).
data train synth:falls n=2000 seed=1; data calib synth:falls n=500 seed=2; data eval synth:falls n=2000 seed=3
# FP32: the console's first line has the accuracy, then each class's recall and
# precision, fall first; z shows the per-class table and the confusion matrix.
eval
# INT8 static with min-max ranges: nothing measurable is lost.
calibrate; mode int8-static
eval
# The first conv's output: a long tail, made by the impacts of falls and jump landings.
hist conv1 act
# Percentile clipping (99.9 %), a common choice for long tails, puts the range where the
# bulk is...
quant observer=percentile pct=99.9
hist conv1 act
# ... and clips the 0.1 % that is the impact. Watch recall_fall on the console's first
# line.
eval
variant save ptq
# QAT from this plan: two epochs at a tenth of the training rate, class weights for the
# rare falls, the epoch picked on the calib split. The ranges move with the training data.
qat epochs=2 lr=0.0003 class_weights=auto val=calib seed=1 as=qat
variant use qat
eval
# Every precision and both variants on the same windows (back on the session's float
# model first: the precision rows run on the active model); z shows the whole table.
variant use ptq
compare
