# export PATH.tflite: each variant by name, io= and batch=, and a part (docs/tflite.md).
# Every file is checked by the structural verifier before it is renamed into place.
load models/falls.qsm
data calib synth:falls n=200 seed=22
export /tmp/qscope_tflite_falls_fp32.tflite
check layout == tflite-fp32
check batch == 1
check tflite_ops == 10
export /tmp/qscope_tflite_falls_b4.tflite batch=4
check batch == 4
export /tmp/qscope_tflite_falls_fp16.tflite variant=fp16
check layout == tflite-fp16
export /tmp/qscope_tflite_falls_dyn.tflite variant=dynamic
check layout == tflite-dynamic
calibrate
export /tmp/qscope_tflite_falls_int8.tflite variant=int8
check layout == tflite-int8
check io == float
export /tmp/qscope_tflite_falls_int8io.tflite variant=int8 io=int8
check io == int8
export /tmp/qscope_tflite_falls_uint8io.tflite variant=int8 io=uint8
check io == uint8
mode int8-static
variant save ptq
mode fp32
export /tmp/qscope_tflite_falls_ptq.tflite variant=ptq
check layout == tflite-int8
load models/deepsets.qsm
export /tmp/qscope_tflite_encoder.tflite part=encoder
check layout == tflite-fp32
check part == encoder
