# pick on hand-made variants of mnist_dw (float 96.00 %): constraints, ties, export.
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
# only the per-tensor variant is small enough
pick size<=9KB
check winner == pt
# int8-dyn loses nothing here and is the smallest of those that lose nothing
pick drop<=0.1% export=/tmp/qscope_pick_test.qsm
check winner == int8-dyn
load /tmp/qscope_pick_test.qsm
check variants == 1
