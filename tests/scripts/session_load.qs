# `load` starts a fresh session for the model it loads (issue 16): default mode and quant
# options, no pins, no calibration, and only the data splits whose samples are exactly
# the new model's inputs, each named in the result; `reset` starts the loaded model over.
load models/mnist_cnn.qsm
data eval models/data/mnist_test.npz n=50 scale=0.00392156886
data calib models/data/mnist_train.npz n=50 scale=0.00392156886
calibrate
mode fp16
quant observer=entropy wgran=tensor
prec conv1 int8-dyn
variant save mine
# another model: fp32, minmax, channel, no pins; MNIST does not fit deepsets' two inputs
load models/deepsets.qsm
mode
quant
variant list
# a model with the same input shape keeps the splits; the plan is fresh again
load models/mnist_cnn.qsm
data calib models/data/mnist_train.npz n=50 scale=0.00392156886
load models/mnist_dw.qsm
quant observer=mse
calibrate
mode int8-static
variant save kept_until_reset
reset
mode
quant
variant list
