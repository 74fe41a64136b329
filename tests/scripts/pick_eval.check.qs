# pick decides on eval only when told, and then says so: on the 2000 test digits int8-dyn
# loses nothing to the float model, so it wins drop<=0.1% there (on calib it does not:
# tests/scripts/pick.check.qs).
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
mode int8-dyn
pick drop<=0.1% split=eval
check winner == int8-dyn
check decided_on == eval
check scored_on == eval
check warning != none
