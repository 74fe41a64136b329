# A data file whose samples do not fit the model input.
load tests/fixtures/models/tiny_cnn.qsm
data eval tests/fixtures/models/tiny_cnn_logits.npy
