/* Sliding-window geometry shared by Conv, ConvTranspose and the pools: the window's
 * attributes checked against the spatial rank, a 1-D window seen as 2-D, output lengths
 * and the index ranges that keep a window inside its input. */
#ifndef QS_GEOMETRY_H
#define QS_GEOMETRY_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "kern/conv_cols.h"
#include "ops/node.h"

/* Window attribute values beyond this are rejected, so index arithmetic cannot overflow. */
#define GEOM_ATTR_MAX INT32_MAX

/* A 2-D window; a 1-D one (N, C, L) is the 2-D one with H = 1, kernel 1, stride 1,
 * dilation 1 and no pads along H. */
typedef struct Window {
    int64_t kh, kw;               /* kernel */
    int64_t sh, sw;               /* strides */
    int64_t dh, dw;               /* dilations */
    int64_t pt, pl, pb, pr;       /* pads: top, left, bottom, right */
} Window;

/* OpDef.parse of Conv, ConvTranspose, MaxPool and AveragePool: reads the window
 * attributes and rejects auto_pad other than NOTSET, ConvTranspose's output_shape and a
 * pool without kernel_shape. */
QsStatus geom_parse(const Node *n, OpParams *p, QsError *err);

/* The list attribute `name` of n (a, parsed) as exactly `count` values into out: `def`
 * for each when absent; fails unless it is a list of ints of that length with every
 * value in [lo, GEOM_ATTR_MAX]. Messages name the op and node. */
QsStatus geom_ints(const Node *n, const char *name, const ParamInts *a, int count, int64_t def,
                   int64_t lo, int64_t *out, QsError *err);

/* w from per-axis kernel k, strides s, dilations d (sp values each) and pads (begins then
 * ends, 2 * sp values), for spatial rank sp 1 or 2. */
void geom_window(int sp, const int64_t *k, const int64_t *s, const int64_t *d,
                 const int64_t *pads, Window *w);

/* The window of a node that infer accepted (Conv, ConvTranspose or a pool) for spatial
 * rank sp: kernel from `kernel` (sp values, the weight's) or, when NULL, from the node's
 * kernel_shape. For code that runs a node after its graph was finalized. */
void geom_node_window(const Node *n, int sp, const int64_t *kernel, Window *w);

/* The elements a Slice node takes of input shape x: its output shape y and, per axis
 * (QS_MAX_DIMS values each), the first index and the step (1 where one element or none
 * is taken). */
QsStatus geom_slice(const Node *n, const Shape *x, Shape *y, int64_t *begin, int64_t *step,
                    QsError *err);

/* The extent of kernel k with dilation d: (k - 1) * d + 1. */
int64_t geom_extent(int64_t k, int64_t d);

/* Output length along one axis of a window sliding over in + p0 + p1 (the extent must
 * fit: checked by the caller). With ceil_mode, PyTorch's rule (pooling_output_shape with
 * asymmetric pads): rounds up, but drops a last window that would start in the end pad. */
int64_t geom_out_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0, int64_t p1,
                     bool ceil_mode);

/* ConvTranspose's output length along one axis:
 * (in - 1) * s - p0 - p1 + (k - 1) * d + 1 + out_pad. */
int64_t geom_transposed_len(int64_t in, int64_t k, int64_t s, int64_t d, int64_t p0,
                            int64_t p1, int64_t out_pad);

/* The i in [0, count) whose input index off + i * step lies in [0, in), as [*lo, *hi).
 * Conv: the output positions one kernel tap reads inside the input (count = output
 * length, step = stride, off = the tap's offset); pools: the taps of one window inside
 * the input (count = kernel, step = dilation, off = the window's start). */
static inline void geom_range(int64_t count, int64_t in, int64_t step, int64_t off,
                              int64_t *lo, int64_t *hi)
{
    conv_tap_range(count, in, step, off, lo, hi);
}

/* ---- MatMul (numpy.matmul) ---------------------------------------------------------- */

/* The operands as stacks of matrices after numpy's 1-D promotion: A (batch_a..., M, K),
 * B (batch_b..., K, N), both batch parts right-aligned to `rank` dims. */
typedef struct MatMulGeom {
    int64_t m, k, n;
    int rank;                    /* batch rank of the output */
    int64_t bo[QS_MAX_DIMS];     /* output batch dims */
    int64_t ba[QS_MAX_DIMS];     /* A batch dims, padded with 1 on the left */
    int64_t bb[QS_MAX_DIMS];     /* B batch dims, padded with 1 on the left */
} MatMulGeom;

/* MatMul node n's geometry for operands a and b, and its output shape when out is not
 * NULL; QS_ESHAPE naming n when K differs or the batch dims do not broadcast. */
QsStatus geom_matmul(const Node *n, const Shape *a, const Shape *b, MatMulGeom *g,
                     Shape *out, QsError *err);

/* The matrices of output batch entry t (0 <= t < product of bo): A's entry *ea and B's
 * entry *eb (stride 0 along broadcast dims). */
void geom_matmul_entry(const MatMulGeom *g, int64_t t, int64_t *ea, int64_t *eb);

#endif
