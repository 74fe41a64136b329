# device: the targets, then the profile of mnist_dw's float plan on an ESP32-S3 (no data or
# calibration needed): arena from tensor lifetimes, op support, the labelled estimate.
load models/mnist_dw.qsm
device
device target=esp32s3
