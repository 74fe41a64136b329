/* The integer run of an int8-static linear unit (STEP_LIN_Q fused as QLinearConv / QGemm):
 * int8 rows against the weights packed at lowering (LinUnit.wp), each block of int32 rows
 * requantized by the epilogue while it is in cache (bias and zero-point correction,
 * the target's multiplier and rounding, clamp, int8 store) instead of writing an int32
 * matrix. A conv is one product per group over the rows of the whole batch, made by im2row
 * in bounded chunks, its results transposed into the output planes; a pointwise conv on
 * the AVX-512 VNNI row is the planes form instead (qgemm.h: weights times the input
 * planes, chunks of pixel columns, each channel's row requantized straight into its
 * planes, no transpose). A depthwise conv is a direct loop per plane, in blocks of planes
 * of one sample requantized at once.
 *
 * Threads: the work is cut into units (chunks of rows of one group, or planes), spread
 * over parts run by pool_for, each part with its own slice of the scratch. Every output
 * element is computed by exact integer arithmetic from the same inputs whatever unit or
 * part holds it, so the result is the same for any thread count. */
#include <string.h>

#include "kern/pool.h"
#include "qexec/qgemm.h"
#include "qexec/qkernels.h"
#include "qexec/qkernels_dw.h"

enum {
    QL_PARTS_MAX = 16,          /* scratch slices at most */
    QL_COL_BYTES = 32 * 1024,   /* im2row bytes per chunk of rows: stays in L1/L2 */
    QL_GEMM_ROWS = 24,          /* rows per unit of a plain product */
    QL_TILE_BYTES = 32 * 1024,  /* conv: int8 results held before their transposed store */
    QL_BLOCK_ROWS = 12,         /* the most rows qgemm hands an epilogue at once */
    QL_TILE_ROWS_MAX = 96,
    QL_PLANE_COLS_MAX = 512,    /* planes form: columns per chunk at most */
};

/* A depthwise conv on a map at most 16 wide (a row fills at most one vector), on the
 * AVX-512 level: 16 channels of one sample across lanes (qk_dw_chan) instead of a plane
 * at a time. */
static bool ql_dw_chan(const LinUnit *u, const CDims *d, SimdLevel level)
{
    return level >= SIMD_AVX512 && d->ocg == 1 && d->cg == 1 && d->ow <= 16 &&
           u->ca.w.kh * u->ca.w.kw <= DWF_MAX_TAPS;
}

/* Its scratch: the padded channel-interleaved input, the int32 sums, the int8 results,
 * the input interleaved before its rows move into the padding. */
static size_t ql_dw_chan_t_bytes(const LinUnit *u, const CDims *d)
{
    return qk_align(qk_dw_chan_bytes(&u->ca, d));
}

static size_t ql_dw_chan_bytes(const LinUnit *u, const CDims *d)
{
    size_t ohw = (size_t)(d->oh * d->ow);
    return ql_dw_chan_t_bytes(u, d) + qk_align(ohw * DWF_LANES * sizeof(int32_t)) +
           qk_align(ohw * DWF_LANES) + qk_align((size_t)(d->h * d->w * DWF_LANES));
}

/* How one run is cut. */
typedef struct QlCut {
    int64_t rows;       /* rows of the product per group (conv: N OH OW), or planes (DW) */
    int64_t chunk;      /* rows per unit */
    int64_t nchunks;    /* units per group */
    int64_t units;      /* every group */
    size_t col_bytes;   /* conv: the chunk's im2row rows; DW: the int32 plane */
    int64_t tile_rows;  /* conv: rows of results the tile holds */
    size_t tile_bytes;
    size_t part_bytes;  /* scratch per part */
    bool planes;        /* a pointwise conv in the planes form: chunks are columns */
} QlCut;

/* A 1x1 conv, stride 1, no padding, one group: its input planes are its GEMM operand
 * (qgemm.h's planes form). */
static bool ql_pointwise(const LinUnit *u)
{
    const Window *w = &u->ca.w;
    return u->kind == LIN_CONV && u->ca.group == 1 && w->kh == 1 && w->kw == 1 &&
           w->sh == 1 && w->sw == 1 && !w->pt && !w->pl && !w->pb && !w->pr;
}

/* A conv of one group with fewer than a panel's 32 output channels: the usual product
 * (pixels as rows against the weights' panels) would leave most lanes empty, so it runs in
 * the planes form on its im2col columns (qgemm_planes_pack_conv) when the row has it. */
