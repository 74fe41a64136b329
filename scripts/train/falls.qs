# models/falls.qsm: a 1-D CNN over 2 s accelerometer windows (3 axes x 100 samples at 50 Hz,
# in g) that tells falls from walking, running/jumping, sit/stand/lie transitions and
# still postures (models/README.md, "falls"). Float pre-training with class weights (falls
# are 10 % of the windows) and early stopping on the calib split, which also calibrates
# later; the eval split only reports. The data comes from the seeded generator
# synth:falls (src/core/data/synth_falls.c). scripts/workflows/falls.qs sources this file with
# smaller figures for CI; `qscope -c 'source scripts/train/falls.qs; save models/falls.qsm'`
# makes the bundled model.
let falls_train?=8000
let falls_val?=1000
let falls_eval?=5000
let falls_epochs?=40
let falls_patience?=6
init models/specs/falls.json seed=1
data train synth:falls n=${falls_train} seed=1
data calib synth:falls n=${falls_val} seed=2
data eval synth:falls n=${falls_eval} seed=3
train epochs=${falls_epochs} lr=0.003 batch=64 class_weights=auto val=calib patience=${falls_patience} seed=1
eval
