/* The column kernel's backward of a grouped 2-D convolution (ops/op_conv.c's CONV_IM2COL
 * route): dW and dX from the input x, the weights w and the output gradient dY.
 *
 * The numbers are those of the chunked definition, bit for bit (kern/sgemm.h's rule,
 * docs/reproducibility.md):
 *   - dW (OC/group, K) += dY col^T: each element one float chain of FMAs over the batch's
 *     columns (sample, then position) in increasing order, starting from dW's value;
 *   - dX: per chunk of kern/conv_cols.h's ConvChunks, col' = W^T dY (each element a chain
 *     over the group's output channels from 0), then conv_col2im adds col' into dX.
 * How: dY is copied once into a (OC/group, batch columns) panel that both products read,
 * and W^T is packed once per call instead of once per chunk. A large dW (from a quarter
 * MiB, over several chunks) is one product over the whole batch whose second operand,
 * col^T, is gathered from x straight into the GEMM's packed slivers (no column buffer, no
 * transposing pack, dW read and written once per k block instead of once per chunk); a
 * small one takes im2col's chunks. With `set blas=openblas` or when memory is short, the
 * plain chunked route runs (the same products through sgemm()). */
#ifndef QS_BACKWARD_CONV_H
#define QS_BACKWARD_CONV_H

#include <stdint.h>

#include "kern/conv_cols.h"

/* One call's operands. x (n, group * pl->c, h, w); w (group * ocg, pl->c, kh, kw);
 * dy (n, group * ocg, oh, ow); dx like x, dw like w, either NULL when not wanted. col and
 * panel: the caller's scratch, (K, cols) and (ocg, cols) floats for cols =
 * conv_chunks_cols(ch), K = pl->c * kh * kw; ch: conv_chunks(n, oh * ow, K + ocg). */
typedef struct ConvBackward {
    const ConvPlane *pl;
    const ConvChunks *ch;
    int64_t n, group, ocg;
    const float *x, *w, *dy;
    float *dx, *dw;
    float *col, *panel;
} ConvBackward;

void backward_conv_cols(const ConvBackward *b);

#endif
