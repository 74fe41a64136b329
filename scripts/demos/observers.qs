# Observers compared on one layer's histogram: where each one puts the clipping range.
# relu3 (the 64 units after fc1) has a long tail: a few large values, most near zero.
load models/mnist_cnn.qsm
source scripts/train/mnist_data.qs
# One calibration pass keeps every layer's histogram; observers only read it.
calibrate
mode int8-static
# Min-max: the range covers the largest value seen, so the steps are coarse.
quant observer=minmax
hist relu3 act
# Percentile: keep 99.9 % of the values and clip the rest (here at 30.7).
quant observer=percentile pct=99.9
hist relu3 act
# Entropy (KL divergence, as TensorRT): keeps the shape of the histogram; here nearly
# the whole range (36.5 of 38.5, 0.01 % of the values clipped).
quant observer=entropy
hist relu3 act
# MSE-optimal: the range that minimises the expected quantization error.
quant observer=mse
hist relu3 act
# What each choice does to the whole model's error, layer by layer.
error
