# Weight granularity per layer: diagnose's fix for mnist_dw's doctored dw1 is one command,
# it recovers the per-tensor drop as measured, and it survives a .qsm variant round trip.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
mode int8-static
quant wgran=tensor
eval
keep tensor
diagnose
check worst == dw1
check worst_channel == 5
check worst_fix == "quant wgran=channel layer=dw1"
quant wgran=channel layer=dw1
check wgran == tensor
check wgran_pinned == 1
eval
keep fixed
check accuracy >= 0.95
# the fixed plan: no weight finding left on dw1; what remains is the calibration's ranges
# still moving at 500 samples (advice)
diagnose
check n_findings == 1
check worst_kind == range-moving
variant save perlayer
save /tmp/qscope_wgran_layer.qsm variant=perlayer
load /tmp/qscope_wgran_layer.qsm
check current_variant == perlayer
quant
check wgran == tensor
check wgran_pinned == 1
source scripts/train/mnist_data.qs
calibrate n=500
variant use perlayer
eval
check accuracy == fixed.accuracy
# auto: the layer follows the plan's granularity again
quant wgran=auto layer=dw1
check wgran_pinned == 0
eval
check accuracy == tensor.accuracy
