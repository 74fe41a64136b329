# Opened by scripts/run.sh: the bundled model and the bundled MNIST test split.

load models/mnist_cnn.qsm
data eval models/data/mnist_test.npz scale=0.00392156886
data calib models/data/mnist_train.npz n=500 scale=0.00392156886
info
