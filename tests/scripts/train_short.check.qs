# A short training run drives the loss down and the accuracy up: 600 samples, one epoch.
# (Same seed, same weights bit for bit: tests/unit/test_train.c.)
init models/specs/mnist_cnn.json seed=3
data train models/data/mnist_train.npz n=600 scale=0.00392156886
data eval models/data/mnist_test.npz n=300 scale=0.00392156886
eval
check accuracy <= 0.3
train epochs=1 batch=32 lr=0.002 seed=3
# cross-entropy of an untrained 10-class net is about ln 10 = 2.3
check last_train_loss < 1.8
eval
check accuracy >= 0.5
