# A check against a kept figure fails with both values shown.
load models/mnist_cnn.qsm
data eval models/data/mnist_test.npz scale=0.00392156886 n=100
eval
keep a
eval n=50
check n > a.n
