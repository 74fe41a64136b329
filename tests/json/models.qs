# Every command's JSON, the other tasks and commands (tests/json/check_json.py): a policy
# with two inputs and named parts, a detector, a classifier whose metadata names its
# classes (and one naming a class twice: one recall_<class> key), a model built from a spec
# and trained, QAT, fold and CLE, a session saved, reset, emptied and loaded, then quit.
let dir?=/tmp
load models/deepsets.qsm
data eval synth:deepsets n=200 seed=22; data calib synth:deepsets n=200 seed=21; data train synth:deepsets n=200 seed=11
eval
calibrate
mode int8-static
variant save ptq
qat epochs=1 lr=0.0002 batch=64 distill=kl T=2 val=calib seed=1 as=qat
pick size<=100KB latency<=50ms drop<=10%
pick size<=100KB drop<=10% target=esp32s3
export ${dir}/qs_json_enc.qsm part=encoder variant=qat verify=100
export ${dir}/qs_json_head.onnx part=head variant=qat
device target=esp32s3 variant=ptq part=head
load models/det_balls.qsm
mode fp32
data eval synth:balls n=40 seed=2
eval
load models/falls.qsm
mode fp32
data eval synth:falls n=200 seed=3; data calib synth:falls n=200 seed=2
eval
calibrate
mode int8-static
quant wgran=tensor
diagnose
init tests/json/dup_labels.json
mode fp32
data eval synth:falls n=50 seed=3
eval
init models/specs/mnist_mlp.json seed=1
mode fp32
data train models/data/mnist_train.npz scale=0.00392156886 n=256
data calib models/data/mnist_test.npz scale=0.00392156886 n=128
train epochs=2 lr=0.001 batch=64 opt=adam val=calib patience=2 seed=1
train epochs=1 lr=0.001 batch=64 opt=adam seed=1 val=none
load models/mnist_dw.qsm
data calib models/data/mnist_test.npz scale=0.00392156886 n=128
calibrate
mode int8-static
export ${dir}/qs_json_dw.tflite io=uint8
load ${dir}/qs_json_dw.tflite
load models/mnist_dw.qsm
variant import ${dir}/qs_json_dw.tflite
load models/mnist_dw.qsm
mode fp32
fold scales
data calib models/data/mnist_test.npz scale=0.00392156886 n=128
cle
session save ${dir}/qs_json.qsess
reset
session new
session load ${dir}/qs_json.qsess
quit
echo "not run: quit ends the script"
