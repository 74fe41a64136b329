/* The blocked product on qscope's kernels. Loops, outermost first: columns in blocks of
 * NC, k in blocks of KC (B's block packed into this thread's buffer, L2-sized), rows in
 * slivers of mr (A's sliver packed, L1-sized), then the nr-wide slivers of the B block, one
 * microkernel call per tile. A tile's first k block starts from c0, later ones from the
 * partial sum stored in C, the last one clamps: the same sequence of FMAs as the rule.
 * A gathered B (SgemmGather) fills the B block's slivers in place of packing them. A
 * transposed C (the narrow products sgemm transposes) is summed in a row-major block of
 * scratch and written back once, finished. Threads take disjoint ranges of row slivers or
 * of column slivers, never of k. */
#include <math.h>
#include <stdlib.h>

#include "kern/clamp.h"
#include "kern/pool.h"
#include "kern/sgemm_internal.h"
#include "kern/thread_buffer.h"

#define KC 512
#define NC 256 /* a multiple of every kernel's nr */
/* FMAs below which a chunk is not worth handing to another thread: the pool's workers spin
 * between jobs (kern/pool.c), so a hand-off costs about a microsecond, a few percent of
 * this; at 2^20 most of a batch-1 MobileNetV2's products ran on one thread */
#define CHUNK_WORK (1 << 17)

typedef struct SgRun {
    const SgProblem *p;
    SgKernel k;
    SimdLevel level;
    bool split_n;  /* threads split columns (else rows) */
    bool direct_b; /* B's slivers read in place (contiguous along n, few rows to reuse them) */
} SgRun;

/* Each thread's packing buffer (at most KC x (NC + mr) floats, about 0.5 MiB), kept across
 * calls (kern/thread_buffer.h). */
static float *scratch(size_t n) { return thread_buffer(TBUF_SGEMM, n * sizeof(float)); }

/* Where a rect's tiles keep their sums: C itself (the problem's addressing), or (a
 * transposed C, whose tiles would otherwise go through a tile buffer element by element
 * on every k block) a row-major block of the thread's scratch holding C(m, n) for m in
 * [m0, m0 + rows), n in [n0, n0 + NC), written back into C, finished, once its last k
 * block is done. */
typedef struct CView {
    const SgProblem *p; /* NULL: the scratch block below */
    float *c;
    int64_t ld, m0, n0;
} CView;

static float *view_at(const CView *v, int64_t m, int64_t n)
{
    return v->p ? sg_c_at(v->p, m, n) : v->c + (m - v->m0) * v->ld + (n - v->n0);
}

/* The distance between C's rows m and m + 1. */
static int64_t view_rs(const CView *v) { return v->p ? v->p->crs : v->ld; }

/* Whether columns [n, n + nr) lie one after another in C. */
static bool view_contiguous(const CView *v, int64_t n, int nr)
{
    if (!v->p)
        return true;
    return v->p->ccs == 1 && (v->p->cseg <= 0 || n % v->p->cseg + nr <= v->p->cseg);
}

/* A tile buffer's starting values: c0 on the first k block, else the partial sums in C;
 * columns past nv zero. */
static void fill_buffer(const SgProblem *p, const CView *v, int64_t m, int64_t n, int mv,
                        int nv, int nr, bool first, float *buf)
{
    const SgemmEpi *e = &p->epi;
    for (int i = 0; i < mv; i++) {
        float *row = buf + i * nr;
        if (!first || e->accumulate)
            for (int j = 0; j < nv; j++)
                row[j] = *view_at(v, m + i, n + j);
        else if (e->bias_m)
            for (int j = 0; j < nv; j++)
                row[j] = e->bias_m[m + i];
        else if (e->bias_n)
            for (int j = 0; j < nv; j++)
                row[j] = e->bias_n[n + j];
        else
            for (int j = 0; j < nv; j++)
                row[j] = 0.0f;
        for (int j = nv; j < nr; j++)
            row[j] = 0.0f;
    }
}

/* One tile's k block. A full tile whose rows are contiguous (row-major C within one run of
 * columns, or a scratch block) is the kernel's to load and store; any other tile goes
 * through a tile buffer holding c0 or the partial sum. */
