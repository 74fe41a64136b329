# The teaching case: on mnist_dw (float 95.90 %), per-tensor weight scales ruin the
# doctored depthwise layer dw1; per-channel does not. sensitivity names dw1, diagnose
# explains it, and fallback fixes it by pinning dw1.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
mode int8-static
eval
check accuracy >= 0.95
quant wgran=tensor
eval
check accuracy <= 0.85
sensitivity
check worst == dw1
diagnose
check worst == dw1
check worst_kind == weight-levels
check worst_channel == 5
check worst_recovered >= 0.8
fallback drop<=0.01 to=fp16
check reached == 1
check drop <= 0.01
variant save fixed
variant list
