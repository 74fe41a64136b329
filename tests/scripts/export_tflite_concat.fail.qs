# A full-int8 .tflite whose Concat inputs the plan quantizes apart: TFLite's CONCATENATION
# needs equal parameters, so the export names the layer and the rule instead of changing a
# figure.
load models/det_balls.qsm
data calib synth:balls n=40 seed=3
calibrate
export /tmp/qscope_tflite_det_int8.tflite variant=int8
