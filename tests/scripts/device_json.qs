# device as JSON: an int8-static plan before calibration (the arena and the ops need none;
# the size does: size_note), with int8 graph inputs and outputs, on a Cortex-M and an Edge TPU.
set output=json
load models/mnist_dw.qsm
mode int8-static
device target=cortex-m io=int8
device target=edgetpu
# one part of a model deployed as files of their own: the Deep Sets head (load starts a
# fresh fp32 plan: the int8-static plan is asked for again)
load models/deepsets.qsm
mode int8-static
device target=esp32s3 part=head
