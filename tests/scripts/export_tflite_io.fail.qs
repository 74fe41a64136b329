# io=int8 needs the int8 variant.
load models/falls.qsm
export /tmp/qscope_tflite_io.tflite io=int8
