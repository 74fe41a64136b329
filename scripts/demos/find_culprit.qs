# Finding the layer to blame, and fixing it with a fallback.
# The depthwise model with per-tensor weight scales loses a lot of accuracy at INT8.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate
quant wgran=tensor; mode int8-static
# How bad is it?
eval
# Sensitivity: the metric with only one layer quantized, and with all but that one,
# measured on the calib digits (decisions never read eval unless told). The top row is
# the culprit.
sensitivity n=500
# Fallback: pin the most harmful layers to FP16, one at a time, until the drop against
# FP32 on the calib digits is at most 1 % (drop<=0.01 is the same). It reports what that
# costs in size and latency, and the new plan scored on eval.
fallback drop<=1% to=fp16 n=500
# The pinned layer shows a * in the layer list; the rest stays INT8.
eval
