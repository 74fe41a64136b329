# On the PyTorch-exported depthwise net (tests/fixtures/truth, made by
# scripts/fixtures/gen_truth_fixtures.py), hist names the channel the generator doctored
# (truth.json: dw1 channel 2, 80x the median channel's max |w|): 82.9x the median range,
# the other channels 2.2x or less; the clean twin has no such channel.
load tests/fixtures/truth/dwnet_doctored.onnx
hist /dw1/Conv weights top=4
check widest_channel == 2
check widest_x >= 15
quant wgran=tensor
hist /dw1/Conv weights top=4
check widest_channel == 2
check levels_min <= 3
load tests/fixtures/truth/dwnet_clean.onnx
hist /dw1/Conv weights top=4
check widest_x < 4
