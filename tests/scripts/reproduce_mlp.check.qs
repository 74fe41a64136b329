# Re-running the bundled model's training script with its seed reproduces its accuracy
# exactly (models/README.md: mnist_mlp 93.80 %): training runs on qscope's own kernels and
# elementary functions, the same bits on every x86-64 machine (docs/reproducibility.md).
source scripts/train/mnist_mlp.qs
check accuracy == 0.938
# ... and the bundled file holds exactly that model
load models/mnist_mlp.qsm
eval
check accuracy == 0.938