static void tile(const SgRun *r, const CView *v, const float *a, const float *b, int64_t ldb,
                 int64_t m, int64_t n, int mv, int nv, int64_t pc, int64_t kc)
{
    const SgProblem *p = r->p;
    const SgemmEpi *e = &p->epi;
    bool first = pc == 0, last = pc + kc == p->K && v->p != NULL; /* a block: written back */
    int nr = r->k.nr;
    SgTile t = { kc, a, b, ldb, NULL, 0, NULL, SG_C0_LOAD, false, 0, 0, r->k.mr, nr };
    if (nv == nr && view_contiguous(v, n, nr)) {
        t.c = view_at(v, m, n);
        t.ldc = view_rs(v);
        if (first && !e->accumulate) {
            t.c0 = e->bias_m ? SG_C0_BIAS_M : e->bias_n ? SG_C0_BIAS_N : SG_C0_ZERO;
            t.bias = e->bias_m ? e->bias_m + m : e->bias_n ? e->bias_n + n : NULL;
        }
        t.clamp = last && e->clamp && !e->sub_m;
        t.lo = e->lo;
        t.hi = e->hi;
        r->k.micro(&t, mv);
        if (last && e->sub_m) /* the per-row affine, then the clamp, on the stored tile */
            for (int i = 0; i < mv; i++) {
                float *c = t.c + i * t.ldc;
                norm_clamp_f32(c, c, nv, e->sub_m[m + i], e->mul_m[m + i], e->add_m[m + i],
                               e->clamp, e->lo, e->hi);
            }
        return;
    }
    float buf[SG_MR_MAX * SG_NR_MAX];
    fill_buffer(p, v, m, n, mv, nv, nr, first, buf);
    t.c = buf;
    t.ldc = nr;
    r->k.micro(&t, mv);
    for (int i = 0; i < mv; i++)
        for (int j = 0; j < nv; j++) {
            float s = buf[i * nr + j];
            *view_at(v, m + i, n + j) = last ? sg_finish(e, m + i, s) : s;
        }
}

/* The rows a rect keeps in a scratch block when C is transposed (the narrow products
 * sgemm transposes have fewer than one sliver's columns, so far fewer rows). */
#define DEFER_ROWS 64

/* The row length of a deferred block: past NC, so its rows do not fall on the same L1
 * sets (a 2 KiB stride would) when a column of it is read. */
#define DEFER_LD (NC + 16)

/* C's values of a deferred block in (accumulate), or the block finished into C (out). C
 * is transposed (crs == 1), so each n is a contiguous run of rows in C. */
static void view_copy(const SgProblem *p, const CView *v, int64_t m1, int64_t nc, bool out)
{
    const SgemmEpi *e = &p->epi;
    int64_t rows = m1 - v->m0;
    for (int64_t n = v->n0; n < v->n0 + nc; n++) {
        float *c = sg_c_at(p, v->m0, n), *t = view_at(v, v->m0, n);
        if (!out) {
            for (int64_t i = 0; i < rows; i++)
                t[i * v->ld] = c[i * p->crs];
        } else if (e->sub_m || p->crs != 1) {
            for (int64_t i = 0; i < rows; i++)
                c[i * p->crs] = sg_finish(e, v->m0 + i, t[i * v->ld]);
        } else {
            for (int64_t i = 0; i < rows; i++)
                c[i] = t[i * v->ld];
            if (e->clamp && p->ccs != rows) /* clamp_value's bits, vectorized */
                clamp_f32(c, c, rows, e->lo, e->hi);
        }
    }
    if (out && e->clamp && !e->sub_m && p->crs == 1 && p->ccs == rows) { /* one run in C */
        float *c = sg_c_at(p, v->m0, v->n0);
        clamp_f32(c, c, nc * rows, e->lo, e->hi);
    }
}

/* The rule element by element (the packing buffer could not be allocated). */
static void rect_plain(const SgProblem *p, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    for (int64_t m = m0; m < m1; m++)
        for (int64_t n = n0; n < n1; n++) {
            float acc = sg_c0(p, m, n);
            for (int64_t k = 0; k < p->K; k++)
                acc = fmaf(sg_elem(&p->a, p->K, m, k), sg_elem(&p->b, p->K, n, k), acc);
            *sg_c_at(p, m, n) = sg_finish(&p->epi, m, acc);
        }
}

/* B's slivers for columns jc .. jc+nc-1, k block pc: packed into buf unless read in place
 * (then only a ragged last sliver is packed, so no load runs past B's columns). */
static void pack_b_block(const SgRun *r, int64_t jc, int64_t nc, int64_t pc, int64_t kc,
                         float *buf)
{
    const SgOperand *b = &r->p->b;
    int nr = r->k.nr;
    if (b->packed)
        return;
    if (b->gather) {
        b->gather->fill(b->gather->ctx, jc, nc, pc, kc, nr, buf);
        return;
    }
    for (int64_t s = 0; s * nr < nc; s++) {
        int64_t nv = nc - s * nr < nr ? nc - s * nr : nr;
        if (!r->direct_b || nv < nr)
            sg_pack(b, jc + s * nr, nv, pc, kc, nr, buf + s * kc * nr, r->level, true);
    }
}

