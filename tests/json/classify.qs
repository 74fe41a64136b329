# Every command's JSON on the bundled MNIST models (tests/json/check_json.py): the
# classifier's path from load to report, on few samples so it runs in seconds.
help
help eval
set
set batch=64 seed=1
get
get batch
let dir?=/tmp
let n=200
let
echo "== load =="
load models/mnist_dw.qsm
info
layers
data calib models/data/mnist_train.npz scale=0.00392156886 n=300
data eval models/data/mnist_test.npz scale=0.00392156886 n=300
data train models/data/mnist_train.npz scale=0.00392156886 n=300
data
eval n=${n}
keep fp32
check accuracy >= fp32.accuracy
run models/data/mnist_test.npz i=3 scale=0.00392156886
run models/data/mnist_test.npz scale=0.00392156886 n=4 out=${dir}/qs_json_out.npy
layers
mode
mode int8-static
calibrate n=${n}
layers
quant
quant wgran=tensor layer=dw1
quant wgran=auto layer=dw1
prec dw1 fp32
prec dw1 auto
variant save ptq
variant list
mode fp16
variant save half
variant use ptq
variant drop half
compare n=100
error local n=64
error accum n=64
hist dw1 act
hist dw1 weights top=4
hist dw1 weights
sensitivity n=100
quant wgran=tensor
diagnose n=100
taps save ${dir}/qs_json_taps.npz n=8
taps compare ${dir}/qs_json_taps.npz
diagnose n=100 taps=${dir}/qs_json_taps.npz
ties n=8
ties dw1 n=8
convergence
convergence layer=dw1 tol=1%
quant wgran=channel
biascorr n=100
biascorr off
fallback drop<=0.005 to=fp16 n=100
variant save fb
pick drop<=10%
bench n=50 repeat=2
bench precisions=fp32,int8-dyn n=50 repeat=2
bench precisions=fp32,int8-static n=50 repeat=2 target=esp32s3
device
device target=esp32s3
device target=edgetpu
export ${dir}/qs_json_m.onnx
export ${dir}/qs_json_m.tflite variant=ptq
save ${dir}/qs_json_c.qsm
save ${dir}/qs_json_v.qsm variant=ptq
load ${dir}/qs_json_v.qsm
report ${dir}/qs_json_r.json drop<=10%
source tests/json/sourced.qs
play tests/json/demo.qs
