# models/deepsets.qsm: the Deep Sets driving policy of workflow 2 (models/README.md).
# A peer encoder (6 -> 64 -> 64, ReLU) applied to each of 8 peer slots, the mean over the
# slots, concatenated with 4 ego features, then a policy head (68 -> 256 -> 128 -> 5).
# Trained by qscope from seed 1 to imitate the rule-based expert of synth:deepsets on
# 20000 generated scenes; 2000 other scenes pick the best epoch. Run with
# scripts/train/make_models.sh deepsets, which saves the result.
#   epochs   passes over the training scenes (default 30)
#   train_n  training scenes (default 20000)
let epochs?=30
let train_n?=20000
init models/specs/deepsets.json seed=1
data train synth:deepsets n=${train_n} seed=11
data calib synth:deepsets n=2000 seed=12
train epochs=${epochs} lr=0.002 batch=64 opt=adam schedule=cosine val=calib patience=6 seed=1
eval split=calib
