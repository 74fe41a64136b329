# The MNIST splits every bundled model is trained and evaluated on: the first 7000 of the
# bundled training digits to train, the other 1000 to pick the best epoch (and, later, to
# calibrate), and the 2000 test digits to report.
data train models/data/mnist_train.npz n=7000 scale=0.00392156886
data calib models/data/mnist_train.npz skip=7000 scale=0.00392156886
data eval models/data/mnist_test.npz scale=0.00392156886
