# A script stops at its first failing command with FILE:LINE on stderr.
load tests/fixtures/models/tiny_cnn.qsm

evaluate split=eval
echo never reached
