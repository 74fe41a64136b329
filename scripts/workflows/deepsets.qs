# Workflow 2: a Deep Sets driving policy, PTQ and QAT tracks side by side.
#
# The model (models/deepsets.qsm, scripts/train/deepsets.qs) is one graph with two inputs:
# a peer encoder applied to each of 8 peer slots (6 features each), the mean over the
# slots, concatenated with 4 ego features, and a policy head over 5 actions (keep,
# accelerate, brake, change left, change right). Scenes come from the seeded generator
# synth:deepsets; the label is the action of its rule-based expert, which also marks every
# action it considers unsafe. success = the expert's action chosen; collision = an action
# the expert marks unsafe chosen.
#
# Both tracks use the same calibration scenes and are scored on the same evaluation
# scenes (fixed seeds). The deployment rule: the best success rate with each sub-model
# (encoder and head are deployed apart) <= 100 KB, latency <= 50 ms and a drop <= 10 %.
# The winner's encoder and head are exported as separate models, loaded back and checked
# to reproduce the winner's values exactly, and as the INT8 .tflite files the ESP32-S3
# runs under TensorFlow Lite Micro (esp-nn kernels), each checked against 100 KB. The
# integer plans compute with `quant target=tflm`, set before calibrating: TFLM's and
# esp-nn's arithmetic (gemmlowp double rounding, docs/quantization.md "Targets"), so every
# INT8 figure here is what the device computes from those files, and the concat that
# joins the pooled peers with the ego features shares one scale and zero point across its
# inputs, as TFLite's quantization spec demands.
#
#   eval_n      evaluation scenes (default 10000)
#   calib_n     calibration scenes, shared by PTQ and QAT (default 1000)
#   train_n     training scenes for QAT (default 20000)
#   qat_epochs  QAT epochs (default 4)
#   out         prefix of the exported files (default /tmp/qscope_deepsets)
let eval_n?=10000
let calib_n?=1000
let train_n?=20000
let qat_epochs?=4
let out?=/tmp/qscope_deepsets

echo "== the model and the scenes =="
load models/deepsets.qsm
info
# seeds 11 and 12 trained the model and picked its epoch; these scenes are new
data eval synth:deepsets n=${eval_n} seed=22
data calib synth:deepsets n=${calib_n} seed=21
data train synth:deepsets n=${train_n} seed=11
eval
keep fp32

echo "== PTQ track: int8 static, calibrated on the shared scenes =="
# the device's integer arithmetic (TensorFlow Lite Micro with esp-nn on the ESP32-S3)
quant target=tflm
calibrate
mode int8-static
quant wgran=channel
eval
keep ptq
variant save ptq
quant wgran=tensor
eval
keep ptq_tensor
variant save ptq_tensor

echo "== QAT track: from the same calibration, fine-tuned with distillation =="
quant wgran=channel
qat epochs=${qat_epochs} lr=0.0002 batch=64 distill=kl T=2 alpha=0.5 val=calib seed=1 as=qat
variant use qat
eval
keep qat
# the story: QAT keeps at least PTQ's success rate; collisions are reported for both
check qat.success >= ptq.success
check qat.collision >= 0
check ptq.collision >= 0

echo "== head to head, and the deployment rule =="
# back to the trained weights, so that the fp32, fp16, int8-dyn and int8-static rows are
# the original model's (after `variant use qat` they would be the fine-tuned weights')
variant use ptq
compare
# pick decides on the calibration scenes and scores its winner on the evaluation scenes
# ... on the ESP32-S3 it ships to: latency is the device estimate (docs/devices.md), and
# plans TensorFlow Lite Micro cannot run (int8-dyn, fp16) fail by name
pick size<=100KB latency<=50ms drop<=10% target=esp32s3 export=${out}_winner.qsm
keep pick
# pick obeys its constraints: the float model's head (204.8 KB) is too large to qualify
check pick.winner != fp32
# ... judged on the ESP32-S3's estimate: the winner's latency is the device's, not this host's
check pick.profile == esp32s3
check pick.scored_metric >= fp32.success-10%

echo "== the winner's encoder and head, as separate models =="
export ${out}_encoder.qsm part=encoder variant=${pick.winner} verify=${eval_n}
check max_abs_diff == 0
check deployed_bytes <= 100000
export ${out}_head.qsm part=head variant=${pick.winner} verify=${eval_n}
check max_abs_diff == 0
check deployed_bytes <= 100000
# What the ESP32-S3 runs: each part as an INT8 .tflite file (int8 weights and
# activations, int32 biases, float in and out through QUANTIZE/DEQUANTIZE), each
# <= 100 KB, and its device profile: TFLM has every op, the size the profile counts is
# the file's (pick's per-part rule above counts each part's deployed weights, which the
# file exceeds by its graph and quantization parameters), and the estimate is in budget.
export ${out}_encoder.tflite part=encoder variant=${pick.winner}
keep enc_tfl
check layout == tflite-int8
check target == tflm
check bytes <= 100000
device target=esp32s3 part=encoder variant=${pick.winner}
check unsupported == 0
check size_bytes == enc_tfl.bytes
check est_ms <= 50
export ${out}_head.tflite part=head variant=${pick.winner}
keep head_tfl
check layout == tflite-int8
check target == tflm
check bytes <= 100000
device target=esp32s3 part=head variant=${pick.winner}
check unsupported == 0
check size_bytes == head_tfl.bytes
check est_ms <= 50
# the .qsm files hold float weights plus the plan (deployed_bytes is what a deployment
# stores); the QAT track's parts as QDQ ONNX files hold int8 weights, each under 100 KB
export ${out}_encoder_qat.onnx part=encoder variant=qat
check bytes <= 100000
export ${out}_head_qat.onnx part=head variant=qat
check bytes <= 100000
# and the whole winner, loaded back, scores what pick measured
load ${out}_winner.qsm
variant use ${pick.winner}
eval
check success == pick.scored_metric
