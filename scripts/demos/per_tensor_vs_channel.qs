# Per-tensor against per-channel weight scales, on a depthwise-separable CNN.
# A depthwise convolution has one 3x3 filter per channel. Their ranges differ a lot, so one
# scale for the whole tensor leaves the small filters with a handful of levels.
load models/mnist_dw.qsm
# The bundled MNIST splits: calib to calibrate, eval to measure.
source scripts/train/mnist_data.qs
# Activation ranges first (min-max over the calib split), shared by both plans below.
calibrate
# The whole model at INT8 static, one weight scale per TENSOR.
quant wgran=tensor; mode int8-static
# Per-layer error (SQNR, the bars). A depthwise conv's error shows on its activation row:
# dw1_act and dw2_act are red (dw1 and dw2 themselves say `fused`).
error
# Keep this plan as a variant, to compare it later.
variant save per_tensor
# Now one scale per output CHANNEL (the default): every filter gets its own range, and the
# bars of dw1_act and dw2_act shrink.
quant wgran=channel
error
variant save per_channel
# Side by side: per_tensor loses about a quarter of the accuracy, per_channel nothing
# (the metrics pane; z shows the whole table).
compare
# Why: dw1's weights, one bar per channel in the detail pane. Channel 5's range is about
# 92 times the median, and a per-tensor scale has to cover it.
hist dw1 weights
