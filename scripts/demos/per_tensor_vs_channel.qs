# Per-tensor against per-channel weight scales, on a depthwise-separable CNN.
# A depthwise convolution has one 3x3 filter per channel. Their ranges differ a lot, so one
# scale for the whole tensor leaves the small filters with a handful of levels.
load models/mnist_dw.qsm
# The bundled MNIST splits: calib to calibrate, eval to measure.
source scripts/train/mnist_data.qs
# Activation ranges first (min-max over the calib split), shared by both plans below.
calibrate
# The whole model at INT8 static, one weight scale per TENSOR.
# Watch the error column of the depthwise layers (dw1, dw2) in the layer list.
quant wgran=tensor; mode int8-static
error
# Keep this plan as a variant, to compare it later.
variant save per_tensor
# Now one scale per output CHANNEL (the default): every filter gets its own range.
quant wgran=channel
error
variant save per_channel
# Side by side: FP32, FP16, INT8 dynamic, INT8 static and both variants.
# per_tensor loses a quarter of the accuracy; per_channel loses nothing.
compare
# The weight columns: w_spread is how far apart the channels' ranges are.
layers
