# hist LAYER weights on mnist_dw names dw1's doctored channel 5 (models/README.md) as the
# widest, in text and in JSON; per tensor, its scale leaves the other channels 2-6 of 255
# levels and rounds 82 of the 216 nonzero weights to zero.
load models/mnist_dw.qsm
hist dw1 weights
check widest_channel == 5
quant wgran=tensor
hist dw1_bn weights top=4
check widest_channel == 5
check zeroed == 82
check levels_max == 8
set output=json
hist dw1 weights top=3
check widest_channel == 5
