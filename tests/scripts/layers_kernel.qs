# `layers` says which kernel runs under the current plan. fp32 with a calibration: every
# layer runs float, and the quantization columns are a labelled preview of int8-static
# (preview field and note); int8-static: int8 kernels with BatchNorm and ReLU fused.
load tests/fixtures/models/tiny_cnn.qsm
layers
data calib models/data/mnist_train.npz n=100 scale=0.00392156886
calibrate
layers
mode int8-static
layers
mode fp32
layers
