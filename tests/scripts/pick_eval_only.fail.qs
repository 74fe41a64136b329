# With only the test split registered, pick does not fall back to it: it fails and says how
# to register a validation split.
load models/mnist_dw.qsm
data eval models/data/mnist_test.npz scale=0.00392156886 n=200
pick drop<=1%
