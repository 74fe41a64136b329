# The same figures as eval_text.qs, as JSON lines.
set output=json
load tests/fixtures/models/tiny_cnn.qsm
data eval models/data/mnist_test.npz scale=0.00392156886
eval n=100
