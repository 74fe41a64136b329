# hist LAYER weights on mnist_dw names dw1's doctored channel 5 (models/README.md) as the
# widest, in text and in JSON (per-channel scales, the default: 1 of 216 nonzero weights
# rounds to zero). Per tensor: hist_weights_tensor.check.qs.
load models/mnist_dw.qsm
hist dw1 weights
check widest_channel == 5
check zeroed == 1
set output=json
hist dw1 weights top=3
check widest_channel == 5
