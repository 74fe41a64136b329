# models/README.md: falls 98.68 % (fall recall 94.20 %) on the 5000 eval windows; retraining
# from its seed on the same synthetic data gives exactly those figures on every x86-64
# machine (qscope's own kernels, and the data's sin, cos and exp from kern/fmath.h:
# docs/reproducibility.md), and the bundled file holds that model.
source scripts/train/falls.qs
check accuracy == 0.9868
check recall_fall == 0.942
load models/falls.qsm
eval
check accuracy == 0.9868
check recall_fall == 0.942
