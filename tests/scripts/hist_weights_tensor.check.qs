# Per-tensor weight scales on mnist_dw: dw1's doctored channel 5 sets the scale, so the
# other channels keep 3 to 7 of the 255 levels and 53 of the 216 nonzero weights round to
# zero; asked through the BatchNorm folded into dw1.
load models/mnist_dw.qsm
quant wgran=tensor
hist dw1_bn weights top=4
check unit == dw1
check widest_channel == 5
check zeroed == 53
check nonzero == 216
check levels_min == 3
check levels_max == 9