static bool ql_conv_planes(const LinUnit *u, const CDims *d, QgConvCols *g)
{
    if (u->kind != LIN_CONV || u->ca.group != 1 || ql_pointwise(u) || u->oc >= 32)
        return false;
    const Window *w = &u->ca.w;
    *g = (QgConvCols){ .c = d->c, .h = d->h, .w = d->w, .oh = d->oh, .ow = d->ow,
                       .kh = w->kh, .kw = w->kw, .sh = w->sh, .sw = w->sw, .dh = w->dh,
                       .dw = w->dw, .pt = w->pt, .pl = w->pl,
                       .zp = (int8_t)u->in_qp.zero_point };
    return (w->sw == 1 || w->sw == 2) && w->dw == 1;
}

/* The conv planes form's weights (OC, qgemm_planes_conv_k), zero in the padding taps, at
 * the head of the scratch. */
static size_t ql_conv_weights_bytes(const LinUnit *u, const QgConvCols *g)
{
    return qk_align((size_t)(u->oc * qgemm_planes_conv_k(g)));
}

static void ql_conv_weights(const LinUnit *u, const QgConvCols *g, int8_t *w)
{
    const int64_t kw4 = qgemm_planes_conv_kw4(g), rows = u->oc * g->c * g->kh;
    for (int64_t r = 0; r < rows; r++) {
        memcpy(w + r * kw4, u->wq + r * g->kw, (size_t)g->kw);
        memset(w + r * kw4 + g->kw, 0, (size_t)(kw4 - g->kw));
    }
}

/* The planes form's cut: chunks of N OH OW columns whose packed bytes stay in cache. */
static QlCut ql_cut_planes(const LinUnit *u, const Shape *y, int64_t k)
{
    QlCut c;
    memset(&c, 0, sizeof c);
    c.planes = true;
    c.rows = shape_numel(y) / u->oc;
    int64_t ch = QL_COL_BYTES / (k > 0 ? k : 1);
    ch -= ch % 32; /* whole panels */
    c.chunk = ch < 32 ? 32 : ch > QL_PLANE_COLS_MAX ? QL_PLANE_COLS_MAX : ch;
    c.col_bytes = qk_align(qgemm_planes_bytes(k, c.chunk));
    c.part_bytes = c.col_bytes + qk_align(qgemm_planes_work_bytes(c.chunk));
    c.nchunks = (c.rows + c.chunk - 1) / c.chunk;
    c.units = c.nchunks;
    return c;
}

static QlCut ql_cut(const LinUnit *u, const Shape *x, const Shape *y)
{
    QlCut c;
    memset(&c, 0, sizeof c);
    if (u->kind == LIN_GEMM) {
        c.rows = shape_numel(y) / u->oc;
        c.chunk = QL_GEMM_ROWS;
        c.part_bytes = qk_align(qgemm_work_bytes(u->oc, u->k));
    } else {
        CDims d = qk_dims(&u->ca, x, y);
        if (u->kind == LIN_DW) {
            c.rows = d.n * d.oc;
            c.chunk = 1;
            /* a plane, or a block of planes when the flat kernel runs */
            c.col_bytes = qk_align((size_t)(qk_dw_block_planes(&u->ca, &d) * d.oh * d.ow) *
                                   sizeof(int32_t));
            c.part_bytes = c.col_bytes + qk_align(qk_dw_pad_bytes(&u->ca, &d));
            if (ql_dw_chan(u, &d, SIMD_AVX512) && ql_dw_chan_bytes(u, &d) > c.part_bytes)
                c.part_bytes = ql_dw_chan_bytes(u, &d);
        } else {
            c.rows = d.n * d.oh * d.ow;
            int64_t ch = QL_COL_BYTES / (u->k > 0 ? u->k : 1);
            ch -= ch % 12; /* whole blocks of every qgemm row */
            c.chunk = ch < 12 ? 12 : ch;
            c.col_bytes = qk_align((size_t)(c.chunk * u->k));
            /* whole qgemm blocks, so that a block always fits after a flush */
            int64_t tr = QL_TILE_BYTES / (d.ocg > 0 ? d.ocg : 1);
            tr = tr > QL_TILE_ROWS_MAX ? QL_TILE_ROWS_MAX : tr;
            c.tile_rows = tr < QL_BLOCK_ROWS ? QL_BLOCK_ROWS : tr - tr % QL_BLOCK_ROWS;
            c.tile_bytes = qk_align((size_t)(c.tile_rows * d.ocg));
            c.part_bytes = c.col_bytes + c.tile_bytes + qk_align(qgemm_work_bytes(d.ocg, u->k));
        }
    }
    c.nchunks = (c.rows + c.chunk - 1) / c.chunk;
    c.units = c.nchunks * (u->kind == LIN_CONV ? u->ca.group : 1);
    return c;
}

