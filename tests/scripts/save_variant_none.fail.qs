# save variant=NAME of a variant that does not exist: a clear message.
load models/falls.qsm
mode int8-dyn
variant save dyn
save /tmp/qscope_save_variant_none.qsm variant=qat
