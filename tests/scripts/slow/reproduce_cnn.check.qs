# models/README.md: mnist_cnn 97.30 %; retraining from its seed gives exactly that figure
# on every x86-64 machine (docs/reproducibility.md), and the bundled file holds that model.
source scripts/train/mnist_cnn.qs
check accuracy == 0.973
load models/mnist_cnn.qsm
eval
check accuracy == 0.973
