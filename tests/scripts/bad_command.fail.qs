# A script stops at its first failing command with FILE:LINE on stderr and status 1.
load tests/fixtures/models/tiny_cnn.qsm

evaluate split=eval
echo never reached
