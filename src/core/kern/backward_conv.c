#include "kern/backward_conv.h"

#include <stdbool.h>
#include <string.h>

#include "kern/backward.h"
#include "kern/sgemm.h"
#include "kern/thread_buffer.h"

/* ---- col^T gathered into the dW product's packed slivers ----------------------------
 * The product dW (OC/group, K) = dY (OC/group, cols) col^T (cols, K) takes col^T as its
 * B: B(k, j) = col(j, k), k a batch column, j a (channel, tap) row. conv_gather_fill
 * gathers blocks of col row by row into a small tile, which is transposed into the
 * slivers (copies only, so the product sees the very values of col). */

#define T_ROWS 32  /* col rows per tile */
#define T_COLS 128 /* col columns per tile (conv_gather_fill takes up to 512) */

static void colt_fill(const void *ctx, int64_t j0, int64_t nc, int64_t k0, int64_t kc, int w,
                      float *out)
{
    float tmp[T_ROWS * T_COLS];
    for (int64_t s = 0; s * w < nc; s++) {
        float *sl = out + s * kc * w; /* sl[k * w + i] = col(j0 + s w + i, k0 + k) */
        int64_t r0 = j0 + s * w, iv = nc - s * w < w ? nc - s * w : w;
        for (int64_t i0 = 0; i0 < iv; i0 += T_ROWS) {
            int64_t ir = iv - i0 < T_ROWS ? iv - i0 : T_ROWS;
            for (int64_t c0 = 0; c0 < kc; c0 += T_COLS) {
                int64_t cn = kc - c0 < T_COLS ? kc - c0 : T_COLS;
                conv_gather_fill(ctx, k0 + c0, cn, r0 + i0, ir, (int)cn, tmp); /* tmp[i cn + k] */
                backward_transpose(tmp, cn, ir, cn, sl + c0 * w + i0, w);
            }
        }
        if (iv < w) /* the last sliver's rows past nc */
            for (int64_t k = 0; k < kc; k++)
                memset(sl + k * w + iv, 0, (size_t)(w - iv) * sizeof *sl);
    }
}

/* ---- the chunked definition, through sgemm() ----------------------------------------- */

/* dW and dX chunk by chunk in increasing sample order; dY's columns are read in place
 * when the chunk is one sample, else packed into the panel. */
static void plain_route(const ConvBackward *b)
{
    const ConvPlane *pl = b->pl;
    int64_t ohw = pl->oh * pl->ow, hw = pl->h * pl->w, kk = pl->c * pl->kh * pl->kw;
    int64_t oc = b->group * b->ocg, c = b->group * pl->c;
    float *col = b->col, *panel = b->panel;
    for (int64_t i = 0, count = conv_chunks_count(b->ch); i < count; i++) {
        ConvChunk k = conv_chunk_at(b->ch, i);
        int64_t cols = k.nb * k.np;
        for (int64_t gi = 0; gi < b->group; gi++) {
            const float *dyg = b->dy + gi * b->ocg * ohw, *dyc = panel;
            int64_t ld = cols;
            if (k.nb == 1) {
                dyc = dyg + k.b0 * oc * ohw + k.p0;
                ld = ohw;
            } else {
                conv_pack_rows(dyg, oc * ohw, b->ocg, ohw, k, panel, cols);
            }
            const float *wg = b->w + gi * b->ocg * kk; /* (OC/group, K) */
            if (b->dw) {
                conv_im2col(pl, b->x + gi * pl->c * hw, c * hw, k, col, cols);
                sgemm(false, true, b->ocg, kk, cols, 1.0f, dyc, ld, col, cols,
                      b->dw + gi * b->ocg * kk, kk, &sgemm_accumulate);
            }
            if (b->dx) {
                sgemm(true, false, kk, cols, b->ocg, 1.0f, wg, kk, dyc, ld, col, cols, NULL);
                conv_col2im(pl, col, cols, k, b->dx + gi * pl->c * hw, c * hw);
            }
        }
    }
}

/* ---- the whole-batch route ------------------------------------------------------------ */

typedef struct Work {
    float *panel; /* dY of one group, (OC/group, n * OH*OW); NULL when n == 1 */
    void *pa;     /* that panel packed as the dW product's A */
    void *pw;     /* W^T of one group packed as the dX product's A */
} Work;

static size_t round64(size_t b) { return (b + 63) / 64 * 64; }

