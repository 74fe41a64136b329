# FP16 against INT8: half the bytes with nothing lost, or a quarter with a little lost.
load models/mnist_cnn.qsm
source scripts/train/mnist_data.qs
# FP16: weights stored as IEEE half, every layer's output rounded to half. The accuracy
# is on the console's first line and the status line.
mode fp16
eval
# INT8 static needs activation ranges: calibrate on the calib split.
calibrate
mode int8-static
eval
# Everything side by side: the metrics pane shows metric and drop; z shows the whole
# table (agreement with FP32, output SQNR, deployed bytes, latency on this machine).
compare
