# models/mnist_cnn.qsm: two conv+BN+ReLU+pool blocks and a dense head, trained by qscope.
# Run with scripts/train/make_models.sh, which saves the result.
init models/specs/mnist_cnn.json seed=1
source scripts/train/mnist_data.qs
train epochs=12 lr=0.002 batch=64 opt=adam schedule=cosine val=calib patience=4 seed=1
eval
