# Issue 13: `hist LAYER weights` names the doctored channel of the depthwise-separable net
# exported by PyTorch (tests/fixtures/truth/README.md), and its clean twin has no such
# channel. Needs helper "hist" (per-channel weight view).
let truth?=tests/fixtures/truth
let doctored_layer?=/dw1/Conv     # truth.json models.dwnet_doctored.doctored.onnx_node
let doctored_channel?=2           # truth.json models.dwnet_doctored.doctored.channel
load ${truth}/dwnet_doctored.onnx
hist ${doctored_layer} weights
check widest_channel == doctored_channel
# truth.json models.dwnet_doctored.doctored.ratio_to_median: 80 (by torch.median, the
# lower middle of 16); at least the 15x issue 13 asks for
check widest_x >= 15
load ${truth}/dwnet_clean.onnx
hist ${doctored_layer} weights
check widest_x < 5
