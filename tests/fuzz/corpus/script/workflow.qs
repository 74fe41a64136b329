load model.qsm; quant prec=int8 observer=minmax
calibrate split=calib n=64
eval split=test; keep base
check base.accuracy>=0.5
export out.onnx