/* Parts the scratch is sized for: the pool's threads (at least 2, so that `set threads=2`
 * after the batch was laid out still splits), never more than there are units. */
static int64_t ql_parts_sized(const QlCut *c)
{
    int64_t p = pool_threads() < 2 ? 2 : pool_threads();
    p = p > QL_PARTS_MAX ? QL_PARTS_MAX : p;
    return p > c->units ? (c->units > 0 ? c->units : 1) : p;
}

size_t qk_lin_q_int_scratch(const Step *s, const StepIO *io)
{
    QlCut c = ql_cut(s->lin, &io->in[0]->shape, &io->out.shape);
    size_t bytes = (size_t)ql_parts_sized(&c) * c.part_bytes;
    QgConvCols g;
    bool conv_planes = false;
    if (s->lin->kind == LIN_CONV) {
        CDims d = qk_dims(&s->lin->ca, &io->in[0]->shape, &io->out.shape);
        conv_planes = ql_conv_planes(s->lin, &d, &g);
    }
    if (ql_pointwise(s->lin) || conv_planes) {
        /* either form may run: the kernel row is chosen per run */
        int64_t k = conv_planes ? qgemm_planes_conv_k(&g) : s->lin->k;
        QlCut p = ql_cut_planes(s->lin, &io->out.shape, k);
        size_t pbytes = (size_t)ql_parts_sized(&p) * p.part_bytes +
                        (conv_planes ? ql_conv_weights_bytes(s->lin, &g) : 0);
        bytes = pbytes > bytes ? pbytes : bytes;
    }
    return bytes;
}

typedef struct QlRun {
    const LinUnit *u;
    QlCut cut;
    CDims d;                /* conv, DW */
    const QgConvCols *conv; /* planes form of a conv that is not pointwise; else NULL */
    const int8_t *wconv;    /* its weights (ql_conv_weights) */
    const DwFlat *flat;     /* DW across planes; else NULL (a plane at a time) */
    bool dw_chan;           /* DW with channels across lanes (ql_dw_chan) */
    int64_t dw_planes;      /* DW: planes per unit (a block of one sample) */
    const int8_t *x;
    int8_t *y;
    char *scratch;
    int64_t nparts;
} QlRun;

/* The epilogue of one product: the rows' destination and the group's first channel. */
typedef struct QlEpi {
    const LinUnit *u;
    int8_t *y;
    int64_t r0;             /* the product's first row in the whole batch */
    int64_t c0;             /* the group's first channel */
    const CDims *d;         /* conv: (N, OC, OH, OW) output; NULL: (rows, OC) */
    QkRqVec rv;             /* conv: the lanes from the group's first channel */
    int8_t *tile;           /* conv: tile_rows x OCG results, rows t0 .. t0 + held - 1 */
    int64_t tile_rows, t0, held;
    SimdLevel level;
} QlEpi;

/* Dense: each row of the block is a row of the output (rows, OC), requantized across its
 * channels. */
static void ql_epi_gemm(void *ctx, int64_t m0, int64_t mr, const int32_t *acc, int64_t ld)
{
    const QlEpi *e = ctx;
    const LinUnit *u = e->u;
    qk_requant_block(acc, ld, mr, u->oc, u->corr, u->rq, u->rv, u->out_qp.zero_point, u->lo,
                     u->hi, e->y + (e->r0 + m0) * u->oc, u->oc, e->level);
}

/* Conv: the tile's rows stored transposed: row r is pixel r % (OH OW) of sample
 * r / (OH OW), and a channel's pixels are contiguous in its output plane, so each run of
 * rows within one sample is one transpose. Several blocks per flush make the runs long
 * enough to fill cache lines, instead of touching every channel's line per block. */