/* The three parts in the thread's TBUF_BACKWARD block (kern/thread_buffer.h). */
static bool work_alloc(const ConvBackward *b, int64_t kk, int64_t ncols, bool gathered,
                       Work *wk)
{
    size_t panel = b->n > 1 ? round64((size_t)(b->ocg * ncols) * sizeof(float)) : 0;
    size_t pa = gathered ? sgemm_pack_a_bytes(b->ocg, ncols) : 0;
    size_t pw = b->dx ? sgemm_pack_a_bytes(kk, b->ocg) : 0;
    char *mem = thread_buffer(TBUF_BACKWARD, panel + pa + pw);
    if (!mem)
        return false;
    *wk = (Work){ panel ? (float *)mem : NULL, pa ? mem + panel : NULL,
                  pw ? mem + panel + pa : NULL };
    return true;
}

/* Chunk by chunk from the panel: dW += dY col^T on im2col's columns when gathered is
 * false (dW small enough that storing it per chunk costs little), and dX through
 * col' = W^T dY, then col2im. */
static void chunks_group(const ConvBackward *b, int64_t gi, const float *dyp, int64_t ldp,
                         const Work *wk, bool gathered)
{
    const ConvPlane *pl = b->pl;
    int64_t ohw = pl->oh * pl->ow, hw = pl->h * pl->w, kk = pl->c * pl->kh * pl->kw;
    int64_t c = b->group * pl->c;
    const float *wg = b->w + gi * b->ocg * kk;
    float *dw = gathered ? NULL : b->dw;
    SgemmPacked *pw = b->dx ? sgemm_pack_a_at(wk->pw, true, kk, b->ocg, 1.0f, wg, kk) : NULL;
    for (int64_t i = 0, count = conv_chunks_count(b->ch); i < count; i++) {
        ConvChunk k = conv_chunk_at(b->ch, i);
        int64_t cols = k.nb * k.np;
        const float *dyc = dyp + k.b0 * ohw + k.p0; /* the chunk's columns of the panel */
        if (dw) {
            conv_im2col(pl, b->x + gi * pl->c * hw, c * hw, k, b->col, cols);
            sgemm(false, true, b->ocg, kk, cols, 1.0f, dyc, ldp, b->col, cols,
                  dw + gi * b->ocg * kk, kk, &sgemm_accumulate);
        }
        if (!b->dx)
            continue;
        if (sgemm_packed_a_pays(kk, cols))
            sgemm_packed_a(pw, false, cols, dyc, ldp, b->col, cols, NULL);
        else
            sgemm(true, false, kk, cols, b->ocg, 1.0f, wg, kk, dyc, ldp, b->col, cols, NULL);
        conv_col2im(pl, b->col, cols, k, b->dx + gi * pl->c * hw, c * hw);
    }
}

/* dW's bytes from which one product over the whole batch (dW loaded and stored once per k
 * block) beats chunks (dW loaded and stored once per chunk): about half an L2. */
#define DW_GATHER_BYTES ((int64_t)1 << 18)

void backward_conv_cols(const ConvBackward *b)
{
    const ConvPlane *pl = b->pl;
    int64_t ohw = pl->oh * pl->ow, hw = pl->h * pl->w, kk = pl->c * pl->kh * pl->kw;
    int64_t ncols = b->n * ohw, oc = b->group * b->ocg;
    bool gathered = b->dw && conv_chunks_count(b->ch) > 1 &&
                    b->ocg * kk * (int64_t)sizeof(float) >= DW_GATHER_BYTES;
    Work wk;
    if (sgemm_backend() != SGEMM_QSCOPE || !work_alloc(b, kk, ncols, gathered, &wk)) {
        plain_route(b);
        return;
    }
    ConvChunk all = { 0, b->n, 0, ohw };
    for (int64_t gi = 0; gi < b->group; gi++) {
        const float *dyp = b->dy + gi * b->ocg * ohw; /* (OC/group, columns), ld ldp */
        int64_t ldp = ohw;
        if (wk.panel) {
            conv_pack_rows(dyp, oc * ohw, b->ocg, ohw, all, wk.panel, ncols);
            dyp = wk.panel;
            ldp = ncols;
        }
        if (gathered) {
            SgemmPacked *pa = sgemm_pack_a_at(wk.pa, false, b->ocg, ncols, 1.0f, dyp, ldp);
            ConvGather cg = { pl, b->x + gi * pl->c * hw, b->group * pl->c * hw, all };
            SgemmGather gb = { colt_fill, &cg };
            sgemm_packed_a_gather(pa, &gb, kk, b->dw + gi * b->ocg * kk, kk, &sgemm_accumulate);
        }
        if (b->dx || !gathered)
            chunks_group(b, gi, dyp, ldp, &wk, gathered);
    }
}
