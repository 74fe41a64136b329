# models/mnist_mlp.qsm: 784-128-64-10 with ReLU, trained by qscope from seed 1.
# Run with scripts/train/make_models.sh, which saves the result.
init models/specs/mnist_mlp.json seed=1
source scripts/train/mnist_data.qs
train epochs=20 lr=0.001 batch=64 opt=adam val=calib patience=5 seed=1
eval
