# No variant meets the constraints: a clear message.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=300
pick size<=1KB
