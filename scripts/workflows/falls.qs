# Workflow 5 (issue 8): fall detection with QAT, end to end (models/README.md, "falls").
# A 1-D CNN over 2 s windows of a waist-worn 3-axis accelerometer (synth:falls: falls are
# 10 % of the windows; walking, running and jumping, sit/stand/lie transitions and still
# postures otherwise, with look-alikes such as jumps and hard sit-downs). Steps:
#   1. float pre-training with class weights and early stopping (scripts/train/falls.qs);
#   2. PTQ: int8-static with min-max ranges, then with the team pipeline's percentile
#      clipping (99.9), which clips the rare impact spike that is a fall's evidence;
#   3. QAT fine-tuning of that plan at a tenth of the learning rate, with early stopping;
#   4. per-class recall (fall first) for FP32, PTQ and QAT, and the FP32, PTQ INT8 and
#      QAT INT8 models exported as .qsm files that load back with the same figures, and as
#      the .tflite files the wearable runs (docs/tflite.md). The sensor's microcontroller
#      runs TensorFlow Lite Micro, so the integer plans compute with `quant target=tflm`,
#      set before calibrating: every INT8 figure here is what TFLM's kernels compute from
#      those files (gemmlowp double rounding; docs/quantization.md "Targets"; a phone
#      would take target=xnnpack).
# Full form: qscope --batch scripts/workflows/falls.qs. CI runs the short form with the
# defines in falls.ci (fewer windows and epochs).
let falls_out?=/tmp/qscope_falls
let falls_pct?=99.9
let falls_qat_epochs?=6
let falls_qat_patience?=2
# how far PTQ's fall recall may sit above FP32's and still pass as "not better": 0 in the
# full form; the short form's briefly trained model moves a few windows either way
let falls_ptq_slack?=0

# 1. FP32: pre-training (train split), early stopping on the calib split
source scripts/train/falls.qs
keep fp32
check recall_fall >= 0.5
save ${falls_out}_fp32.qsm
# the float model as the device holds it (BatchNormalization folded, ReLU fused); a
# file's size follows the model's shapes, not its values, so it is checked exactly
export ${falls_out}_fp32.tflite
keep fp32_tfl
check layout == tflite-fp32
check bytes == 36288

# 2. PTQ, ranges from the calib split, in TFLM's arithmetic (step 4). Min-max first: INT8
# loses nothing measurable here.
quant target=tflm
calibrate
mode int8-static
eval
keep minmax
check accuracy >= fp32.accuracy-0.01
variant save ptq_minmax
# The pipeline's percentile clipping: the impacts are the 0.1 % it clips.
quant observer=percentile pct=${falls_pct}
eval
keep ptq
check recall_fall <= fp32.recall_fall+${falls_ptq_slack}
variant save ptq

# 3. QAT from the PTQ plan: lr ten times below pre-training, class weights, the epoch
# chosen on the calib split (INT8 accuracy), early stopping.
qat epochs=${falls_qat_epochs} lr=0.0003 patience=${falls_qat_patience} class_weights=auto val=calib seed=1 as=qat
variant use qat
eval
keep qat
check recall_fall >= ptq.recall_fall
check accuracy >= ptq.accuracy-0.005

# 4. Side by side on the eval split: every variant on its own weights; the precision rows
# (fp32 .. int8-static) run on the active model, so make the session's model active first.
variant use ptq
compare
save ${falls_out}_ptq.qsm variant=ptq
save ${falls_out}_qat.qsm variant=qat
# the INT8 files: int8 weights (per channel) and activations, int32 biases, float in and
# out; the QAT file carries the fine-tuned weights and ranges
export ${falls_out}_ptq.tflite variant=ptq
keep ptq_tfl
check layout == tflite-int8
check target == tflm
check bytes == 15424
export ${falls_out}_qat.tflite variant=qat
keep qat_tfl
check layout == tflite-int8
check target == tflm
check bytes == 15424
# TFLM has every op of it, and the profile's size is the file's
device target=cortex-m variant=qat
check unsupported == 0
check size_bytes == qat_tfl.bytes
echo file | bytes | layout
echo ${falls_out}_fp32.tflite | ${fp32_tfl.bytes} | ${fp32_tfl.layout}
echo ${falls_out}_ptq.tflite | ${ptq_tfl.bytes} | ${ptq_tfl.layout}
echo ${falls_out}_qat.tflite | ${qat_tfl.bytes} | ${qat_tfl.layout}
# a plain model file: the session's mode stays what it was, so back to FP32 first
load ${falls_out}_fp32.qsm
mode fp32
eval
check accuracy == fp32.accuracy
check recall_fall == fp32.recall_fall
check precision_fall == fp32.precision_fall
check precision == fp32
load ${falls_out}_ptq.qsm
check current_variant == ptq
eval
check accuracy == ptq.accuracy
check recall_fall == ptq.recall_fall
check precision_fall == ptq.precision_fall
load ${falls_out}_qat.qsm
check current_variant == qat
eval
check accuracy == qat.accuracy
check recall_fall == qat.recall_fall
check precision_fall == qat.precision_fall
