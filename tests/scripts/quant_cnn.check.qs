# mnist_cnn calibrated on 500 digits: INT8 static within 1 point of FP32 (97.30 %, see
# models/README.md), FP16 within 0.1, and `compare` prints all four side by side.
load models/mnist_cnn.qsm
source scripts/train/mnist_data.qs
calibrate n=500
compare
mode fp16
eval
check accuracy >= 0.972
mode int8-static
eval
check accuracy >= 0.963
mode int8-dyn
eval
check accuracy >= 0.963
# switching back is instant and gives the float figure exactly
mode fp32
eval
check accuracy == 0.973
