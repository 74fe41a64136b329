/* Column panels for convolution as one matrix product over the whole batch.
 *
 * A conv's im2col matrix for one group has a row per (input channel, kernel tap) and a
 * column per (sample, output position); the GEMM C (OC/group, cols) = W (OC/group, K) x
 * col (K, cols) then covers every sample at once. The panel is built in chunks of columns
 * (ConvChunks) so scratch stays bounded whatever the batch.
 *
 * Chunks never mix part of one sample with another: a chunk is either whole samples or a
 * piece of one sample, whose cut points depend on the sample's geometry only. So every
 * scatter-add (col2im) sums each sample's terms in the same order whatever the batch
 * size or the sample's position in it (docs/reproducibility.md). All functions split
 * their work on the thread pool by rows or channels, never within one output's sum. */
#ifndef QS_CONV_COLS_H
#define QS_CONV_COLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The geometry of one group of a 2-D conv on one sample (1-D: h = oh = kh = 1). The
 * input is (c, h, w) and the output positions (oh, ow); tap (ki, kj) of output (y, x)
 * reads input (y * sh - pt + ki * dh, x * sw - pl + kj * dw), zero outside. */
typedef struct ConvPlane {
    int64_t c, h, w;
    int64_t oh, ow;
    int64_t kh, kw, sh, sw, dh, dw, pt, pl;
} ConvPlane;

/* Column chunks over n samples of p positions each: `samples` whole samples per chunk
 * when one sample fits the budget, else pieces of `piece` positions of one sample. */
typedef struct ConvChunks {
    int64_t n, p;
    int64_t samples;  /* >= 1 */
    int64_t piece;    /* == p when samples > 1 */
} ConvChunks;

/* One chunk: samples [b0, b0 + nb), positions [p0, p0 + np) of each; cols = nb * np. */
typedef struct ConvChunk {
    int64_t b0, nb, p0, np;
} ConvChunk;

/* The bytes of panels a chunk may hold: about one core's L2, where the panel built for a
 * chunk stays while the GEMM reads it. */
#define CONV_CHUNK_BYTES ((size_t)1 << 20)

/* The i in [0, count) with off + i * step in [0, in), as [*lo, *hi): the output positions
 * along one axis whose tap at offset off reads inside the input (ops/geometry.h's
 * geom_range is this function). Inline: conv and pool loops call it per tap. */
static inline void conv_tap_range(int64_t count, int64_t in, int64_t step, int64_t off,
                                  int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + step - 1) / step;
    int64_t h = in - 1 - off < 0 ? 0 : (in - 1 - off) / step + 1;
    if (h > count)
        h = count;
    if (l > h)
        l = h;
    *lo = l;
    *hi = h;
}

/* Plans chunks for n samples of p positions with `rows` floats per column. */
ConvChunks conv_chunks(int64_t n, int64_t p, int64_t rows);
/* The widest chunk's column count (what scratch must hold per row). */
int64_t conv_chunks_cols(const ConvChunks *c);
/* The number of chunks, and chunk i (0 <= i < count) in increasing sample and position. */
int64_t conv_chunks_count(const ConvChunks *c);
ConvChunk conv_chunk_at(const ConvChunks *c, int64_t i);

/* col (c * kh * kw, cols) with leading dimension ld from chunk k of the batch x, whose
 * sample s begins at x + s * x_stride (its first channel is g's channel 0). */
void conv_im2col(const ConvPlane *g, const float *x, int64_t x_stride, ConvChunk k,
                 float *col, int64_t ld);
/* The adjoint: dx (as x above) += col, scattered back; padding taps are dropped. Each
 * element takes its terms in increasing (row, column) order. */
void conv_col2im(const ConvPlane *g, const float *col, int64_t ld, ConvChunk k, float *dx,
                 int64_t x_stride);

/* The im2col matrix of chunk k gathered straight into a GEMM's packed slivers (kern/sgemm.h's
 * SgemmGather.fill, ctx a ConvGather): rows [k0, k0 + kc) and columns [j0, j0 + nc) of
 * what conv_im2col would write, the same values (copies and zeros), as ceil(nc / w)
 * slivers w wide (w <= 512), out[(j / w) * kc * w + k * w + j % w], zero past nc. So the
 * column buffer and the GEMM's packing pass over it both disappear. */
typedef struct ConvGather {
    const ConvPlane *g;
    const float *x;
    int64_t x_stride;
    ConvChunk k;
} ConvGather;
void conv_gather_fill(const void *ctx, int64_t j0, int64_t nc, int64_t k0, int64_t kc, int w,
                      float *out);
/* Whether g suits conv_gather_fill's AVX-512 form (kern/conv_gather_avx512.c: 16 columns
 * of a row per masked load or gather): whole vectors of positions per sample, at most
 * CONV_GRID_TAPS taps. Then gathering is cheaper than building a column panel. */
#define CONV_GRID_TAPS 64
bool conv_gather_grid(const ConvPlane *g);
/* conv_gather_fill's AVX-512 form for such convs; false (nothing written) where it does
 * not apply (the chunk cut mid-vector, w not a multiple of 16). */
bool conv_gather_fill_grid(const ConvGather *cg, int64_t j0, int64_t nc, int64_t k0,
                           int64_t kc, int w, float *out);

/* Rows of a batch tensor to a panel and back: rows r < rows of sample s are
 * t + s * t_stride + r * p (p positions each); the panel is (rows, cols) with ld.
 * pack: panel = t; unpack: t = panel, or t += panel when add. */
void conv_pack_rows(const float *t, int64_t t_stride, int64_t rows, int64_t p, ConvChunk k,
                    float *panel, int64_t ld);
void conv_unpack_rows(const float *panel, int64_t ld, int64_t rows, int64_t p, ConvChunk k,
                      float *t, int64_t t_stride, bool add);

#endif