static void ql_flush_conv(QlEpi *e)
{
    const int64_t ohw = e->d->oh * e->d->ow, ocg = e->d->ocg;
    for (int64_t i = 0; i < e->held;) {
        int64_t r = e->r0 + e->t0 + i, b = r / ohw, p = r % ohw;
        int64_t run = ohw - p < e->held - i ? ohw - p : e->held - i;
        qk_transpose_i8(e->tile + i * ocg, ocg, run, ocg,
                        e->y + (b * e->u->oc + e->c0) * ohw + p, ohw);
        i += run;
    }
    e->held = 0;
}

/* Conv: the block's rows requantized across the group's channels into the tile (blocks
 * come in row order, so the tile holds consecutive rows). */
static void ql_epi_conv(void *ctx, int64_t m0, int64_t mr, const int32_t *acc, int64_t ld)
{
    QlEpi *e = ctx;
    const LinUnit *u = e->u;
    const int64_t ocg = e->d->ocg;
    if (e->held + mr > e->tile_rows)
        ql_flush_conv(e);
    if (e->held == 0)
        e->t0 = m0;
    qk_requant_block(acc, ld, mr, ocg, u->corr + e->c0, u->rq + e->c0, &e->rv,
                     u->out_qp.zero_point, u->lo, u->hi, e->tile + e->held * ocg, ocg,
                     e->level);
    e->held += mr;
}

/* The planes form: rows are output channels, each one's columns stored as runs of its
 * planes. */
static void ql_epi_planes(void *ctx, int64_t m0, int64_t mr, const int32_t *acc, int64_t ld)
{
    const QlEpi *e = ctx;
    const LinUnit *u = e->u;
    const int64_t ohw = e->d->oh * e->d->ow;
    for (int64_t i = 0; i < mr; i++) {
        int64_t c = m0 + i;
        QkRqVec rv = qk_rqvec_at(u->rv, c);
        qk_requant_runs(acc + i * ld, ld, e->r0, ohw, u->corr[c], &u->rq[c], &rv,
                        u->out_qp.zero_point, u->lo, u->hi, e->y + c * ohw, u->oc * ohw,
                        e->level);
    }
}

static void ql_unit_planes(const QlRun *R, int64_t un, char *buf)
{
    const LinUnit *u = R->u;
    const CDims *d = &R->d;
    int64_t r0 = un * R->cut.chunk, r1 = r0 + R->cut.chunk;
    r1 = r1 < R->cut.rows ? r1 : R->cut.rows;
    if (R->conv)
        qgemm_planes_pack_conv(R->conv, R->x, r0, r1 - r0, buf);
    else
        qgemm_planes_pack(R->x, d->c * d->h * d->w, d->h * d->w, u->k, r0, r1 - r0, buf);
    QlEpi e = { .u = u, .y = R->y, .r0 = r0, .d = d, .level = simd_level() };
    const int64_t k = R->conv ? qgemm_planes_conv_k(R->conv) : u->k;
    qgemm_planes_run(u->oc, k, R->conv ? R->wconv : u->wq, k, buf, r1 - r0,
                     buf + R->cut.col_bytes, ql_epi_planes, &e);
}

static void ql_unit_gemm(const QlRun *R, int64_t un, char *buf)
{
    const LinUnit *u = R->u;
    int64_t r0 = un * R->cut.chunk, r1 = r0 + R->cut.chunk;
    r1 = r1 < R->cut.rows ? r1 : R->cut.rows;
    QlEpi e = { .u = u, .y = R->y, .r0 = r0, .level = simd_level() };
    qgemm_packed(&u->wp[0], r1 - r0, R->x + r0 * u->k, u->k, buf, ql_epi_gemm, &e);
}

static void ql_unit_conv(const QlRun *R, int64_t un, char *buf)
{
    const LinUnit *u = R->u;
    const CDims *d = &R->d;
    int64_t g = un / R->cut.nchunks, ch = un % R->cut.nchunks;
    int64_t r0 = ch * R->cut.chunk, r1 = r0 + R->cut.chunk;
    r1 = r1 < R->cut.rows ? r1 : R->cut.rows;
    int8_t *col = (int8_t *)buf;
    qk_im2row_rows(&u->ca, d, R->x, g, (int8_t)u->in_qp.zero_point, r0, r1, col);
    QlEpi e = { .u = u, .y = R->y, .r0 = r0, .c0 = g * d->ocg, .d = d,
                .rv = qk_rqvec_at(u->rv, g * d->ocg),
                .tile = (int8_t *)(buf + R->cut.col_bytes), .tile_rows = R->cut.tile_rows,
                .level = simd_level() };
    qgemm_packed(&u->wp[g], r1 - r0, col, u->k, buf + R->cut.col_bytes + R->cut.tile_bytes,
                 ql_epi_conv, &e);
    ql_flush_conv(&e);
}

