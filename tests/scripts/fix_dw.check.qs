# Fixing without training on mnist_dw (float 95.90 %), INT8 static with per-tensor weight
# scales, where the doctored depthwise channel of dw1 sets the scale (docs/plans.md,
# "Fixing without training"). Bias correction and cross-layer equalization each reduce
# the error; together they recover most of the loss.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
mode int8-static
quant wgran=tensor
eval
check accuracy <= 0.70
# 1. Bias correction: 60.25 % -> 95.15 %; output SQNR on the calib digits 3.52 -> 15.91 dB.
biascorr n=500
check n_units == 6
check sqnr_before <= 4
check sqnr_after >= 15
eval
check accuracy >= 0.945
# It is quantized state: switching it off gives back the plain model exactly.
biascorr off
check dropped == 1
eval
check accuracy <= 0.70
# 2. Cross-layer equalization: rewrites the float weights (function verified on the calib
# split), leaves ReLU6 channels that clip (the doctored one among them) alone, drops the
# calibration.
cle
check n_pairs == 4
check left >= 1
check max_rel_diff <= 0.0001
mode fp32
eval
check accuracy == 0.959
mode int8-static
calibrate n=500
eval
check accuracy >= 0.85
# the uncorrected output SQNR (biascorr's "before") rose from 3.52 dB to 8.12 dB ...
biascorr n=500
check sqnr_before >= 8
# ... and both together: 94.50 %, 14.44 dB
check sqnr_after >= 14
eval
check accuracy >= 0.945
