# Retraining mnist_dw is sensitive to the order of float sums: with OpenBLAS's Haswell
# kernels it landed at 93.75 %; on qscope's own kernels (docs/reproducibility.md) it lands
# at 95.90 % on every x86-64 machine, the bundled file's figure (models/README.md; the
# file itself is byte for byte what the script saves). Folding the scales changes nothing.
source scripts/train/mnist_dw.qs
check accuracy == 0.959
load models/mnist_dw.qsm
eval
check accuracy == 0.959
