# models/README.md: mnist_cnn 97.55 %; retraining from its seed lands within 0.3 points.
source scripts/train/mnist_cnn.qs
check accuracy >= 0.9725
check accuracy <= 0.9785
load models/mnist_cnn.qsm
eval
check accuracy == 0.9755
