# Script variables: let, let ?=, ${NAME}, keep and checks between two results.
let n=200 name=mnist
let n?=999 split?=eval
echo ${name} ${n} ${split}
load models/mnist_cnn.qsm
data ${split} models/data/mnist_test.npz scale=0.00392156886 n=${n}
eval
keep fp32
mode fp16
eval
check accuracy == fp32.accuracy
check accuracy >= fp32.accuracy-0.005
check n == fp32.n
check precision != fp32.precision
check fp32.precision == fp32
let
