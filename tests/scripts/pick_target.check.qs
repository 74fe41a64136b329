# pick judged on a device: latency is the target's estimate, rows the runtime cannot run
# (int8-dyn's hybrid kernels, fp16's float16 DEQUANTIZE on TFLite Micro) fail by name.
# Sizes are the .tflite files (fp32 35.8 KB, fp16 22.0 KB, int8-static 20.6 KB): only
# int8-static meets every rule.
load models/mnist_dw.qsm
source scripts/train/mnist_data.qs
calibrate n=500
pick size<=24KB latency<=20ms target=esp32s3
check winner == int8-static
check profile == esp32s3
check latency_from == "estimate (docs/devices.md)"
# on the Edge TPU every plan runs (what it cannot map runs on the host CPU)
pick latency<=20ms target=edgetpu
check winner == fp16
# without a target the measured latency judges, as before
pick size<=10KB
check latency_from == "measured here"
# bench reports the estimate pick used for the winner (7.018 ms in pick's table)
mode int8-static
bench n=10 repeat=1 target=esp32s3
check profile == esp32s3
check est_ms > 7.017
check est_ms < 7.019
check arena_bytes == 14112
