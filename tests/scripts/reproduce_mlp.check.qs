# Re-running the bundled model's training script with its seed reproduces its accuracy
# (models/README.md: mnist_mlp 93.80 %) within 0.3 percentage points.
source scripts/train/mnist_mlp.qs
check accuracy >= 0.935
check accuracy <= 0.941
# ... and the bundled file holds exactly that model
load models/mnist_mlp.qsm
eval
check accuracy == 0.938
