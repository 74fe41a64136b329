# No variant meets the constraints: a clear message and exit status 1.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=300
pick size<=1KB
