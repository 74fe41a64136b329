# The per-tensor versus per-channel teaching case, end to end.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
mode int8-static
quant wgran=tensor
compare
sensitivity
diagnose
fallback drop<=0.01
compare
