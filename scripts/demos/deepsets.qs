# A Deep Sets driving policy: PTQ against QAT, and a deployment rule over sub-models.
# One graph with two inputs: a peer encoder runs on each of 8 peer slots (6 features in
# metres and m/s), the mean over the slots joins 4 ego features, a head picks one of 5
# actions. Look at the layer list: enc1 and enc2 work on (N, 8, 64), pool makes it (N, 64).
load models/deepsets.qsm
# Scenes from the seeded generator: the label is a rule-based expert's action, and the
# expert marks the actions it considers unsafe. Evaluation and calibration scenes are new.
data eval synth:deepsets n=4000 seed=22; data calib synth:deepsets n=1000 seed=21; data train synth:deepsets n=10000 seed=11
# The float model: success = the expert's action chosen; collision = an unsafe one chosen.
eval
# PTQ: ranges from the calibration scenes, then everything int8. About two points of
# success go.
calibrate; mode int8-static; eval
# Why, in the scale column: the peers input is ONE int8 tensor shared by distances of up
# to 80 m and a 0/1 present flag (a step of about half a metre for every feature), and at
# `joint` the pooled features (range 0..7.5) share one scale with the ego speed (up to
# 34 m/s): 0.157 per step instead of their own 0.029.
layers
variant save ptq
# QAT from the same calibration: two epochs of fake-quantized fine-tuning with
# distillation from the float model. The network learns to live with the coarse input.
qat epochs=2 lr=0.0002 batch=64 distill=kl T=2 val=calib seed=1 as=qat
variant use qat; eval
# Back to the trained weights for the base rows, then everything side by side.
variant use ptq; compare
# The deployment rule. Encoder and head run on different processors, so the size limit
# applies to EACH part: the float head (205 KB) and even the half-precision head (102 KB)
# are too large; among the int8 candidates the best success rate wins.
pick size<=100KB latency<=50ms drop<=10%
# The winner's encoder and head as separate files, loaded back and run against the whole
# model on every evaluation scene: max_abs_diff 0 means they reproduce it exactly.
export /tmp/qscope_demo_encoder.qsm part=encoder variant=qat verify=4000
export /tmp/qscope_demo_head.qsm part=head variant=qat verify=4000
# For a runtime: the head as QDQ ONNX with int8 weights.
export /tmp/qscope_demo_head.onnx part=head variant=qat
