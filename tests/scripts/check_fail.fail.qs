# `check` stops a script when a figure is off: the CI use of qscope.
load tests/fixtures/models/tiny_cnn.qsm
data eval models/data/mnist_test.npz scale=0.00392156886 n=200
eval
check accuracy >= 0.999
