# Evaluate the bundled model on the bundled MNIST test split.
load models/mnist_cnn.qsm
data eval models/data/mnist_test.npz scale=0.00392156886
eval
