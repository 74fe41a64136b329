# A short demo for the workbench tests.
# Step one loads the model.
load models/mnist_cnn.qsm
# Step two switches to FP16.
mode fp16
# Step three says hello.
echo hello from step three
# That was all.
