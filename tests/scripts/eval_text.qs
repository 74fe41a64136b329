# load, data, eval on the torch-trained fixture; figures checked against tests/fixtures/models/tiny_cnn.json
load tests/fixtures/models/tiny_cnn.qsm
data eval models/data/mnist_test.npz scale=0.00392156886
eval
eval n=100 batch=7
data calib models/data/mnist_train.npz n=300 scale=0.00392156886
data
eval
check accuracy == 0.9615
check n == 2000
