# mnist_wide: conv32-ReLU-pool, conv64-ReLU-pool, dense 1024, dense 10 on 28x28 digits:
# 3,241,354 parameters (fc1 alone 3,212,288), 13.0 MB at float32. The larger model of
# workflow 4 (scripts/workflows/wide_bench.qs). It is NOT bundled -- bundled files stay
# small -- but built from its spec with a fixed seed and trained here on the bundled MNIST
# digits: about 25 s per epoch on 7000 digits on one core of the machine the figures in
# models/README.md come from.
#   epochs   passes over the training digits (default 3; the CI short form uses 1)
#   train_n  training digits, the first N of the bundled 8000, at most 7000 (default 7000:
#            the train split of scripts/train/mnist_data.qs; the rest is its calib split)
let epochs?=3
let train_n?=7000
init models/specs/mnist_wide.json seed=1
source scripts/train/mnist_data.qs
data train models/data/mnist_train.npz n=${train_n} scale=0.00392156886
train epochs=${epochs} lr=0.001 batch=64 opt=adam schedule=cosine val=calib seed=1
