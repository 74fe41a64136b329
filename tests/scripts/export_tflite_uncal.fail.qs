# variant=int8 needs a calibration.
load models/falls.qsm
export /tmp/qscope_tflite_uncal.tflite variant=int8
