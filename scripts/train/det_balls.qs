# models/det_balls.qsm: a small convolutional heat-map detector for balls in 64x64 images
# (models/specs/det_balls.json: five 3x3 conv+BN+ReLU blocks, two of stride 2, a nearest
# 2x upsample, a skip concat at stride 2 and a 1x1 head; 24,881 parameters), trained by
# qscope on the seeded synth:balls generator (docs/data.md). Issue 8, workflows 1 and 3.
# Run with scripts/train/make_models.sh det_balls, or
#   qscope -c 'source scripts/train/det_balls.qs; save models/det_balls.qsm'
# The heat-map targets are soft (a Gaussian per ball), so the loss is BCE per cell; the
# epoch is chosen on a validation split (seed 5) that no workflow evaluates on.
init models/specs/det_balls.json seed=1
data train synth:balls n=4000 seed=1
data calib synth:balls n=300 seed=5
train epochs=10 lr=0.004 batch=32 opt=adam loss=bce schedule=cosine val=calib seed=1
data eval synth:balls n=1000 seed=2
eval
