/* The parts of qscope's sgemm shared by its driver, packing and per-level microkernels
 * (not for callers outside kern/sgemm*.c).
 *
 * A product is a problem on two operands indexed (row, k): A's rows are C's rows, B's rows
 * are C's columns, so a transposed problem (C^T = op(B)^T op(A)^T, chosen when it fills the
 * SIMD lanes better) is the same problem with the operands swapped. Operands are packed into
 * slivers w rows wide, k-major: sliver[k * w + i] = alpha * X(i0 + i, k0 + k) (B's zero
 * past the last row). A microkernel multiplies an A sliver (mr wide) by a B sliver (nr wide) into an
 * mr x nr tile of C, one accumulator per element taking the k terms in order with one FMA
 * each (kern/sgemm.h's rule), so the tile's shape never changes a bit of the result. */
#ifndef QS_SGEMM_INTERNAL_H
#define QS_SGEMM_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "kern/clamp.h"
#include "kern/sgemm.h"
#include "kern/simd.h"

#define SG_MR_MAX 16
/* Up to this many row slivers of A, a B contiguous along n is read in place rather than
 * packed (too few rows reuse a packed block to repay the copy). */
#define SG_DIRECT_B_ROWS 8
#define SG_NR_MAX 32

/* Where a tile's accumulators start. */
typedef enum { SG_C0_ZERO = 0, SG_C0_LOAD, SG_C0_BIAS_M, SG_C0_BIAS_N } SgC0;

/* One microkernel call: rows 0 .. m-1 (m <= mr) and all nr columns of a tile. */
typedef struct SgTile {
    int64_t kc;
    const float *a;    /* a[k * mr + i] */
    const float *b;    /* b[k * ldb + j], j < nr */
    int64_t ldb;
    float *c;          /* c[i * ldc + j] */
    int64_t ldc;
    const float *bias; /* SG_C0_BIAS_M: bias[i]; SG_C0_BIAS_N: bias[j] */
    SgC0 c0;
    bool clamp; /* at the store: v < lo ? lo : v > hi ? hi : v */
    float lo, hi;
    int mr, nr; /* read by the generic kernel only */
} SgTile;

typedef void (*SgMicroFn)(const SgTile *t, int m);

typedef struct SgKernel {
    int mr, nr;
    SgMicroFn micro;
} SgKernel;

/* The scalar kernel: any mr <= SG_MR_MAX, nr <= SG_NR_MAX (fmaf, element by element). */
void sg_micro_generic(const SgTile *t, int m);
/* The kernel a level runs (AVX-512 12x32, AVX2+FMA 6x16, scalar). */
SgKernel sg_kernel(SimdLevel l);
extern const SgKernel sg_kernel_avx2, sg_kernel_avx512;

/* An operand: X(i, k) = p[i * is + k * ks], times alpha when packed. `packed` (from
 * sgemm_pack_*): the whole operand already in slivers w wide over all K:
 * packed[(i / w) * w * K + k * w + i % w]. `gather` (a B operand only): X(i, k) = B(k, i)
 * of kern/sgemm.h's SgemmGather, which packs its blocks itself. */
typedef struct SgOperand {
    const float *p;
    int64_t is, ks;
    float alpha;
    const float *packed;
    int w;
    const SgemmGather *gather;
} SgOperand;

typedef struct SgProblem {
    int64_t M, N, K;
    SgOperand a, b;
    float *c;
    int64_t crs, ccs; /* C(m, n) = c[m * crs + n * ccs] */
    SgemmEpi epi;     /* bias_m along M, bias_n along N of this problem */
    /* cseg > 0 (ccs == 1 only): C's columns in runs of cseg, run r at c + r * csegs:
     * C(m, n) = c[m * crs + (n / cseg) * csegs + n % cseg] */
    int64_t cseg, csegs;
} SgProblem;

/* Where C(m, n) is. */
static inline float *sg_c_at(const SgProblem *p, int64_t m, int64_t n)
{
    if (p->cseg > 0)
        return p->c + m * p->crs + (n / p->cseg) * p->csegs + n % p->cseg;
    return p->c + m * p->crs + n * p->ccs;
}

/* Rows i0 .. i0+iv-1 (iv <= w), k0 .. k0+kc-1 of x into one sliver w wide; l: the SIMD
 * level that may transpose it (copies, so the same bits at any level). pad: rows iv .. w-1
 * zero (a B sliver, whose full width a kernel loads; an A sliver's extra rows are never
 * read). */
void sg_pack(const SgOperand *x, int64_t i0, int64_t iv, int64_t k0, int64_t kc, int w,
             float *out, SimdLevel l, bool pad);
/* out[k * w + i] = s * src[i * is + k] for i < iv, k < kc (s == 1: a copy), 8 x 8 blocks
 * transposed in registers. */
void sg_pack_rows_avx2(const float *src, int64_t is, int64_t iv, int64_t kc, int w, float s,
                       float *out);
/* Runs the problem on qscope's kernels (threads split rows or columns of C). */
void sg_drive(const SgProblem *p);
/* C(m, n)'s starting value. */
float sg_c0(const SgProblem *p, int64_t m, int64_t n);
/* The epilogue of C's row m on its sum v: the per-row affine, then the clamp. Inline: the
 * edge tiles' stores run it per element. */
static inline float sg_finish(const SgemmEpi *e, int64_t m, float v)
{
    if (e->sub_m)
        v = norm_affine(v, e->sub_m[m], e->mul_m[m], e->add_m[m]);
    return e->clamp ? clamp_value(v, e->lo, e->hi) : v;
}
/* Element (i, k) of an operand, alpha applied: what its sliver holds. */
float sg_elem(const SgOperand *x, int64_t K, int64_t i, int64_t k);
/* The OpenBLAS backend on a plain problem (operands unpacked, C row-major). */
void sg_openblas(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float *A,
                 int64_t lda, const float *B, int64_t ldb, float *C, int64_t ldc,
                 const SgemmEpi *epi);

#endif
