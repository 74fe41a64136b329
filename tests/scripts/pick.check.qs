# pick on hand-made variants of mnist_dw: constraints, ties, export. pick decides on the
# calib split (the 1000 held-out training digits, float 95.60 %) and scores the winner on
# eval (the 2000 test digits, float 95.90 %).
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
mode int8-static
quant wgran=tensor
variant save pt
quant wgran=channel
variant save pc
mode int8-dyn
variant save dyn2
# dyn2 is the int8-dyn plan again: a tie in metric and size goes to the row listed first
pick size<=10KB drop<=1%
check winner == int8-dyn
check decided_on == calib
check scored_on == eval
# int8-dyn loses 0.10 points on calib and nothing on eval
check winner_metric == 0.955
check scored_metric == 0.959
keep pct
# a drop is a fraction of the metric: drop<=0.01 is drop<=1%
pick size<=10KB drop<=0.01
check winner == pct.winner
check winner_metric == pct.winner_metric
# only the per-tensor variant is small enough
pick size<=9KB
check winner == pt
# on calib every int8-static row loses more than 0.1 point and int8-dyn 0.1: fp16 ties fp32
# (scores higher than int8-dyn) and is smaller than fp32
pick drop<=0.1% export=/tmp/qscope_pick_test.qsm
check winner == fp16
load /tmp/qscope_pick_test.qsm
check variants == 1
