# save PATH variant=NAME writes the variant alone on the weights it runs on (a QAT
# variant's own fine-tuned weights), marked current: loading the file and evaluating gives
# exactly the variant's figures. The plan is deliberately coarse (4 bits) so that PTQ loses
# a lot and one QAT epoch must move the weights: a file holding the session's weights
# instead could not reproduce the QAT figures.
load models/falls.qsm
data train synth:falls n=600 seed=21
data calib synth:falls n=300 seed=22
data eval synth:falls n=400 seed=23
calibrate
mode int8-static
quant bits=4
eval
keep ptq
variant save ptq
qat epochs=1 lr=0.001 val=calib seed=1
check best_epoch == 1
variant use qat
eval
keep qat
check accuracy > ptq.accuracy
save /tmp/qscope_save_variant_qat.qsm variant=qat
check weights == own
check variant == qat
variant use ptq
save /tmp/qscope_save_variant_ptq.qsm variant=ptq
check weights == session
# the whole session: no variant is current when it loads, QAT variants left out
save /tmp/qscope_save_variant_all.qsm
check variants == 2
load /tmp/qscope_save_variant_qat.qsm
check variants == 1
check current_variant == qat
eval
check accuracy == qat.accuracy
check n == qat.n
check precision == qat.precision
load /tmp/qscope_save_variant_ptq.qsm
check current_variant == ptq
eval
check accuracy == ptq.accuracy
load /tmp/qscope_save_variant_all.qsm
check variants == 1
mode fp32
eval
check accuracy > ptq.accuracy
