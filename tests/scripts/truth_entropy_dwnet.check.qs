# Issue 13: on the depthwise-separable nets nobody in the project made
# (tests/fixtures/truth/README.md), INT8 static PTQ with the entropy (KL) observer is
# within one point of accuracy of PyTorch's own eager-mode PTQ with HistogramObserver
# activations, on the same 300 calibration images (the first 300 of the calib split) and
# the same 2000 test images. Needs helper "entropy". The stem's output is a hard case for
# KL: 58 % exact zeros and another 19 % in spikes at the positive biases (background
# pixels give relu(bias) exactly), so a search that keeps the spikes sharp clips the rest.
# The doctored net is compared per channel only: per tensor its dw1 weights sit at the
# edge where most codes round to 0 or 1 (truth/README.md), and which ones do depends on
# rounding details that differ between PyTorch and qscope whatever the observer.
# PyTorch's figures, typed in from tests/fixtures/truth/truth.json (onednn engine):
let doctored_hist_channel?=0.9735   # models.dwnet_doctored.ptq.histogram_per_channel.accuracy
let clean_hist_channel?=0.973       # models.dwnet_clean.ptq.histogram_per_channel.accuracy
let clean_hist_tensor?=0.9735       # models.dwnet_clean.ptq.histogram_per_tensor.accuracy
let truth?=tests/fixtures/truth
let calib_n?=300
load ${truth}/dwnet_doctored.onnx
source scripts/train/mnist_data.qs
calibrate n=${calib_n} observer=entropy
mode int8-static
quant wgran=channel
eval
check accuracy >= doctored_hist_channel-0.01
check accuracy <= doctored_hist_channel+0.01
# quantization options outlive `load`: the clean twin sets them again
load ${truth}/dwnet_clean.onnx
source scripts/train/mnist_data.qs
calibrate n=${calib_n} observer=entropy
mode int8-static
quant wgran=channel
eval
check accuracy >= clean_hist_channel-0.01
check accuracy <= clean_hist_channel+0.01
quant wgran=tensor
eval
check accuracy >= clean_hist_tensor-0.01
check accuracy <= clean_hist_tensor+0.01
