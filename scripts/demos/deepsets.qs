# A Deep Sets driving policy: PTQ against QAT, and a deployment rule over sub-models.
# Two inputs: an encoder (enc1, enc2 in the layer list) runs on each of 8 peer slots,
# their mean (pool) joins 4 ego features, a head picks one of 5 actions.
load models/deepsets.qsm
# Seeded scenes: the label is a rule-based expert's action, and the expert marks the
# actions it considers unsafe. The status line lists the three splits.
data eval synth:deepsets n=4000 seed=22; data calib synth:deepsets n=1000 seed=21; data train synth:deepsets n=10000 seed=11
# The float model: success = the expert's action chosen, collision = an unsafe one
# chosen; both on the console's first line.
eval
# PTQ: ranges from the calibration scenes, then everything int8. About two points of
# success go (the status line, and the console's first line).
calibrate; mode int8-static; eval
# Why: at joint (selected now) the pooled features (range 0..7.5) share one int8 scale
# with the ego speed (up to 34 m/s): the detail pane shows a scale of 0.157 per step.
hist joint act
variant save ptq
# QAT from the same calibration: two epochs of fake-quantized fine-tuning, distilled from
# the float model, learning to live with the coarse scales. Then the QAT variant's eval.
qat epochs=2 lr=0.0002 batch=64 distill=kl T=2 val=calib seed=1 as=qat
variant use qat; eval
# Back to the trained weights for the base rows, then everything side by side: the
# metrics pane, or z for the whole table in the console.
variant use ptq; compare
# The deployment rule: encoder and head run on different processors, so the size limit
# applies to EACH part (the float and half heads are too large); among the int8
# candidates the best success rate wins (the console's first line).
pick size<=100KB latency<=50ms drop<=10%
# The winner's encoder and head as files, loaded back and run against the whole model on
# every scene: z shows max_abs_diff 0 (they reproduce it exactly).
export /tmp/qscope_demo_encoder.qsm part=encoder variant=qat verify=4000
export /tmp/qscope_demo_head.qsm part=head variant=qat verify=4000
# For a runtime: the head as QDQ ONNX with int8 weights.
export /tmp/qscope_demo_head.onnx part=head variant=qat