static const float *b_sliver(const SgRun *r, int64_t n, int64_t nv, int64_t pc, int64_t kc,
                             const float *buf, int64_t s, int64_t *ldb)
{
    const SgOperand *b = &r->p->b;
    int nr = r->k.nr;
    *ldb = nr;
    if (b->packed)
        return b->packed + n * r->p->K + pc * nr; /* n is a multiple of nr */
    if (r->direct_b && nv == nr) {
        *ldb = b->ks;
        return b->p + n + pc * b->ks;
    }
    return buf + s * kc * nr;
}

static void rect(const SgRun *r, int64_t m0, int64_t m1, int64_t n0, int64_t n1)
{
    const SgProblem *p = r->p;
    int mr = r->k.mr, nr = r->k.nr;
    int64_t kcmax = p->K < KC ? p->K : KC;
    bool defer = p->ccs != 1 && p->cseg <= 0 && m1 - m0 <= DEFER_ROWS;
    float *bbuf = scratch((size_t)kcmax * (NC + mr) + (defer ? DEFER_ROWS * DEFER_LD : 0));
    if (!bbuf) {
        rect_plain(p, m0, m1, n0, n1);
        return;
    }
    float *abuf = bbuf + kcmax * NC;
    CView v = { p, NULL, 0, 0, 0 };
    for (int64_t jc = n0; jc < n1; jc += NC) {
        int64_t nc = n1 - jc < NC ? n1 - jc : NC;
        if (defer) {
            v = (CView){ NULL, abuf + kcmax * mr, DEFER_LD, m0, jc };
            if (p->epi.accumulate)
                view_copy(p, &v, m1, nc, false);
        }
        for (int64_t pc = 0; pc < p->K; pc += KC) {
            int64_t kc = p->K - pc < KC ? p->K - pc : KC;
            pack_b_block(r, jc, nc, pc, kc, bbuf);
            for (int64_t ir = m0; ir < m1; ir += mr) {
                int mv = (int)(m1 - ir < mr ? m1 - ir : mr);
                const float *a = abuf;
                if (p->a.packed)
                    a = p->a.packed + ir * p->K + pc * mr; /* ir is a multiple of mr */
                else
                    sg_pack(&p->a, ir, mv, pc, kc, mr, abuf, r->level, false);
                for (int64_t s = 0; s * nr < nc; s++) {
                    int64_t n = jc + s * nr, ldb;
                    int nv = (int)(n1 - n < nr ? n1 - n : nr);
                    const float *b = b_sliver(r, n, nv, pc, kc, bbuf, s, &ldb);
                    tile(r, &v, a, b, ldb, ir, n, mv, nv, pc, kc);
                }
            }
        }
        if (defer)
            view_copy(p, &v, m1, nc, true);
    }
}

static void rect_task(void *ctx, int64_t begin, int64_t end)
{
    const SgRun *r = ctx;
    const SgProblem *p = r->p;
    if (r->split_n) {
        int64_t n1 = end * r->k.nr;
        rect(r, 0, p->M, begin * r->k.nr, n1 < p->N ? n1 : p->N);
    } else {
        int64_t m1 = end * r->k.mr;
        rect(r, begin * r->k.mr, m1 < p->M ? m1 : p->M, 0, p->N);
    }
}

void sg_drive(const SgProblem *p)
{
    if (p->K <= 0) {
        for (int64_t m = 0; m < p->M; m++)
            for (int64_t n = 0; n < p->N; n++)
                *sg_c_at(p, m, n) = sg_finish(&p->epi, m, sg_c0(p, m, n));
        return;
    }
    SimdLevel level = simd_level();
    SgKernel k = sg_kernel(level);
    int mr = p->a.packed ? p->a.w : k.mr, nr = p->b.packed ? p->b.w : k.nr;
    SgRun r = { p, k, level, false, false };
    if (mr != k.mr || nr != k.nr)
        r.k = (SgKernel){ mr, nr, sg_micro_generic };
    r.direct_b = !p->b.packed && !p->b.gather && p->b.is == 1 && p->b.alpha == 1.0f && p->M <= SG_DIRECT_B_ROWS * mr;
    int64_t mt = (p->M + mr - 1) / mr, nt = (p->N + nr - 1) / nr;
    r.split_n = nt >= mt;
    int64_t units = r.split_n ? nt : mt;
    double unit_work = (double)(r.split_n ? nr * p->M : mr * p->N) * (double)p->K;
    int64_t grain = unit_work >= CHUNK_WORK ? 1 : (int64_t)(CHUNK_WORK / unit_work) + 1;
    pool_for(units, grain, rect_task, &r);
}
