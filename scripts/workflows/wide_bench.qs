# Workflow 4: FP32 / FP16 / INT8 dynamic (per-channel weights) on a larger model, in one
# table made by `bench`: the size of the model file written at each precision, memory,
# latency per sample (median of timed passes after a warm-up, with min and max) and
# accuracy. models/README.md has the figures of the full form; docs/bench.md says what
# each column counts. Then the .tflite files a phone runs (docs/tflite.md): FP32, FP16,
# dynamic-range INT8 and full INT8, each size checked. Full INT8 computes with
# `quant target=xnnpack` (LiteRT's default CPU path on phones), set before calibrating, so
# its accuracy here is what LiteRT computes from the file.
#
# The model (models/specs/mnist_wide.json, 3,241,354 parameters) is built from its spec
# and trained here (scripts/train/mnist_wide.qs): full form 3 epochs on 7000 digits and
# the whole 2000-digit test split; the CI short form (wide_bench.ci) trains one epoch on
# 2000 digits and benches on 200.
let n?=2000
let batch?=1
let repeat?=5
let out?=/tmp/qscope_wide_bench
echo "== mnist_wide: build and train =="
source scripts/train/mnist_wide.qs
info
check params >= 2000000
eval n=${n}
keep float

echo "== FP32 / FP16 / INT8 dynamic, per-channel weights =="
bench precisions=fp32,fp16,int8-dyn wgran=channel n=${n} batch=${batch} repeat=${repeat} warmup=1 files=${out}
keep b
# The files: int8 weights take a quarter of float32's bytes and halves a half; the rest
# of a file (graph, per-channel scales, float biases) is under 0.1 % of it here.
check shrink_int8_dyn >= 3.8
check shrink_int8_dyn <= 4.2
check shrink_fp16 >= 1.9
check shrink_fp16 <= 2.1
# Memory at run time follows the weights, which dwarf the activations of one sample.
check peak_fp16 < peak_fp32
check peak_int8_dyn < peak_fp16
# Accuracy. FP16 rounds weights and activations to 11 significant bits: it may flip a
# digit that sits on a decision boundary, not more than half a point. INT8 dynamic with
# per-channel weights (8 bits, each sample's activations quantized on its own range)
# stays within one point. The FP32 row is the float model exactly.
check drop_fp16 <= 0.005
check drop_int8_dyn <= 0.01
check accuracy_fp32 == float.accuracy

echo "== .tflite: the files a phone runs =="
# A file's size follows the model's shapes, not its values, so each is checked exactly.
# The weights dominate: fc1's 3.2 million of them at 4, 2 and 1 bytes.
mode fp32
export ${out}_fp32.tflite
keep t_fp32
check layout == tflite-fp32
check bytes == 12968464
export ${out}_fp16.tflite variant=fp16
keep t_fp16
check layout == tflite-fp16
check bytes == 6486976
# per-channel int8 weights (the session's default, as in the table above)
export ${out}_dynamic.tflite variant=dynamic
keep t_dyn
check layout == tflite-dynamic
check bytes == 3261552
# full INT8: the activations too, ranges from the calib split (1000 training digits the
# model was not trained on), XNNPACK's integers; within a point of FP32 like INT8 dynamic
quant target=xnnpack
calibrate
mode int8-static
eval n=${n}
keep int8
check accuracy >= float.accuracy-0.01
export ${out}_int8.tflite
keep t_int8
check layout == tflite-int8
check target == xnnpack
check bytes == 3276160
echo precision | .tflite | bytes | accuracy
echo fp32 | ${out}_fp32.tflite | ${t_fp32.bytes} | ${b.accuracy_fp32}
echo fp16 | ${out}_fp16.tflite | ${t_fp16.bytes} | ${b.accuracy_fp16}
echo int8-dyn | ${out}_dynamic.tflite | ${t_dyn.bytes} | ${b.accuracy_int8_dyn}
echo int8-static | ${out}_int8.tflite | ${t_int8.bytes} | ${int8.accuracy}

echo "== the exported models load back and score the same =="
# int8-dyn has no ONNX layout here, so its plan travels as a variant in the .qsm
mode int8-dyn
variant save dyn
mode fp32
save ${out}.qsm
# The FP16 file holds half weights and Cast pairs that round activations to half; qscope's
# importer reads those Casts as Identity (docs/onnx.md), so the file is run at fp16 here,
# which rounds them again (rounding to half twice changes nothing).
load ${out}_fp16.onnx
mode fp16
eval n=${n}
check accuracy == b.accuracy_fp16
mode fp32
load ${out}_fp32.onnx
eval n=${n}
check accuracy == b.accuracy_fp32
load ${out}.qsm
variant use dyn
eval n=${n}
check accuracy == b.accuracy_int8_dyn
