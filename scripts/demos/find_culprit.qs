# Finding the layer to blame, and fixing it with a fallback.
# The depthwise model with per-tensor weight scales loses a lot of accuracy at INT8.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate
quant wgran=tensor; mode int8-static
# How bad is it? The status line: the accuracy and its drop against FP32.
eval
# Sensitivity: the metric with only one layer quantized, and with all but that one, on
# the calib digits. Rank 1 is the culprit: the console's first line names it (worst),
# and the layer list selects it (its error shows on dw1_act, two rows down).
sensitivity n=500
# Fallback: pin the most harmful layers to FP16, one at a time, until the drop against
# FP32 on the calib digits is at most 1 %. The console's first line: the drop before
# and after; z shows what it costs in size and latency.
fallback drop<=1% to=fp16 n=500
# The pinned layer shows a * in the layer list (*fp16); the rest stays INT8, and the
# status line shows the new accuracy.
eval
