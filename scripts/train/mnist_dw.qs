# models/mnist_dw.qsm: a MobileNet-style net (3x3 stride-2 conv, depthwise 3x3, pointwise
# 1x1, BN and ReLU6 throughout, global average pool, dense head) whose depthwise channel 5
# of dw1 ends up with weights tens of times larger than the others once BatchNorm is folded
# into the conv -- the teaching case for per-tensor versus per-channel weight quantization.
#
# How: train with a fixed factor 100 on that channel before its ReLU6 (dw1_pre) and 1/100
# after it (dw1_post), so the network learns under exactly the function the doctored model
# computes; then `fold scales` bakes the 100 into dw1_bn's scale and bias and the 1/100 into
# pw1's input-channel weights. The float outputs are unchanged (the check below).
init models/specs/mnist_dw_train.json seed=1
source scripts/train/mnist_data.qs
train epochs=15 lr=0.003 batch=64 opt=adam schedule=cosine val=calib patience=5 seed=1
eval
fold scales
check folded == 2
eval