/* Block un / N of sample un % N, a plane at a time, then requantized at once; the zero
 * point is subtracted per tap, so only the bias is added. */
static void ql_unit_dw(const QlRun *R, int64_t un, char *buf)
{
    const LinUnit *u = R->u;
    const CDims *d = &R->d;
    int64_t b = un % d->n, o0 = un / d->n * R->dw_planes, ohw = d->oh * d->ow;
    int64_t np = d->oc - o0 < R->dw_planes ? d->oc - o0 : R->dw_planes;
    int64_t kk = u->ca.w.kh * u->ca.w.kw;
    int32_t *acc = (int32_t *)buf;
    const int64_t hw = d->h * d->w, all = d->n * d->c * hw; /* the input tensor's bytes */
    for (int64_t c = o0; c < o0 + np; c++) {
        int64_t at = (b * d->c + c / d->ocg) * hw;
        qk_dw_plane_in(&u->ca, d, R->x + at, at, all - at, u->wq + c * kk, u->in_qp.zero_point,
                       acc + (c - o0) * ohw, (int8_t *)buf + R->cut.col_bytes, simd_level());
    }
    QkRqVec rv = qk_rqvec_at(u->rv, o0);
    qk_requant_planes(acc, np, ohw, u->bq + o0, u->rq + o0, &rv, u->out_qp.zero_point, u->lo,
                      u->hi, R->y + (b * d->oc + o0) * ohw, simd_level());
}

/* Block un / N of sample un % N, 16 channels: laid out interleaved and padded with zp,
 * summed across lanes, requantized as rows of channels (the integers of the plane by
 * plane path) and stored into the planes by one byte transpose. */
static void ql_unit_dw_chan(const QlRun *R, int64_t un, char *buf)
{
    const LinUnit *u = R->u;
    const CDims *d = &R->d;
    const int64_t b = un % d->n, o0 = un / d->n * DWF_LANES, ohw = d->oh * d->ow;
    const int64_t np = d->oc - o0 < DWF_LANES ? d->oc - o0 : DWF_LANES;
    int8_t *t = (int8_t *)buf;
    int32_t *acc = (int32_t *)(buf + ql_dw_chan_t_bytes(u, d));
    int8_t *q = (int8_t *)acc + qk_align((size_t)(ohw * DWF_LANES) * sizeof(int32_t));
    qk_dw_chan_layout(&u->ca, d, R->x + (b * d->c + o0) * d->h * d->w, np,
                      (int8_t)u->in_qp.zero_point, q + qk_align((size_t)(ohw * DWF_LANES)), t);
    qk_dw_chan(&u->ca, d, t, u->wq + o0 * u->ca.w.kh * u->ca.w.kw, np, u->in_qp.zero_point,
               acc);
    int64_t corr[DWF_LANES];
    for (int64_t k = 0; k < np; k++)
        corr[k] = u->bq[o0 + k];
    QkRqVec rv = qk_rqvec_at(u->rv, o0);
    qk_requant_block(acc, DWF_LANES, ohw, np, corr, u->rq + o0, &rv, u->out_qp.zero_point,
                     u->lo, u->hi, q, DWF_LANES, SIMD_AVX512);
    qk_transpose_i8(q, DWF_LANES, ohw, np, R->y + (b * d->oc + o0) * ohw, ohw);
}

/* Block un / N of sample un % N (block-major, as the float path) across planes: as many
 * planes as the map's block (R->dw_planes). */
static void ql_unit_dw_flat(const QlRun *R, int64_t un, char *buf)
{
    const LinUnit *u = R->u;
    const CDims *d = &R->d;
    const DwFlat *f = R->flat;
    int64_t b = un % d->n, o0 = un / d->n * f->planes, ohw = d->oh * d->ow;
    int64_t np = d->oc - o0 < f->planes ? d->oc - o0 : f->planes;
    int32_t *acc = (int32_t *)buf;
    qk_dw_block(f, R->x + (b * d->c + o0) * d->h * d->w, u->wq + o0 * f->taps, np,
                u->in_qp.zero_point, acc);
    QkRqVec rv = qk_rqvec_at(u->rv, o0);
    qk_requant_planes(acc, np, ohw, u->bq + o0, u->rq + o0, &rv, u->out_qp.zero_point, u->lo,
                      u->hi, R->y + (b * d->oc + o0) * ohw, simd_level());
}

static void ql_part(void *ctx, int64_t begin, int64_t end)
{
    const QlRun *R = ctx;
    for (int64_t p = begin; p < end; p++) {
        char *buf = R->scratch + (size_t)p * R->cut.part_bytes;
        int64_t u0 = R->cut.units * p / R->nparts, u1 = R->cut.units * (p + 1) / R->nparts;
        for (int64_t un = u0; un < u1; un++) {
            if (R->u->kind == LIN_GEMM)
                ql_unit_gemm(R, un, buf);
            else if (R->cut.planes)
                ql_unit_planes(R, un, buf);
            else if (R->u->kind == LIN_CONV)
                ql_unit_conv(R, un, buf);
            else if (R->flat)
                ql_unit_dw_flat(R, un, buf);
            else if (R->dw_chan)
                ql_unit_dw_chan(R, un, buf);
            else
                ql_unit_dw(R, un, buf);
        }
    }
}

void qk_lin_q_int(const Step *s, StepIO *io)
{
    QlRun R;
    memset(&R, 0, sizeof R);
    R.u = s->lin;
    R.cut = ql_cut(R.u, &io->in[0]->shape, &io->out.shape);
    if (R.u->kind != LIN_GEMM)
        R.d = qk_dims(&R.u->ca, &io->in[0]->shape, &io->out.shape);
    QgConvCols conv;
    bool conv_planes = R.u->kind == LIN_CONV && ql_conv_planes(R.u, &R.d, &conv) &&
                       qgemm_planes_conv_ok(&conv);
    if ((ql_pointwise(R.u) && qgemm_planes_ok()) || conv_planes) {
        /* columns come in panels of 32: fewer than 3/4 of them used costs more than the
         * transposes save (a small plane at batch 1) */
        QlCut p = ql_cut_planes(R.u, &io->out.shape,
                                conv_planes ? qgemm_planes_conv_k(&conv) : R.u->k);
        if (p.rows * 4 >= (p.rows + 31) / 32 * 32 * 3) {
            R.cut = p;
            R.conv = conv_planes ? &conv : NULL;
        }
    }
    DwFlat flat;
    if (R.u->kind == LIN_DW) { /* blocks of planes, as the scratch's int32 rows hold */
        /* narrow maps: channels across lanes beat the flat map too (measured: MobileNetV2
         * at 64x64, 8x8 maps and smaller); up to 16 columns, where a row fills at most one
         * vector, they beat a plane at a time but not the flat map (14x14) */
        bool chan = ql_dw_chan(R.u, &R.d, simd_level());
        R.dw_chan = chan && R.d.ow < 12;
        if (!R.dw_chan && qk_dw_flat_map(&R.u->ca, &R.d, simd_level(), &flat))
            R.flat = &flat;
        R.dw_chan = R.dw_chan || (chan && !R.flat);
        R.dw_planes = R.flat      ? flat.planes
                      : R.dw_chan ? DWF_LANES
                                  : qk_dw_block_planes(&R.u->ca, &R.d);
        R.cut.units = (R.d.oc + R.dw_planes - 1) / R.dw_planes * R.d.n;
    }
    R.x = io->in[0]->data;
    R.y = io->out.data;
    R.scratch = io->scratch;
    size_t head = 0;
    if (R.conv) {
        ql_conv_weights(R.u, R.conv, (int8_t *)R.scratch);
        R.wconv = (const int8_t *)R.scratch;
        head = ql_conv_weights_bytes(R.u, R.conv);
        R.scratch += head;
    }
    /* as many parts as threads, within what the scratch was sized for */
    int64_t fit = R.cut.part_bytes ? (int64_t)((io->scratch_bytes - head) / R.cut.part_bytes)
                                   : 1;
    int64_t parts = pool_threads();
    /* no more parts than the product's multiply-adds fill (pool_grain's measure) */
    int64_t macs = shape_numel(&io->out.shape) * (shape_numel(&R.u->wshape) / R.u->oc);
    int64_t worth = macs / POOL_MIN_WORK > 1 ? macs / POOL_MIN_WORK : 1;
    parts = parts < worth ? parts : worth;
    parts = parts < fit ? parts : fit;
    parts = parts < R.cut.units ? parts : R.cut.units;
    if (parts < 1)
        return; /* no rows */
    R.nparts = parts;
    pool_for(parts, 1, ql_part, &R);
}
