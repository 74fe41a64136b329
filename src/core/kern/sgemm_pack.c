/* Packing operands into slivers (kern/sgemm_internal.h), and the packed-operand API of
 * kern/sgemm.h: an operand packed once over all of K, reused by every product. */
#include <stdlib.h>
#include <string.h>

#include "kern/sgemm_internal.h"

struct SgemmPacked {
    int w;
    int64_t rows, K;
    float *data; /* ceil(rows / w) slivers of K * w */
};

void sg_pack(const SgOperand *x, int64_t i0, int64_t iv, int64_t k0, int64_t kc, int w,
             float *out, SimdLevel l, bool pad)
{
    const float s = x->alpha;
    if (pad && iv < w) /* one pass: per-k padding would be a memset call per k */
        memset(out, 0, (size_t)(kc * w) * sizeof *out);
    if (x->is == 1) { /* each k: iv contiguous values */
        for (int64_t k = 0; k < kc; k++) {
            const float *src = x->p + i0 + (k0 + k) * x->ks;
            float *dst = out + k * w;
            if (s == 1.0f)
                memcpy(dst, src, (size_t)iv * sizeof *dst);
            else
                for (int64_t i = 0; i < iv; i++)
                    dst[i] = s * src[i];
        }
        return;
    }
    if (x->ks == 1 && l >= SIMD_AVX2)
        sg_pack_rows_avx2(x->p + i0 * x->is + k0, x->is, iv, kc, w, s, out);
    else
        for (int64_t i = 0; i < iv; i++) { /* each row: kc values ks apart */
            const float *src = x->p + (i0 + i) * x->is + k0 * x->ks;
            for (int64_t k = 0; k < kc; k++)
                out[k * w + i] = s == 1.0f ? src[k * x->ks] : s * src[k * x->ks];
        }
}

float sg_elem(const SgOperand *x, int64_t K, int64_t i, int64_t k)
{
    if (x->gather) {
        float v;
        x->gather->fill(x->gather->ctx, i, 1, k, 1, 1, &v);
        return v;
    }
    if (x->packed)
        return x->packed[i / x->w * x->w * K + k * x->w + i % x->w];
    return x->alpha * x->p[i * x->is + k * x->ks];
}

/* Fills p (its data already pointing at room for every sliver) from x. */
static void pack_into(SgemmPacked *p, bool is_a, const SgOperand *x, int64_t rows, int64_t K,
                      SimdLevel l, int w)
{
    int64_t slivers = (rows + w - 1) / w;
    p->w = w;
    p->rows = rows;
    p->K = K;
    for (int64_t s = 0; s < slivers; s++) {
        int64_t iv = rows - s * w < w ? rows - s * w : w;
        sg_pack(x, s * w, iv, 0, K, w, p->data + s * w * K, l, !is_a);
    }
}

static SgemmPacked *pack_operand(bool is_a, const SgOperand *x, int64_t rows, int64_t K)
{
    SimdLevel l = simd_level();
    SgKernel k = sg_kernel(l);
    int w = is_a ? k.mr : k.nr;
    int64_t slivers = (rows + w - 1) / w;
    SgemmPacked *p = calloc(1, sizeof *p);
    size_t n = (size_t)(slivers * w * (K > 0 ? K : 1));
    if (!p || !(p->data = malloc(n * sizeof(float)))) {
        free(p);
        return NULL;
    }
    pack_into(p, is_a, x, rows, K, l, w);
    return p;
}

/* The header's room in caller memory: a multiple of 64 bytes, so the slivers stay aligned. */
#define HEADER_BYTES ((sizeof(SgemmPacked) + 63) / 64 * 64)

/* A multiple of 64, so packs laid out one after another stay 64-byte aligned. */
static size_t round64(size_t n) { return (n + 63) / 64 * 64; }

size_t sgemm_pack_a_bytes(int64_t M, int64_t K)
{
    return round64(HEADER_BYTES + (size_t)((M + SG_MR_MAX - 1) * (K > 0 ? K : 1)) * sizeof(float));
}

SgemmPacked *sgemm_pack_a_at(void *mem, bool ta, int64_t M, int64_t K, float alpha,
                             const float *A, int64_t lda)
{
    if (M <= 0 || K < 0)
        return NULL;
    SimdLevel l = simd_level();
    SgemmPacked *p = mem;
    p->data = (float *)((char *)mem + HEADER_BYTES);
    SgOperand a = { A, ta ? 1 : lda, ta ? lda : 1, alpha, NULL, 0, NULL };
    pack_into(p, true, &a, M, K, l, sg_kernel(l).mr);
    return p;
}

size_t sgemm_pack_b_bytes(int64_t K, int64_t N)
{
    return round64(HEADER_BYTES + (size_t)((N + SG_NR_MAX - 1) * (K > 0 ? K : 1)) * sizeof(float));
}

SgemmPacked *sgemm_pack_b_at(void *mem, bool tb, int64_t K, int64_t N, const float *B,
                             int64_t ldb)
{
    if (N <= 0 || K < 0)
        return NULL;
    SimdLevel l = simd_level();
    SgemmPacked *p = mem;
    p->data = (float *)((char *)mem + HEADER_BYTES);
    SgOperand b = { B, tb ? ldb : 1, tb ? 1 : ldb, 1.0f, NULL, 0, NULL };
    pack_into(p, false, &b, N, K, l, sg_kernel(l).nr);
    return p;
}

SgemmPacked *sgemm_pack_a(bool ta, int64_t M, int64_t K, float alpha, const float *A,
                          int64_t lda)
{
    if (M <= 0 || K < 0)
        return NULL;
    SgOperand a = { A, ta ? 1 : lda, ta ? lda : 1, alpha, NULL, 0, NULL };
    return pack_operand(true, &a, M, K);
}

SgemmPacked *sgemm_pack_b(bool tb, int64_t K, int64_t N, const float *B, int64_t ldb)
{
    if (N <= 0 || K < 0)
        return NULL;
    SgOperand b = { B, tb ? ldb : 1, tb ? 1 : ldb, 1.0f, NULL, 0, NULL };
    return pack_operand(false, &b, N, K);
}

void sgemm_packed_free(SgemmPacked *p)
{
    if (p)
        free(p->data);
    free(p);
}

int64_t sgemm_packed_rows(const SgemmPacked *p) { return p->rows; }
int64_t sgemm_packed_k(const SgemmPacked *p) { return p->K; }

static SgOperand packed_operand(const SgemmPacked *p)
{
    return (SgOperand){ NULL, 0, 0, 1.0f, p->data, p->w, NULL };
}

/* OpenBLAS on a packed operand: unpacked row-major (alpha already applied). */
static float *unpack(const SgemmPacked *p)
{
    float *x = malloc((size_t)(p->rows * (p->K > 0 ? p->K : 1)) * sizeof *x);
    SgOperand o = packed_operand(p);
    for (int64_t i = 0; x && i < p->rows; i++)
        for (int64_t k = 0; k < p->K; k++)
            x[i * p->K + k] = sg_elem(&o, p->K, i, k);
    return x;
}

void sgemm_packed_a(const SgemmPacked *pa, bool tb, int64_t N, const float *B, int64_t ldb,
                    float *C, int64_t ldc, const SgemmEpi *epi)
{
    if (N <= 0)
        return;
    float *a;
    if (sgemm_backend() == SGEMM_OPENBLAS && (a = unpack(pa))) {
        sg_openblas(false, tb, pa->rows, N, pa->K, 1.0f, a, pa->K, B, ldb, C, ldc, epi);
        free(a);
        return;
    }
    SgProblem p = { pa->rows, N, pa->K, packed_operand(pa),
                    { B, tb ? ldb : 1, tb ? 1 : ldb, 1.0f, NULL, 0, NULL },
                    C, ldc, 1, epi ? *epi : (SgemmEpi){ 0 }, 0, 0 };
    sg_drive(&p);
}

void sgemm_packed_a_narrow(const SgemmPacked *pn, int64_t N, const float *B, int64_t ldb,
                           float *C, int64_t ldc, const SgemmEpi *epi)
{
    if (N <= 0)
        return;
    /* sgemm's transposed problem (sgemm.c's problem() with swap): C^T = B^T A^T */
    SgemmEpi e = epi ? *epi : (SgemmEpi){ 0 };
    const float *bm = e.bias_m;
    e.bias_m = e.bias_n;
    e.bias_n = bm;
    SgProblem p = { N, pn->rows, pn->K, { B, 1, ldb, 1.0f, NULL, 0, NULL }, packed_operand(pn),
                    C, 1, ldc, e, 0, 0 };
    sg_drive(&p);
}

void sgemm_packed_b(bool ta, int64_t M, float alpha, const float *A, int64_t lda,
                    const SgemmPacked *pb, float *C, int64_t ldc, const SgemmEpi *epi)
{
    if (M <= 0)
        return;
    float *b;
    if (sgemm_backend() == SGEMM_OPENBLAS && (b = unpack(pb))) {
        sg_openblas(ta, true, M, pb->rows, pb->K, alpha, A, lda, b, pb->K, C, ldc, epi);
        free(b);
        return;
    }
    SgProblem p = { M, pb->rows, pb->K, { A, ta ? 1 : lda, ta ? lda : 1, alpha, NULL, 0, NULL },
                    packed_operand(pb), C, ldc, 1, epi ? *epi : (SgemmEpi){ 0 }, 0, 0 };
    sg_drive(&p);
}

void sgemm_packed_a_gather(const SgemmPacked *pa, const SgemmGather *gb, int64_t N, float *C,
                           int64_t ldc, const SgemmEpi *epi)
{
    if (N <= 0)
        return;
    float *a, *bt;
    if (sgemm_backend() == SGEMM_OPENBLAS && (a = unpack(pa))) {
        /* slivers one wide are B transposed, (N, K) row-major */
        if ((bt = malloc((size_t)(N * (pa->K > 0 ? pa->K : 1)) * sizeof *bt))) {
            gb->fill(gb->ctx, 0, N, 0, pa->K, 1, bt);
            sg_openblas(false, true, pa->rows, N, pa->K, 1.0f, a, pa->K, bt, pa->K, C, ldc,
                        epi);
            free(bt);
            free(a);
            return;
        }
        free(a);
    }
    SgProblem p = { pa->rows, N, pa->K, packed_operand(pa),
                    { NULL, 0, 0, 1.0f, NULL, 0, gb },
                    C, ldc, 1, epi ? *epi : (SgemmEpi){ 0 }, 0, 0 };
    sg_drive(&p);
}

bool sgemm_gather_runs_pay(int64_t run)
{
    return run > 0 && run % sg_kernel(simd_level()).nr == 0;
}

void sgemm_packed_a_gather_runs(const SgemmPacked *pa, const SgemmGather *gb, int64_t N,
                                float *C, int64_t ldc, int64_t run, int64_t run_stride,
                                const SgemmEpi *epi)
{
    if (N <= 0)
        return;
    SgProblem p = { pa->rows, N, pa->K, packed_operand(pa),
                    { NULL, 0, 0, 1.0f, NULL, 0, gb },
                    C, ldc, 1, epi ? *epi : (SgemmEpi){ 0 }, run, run_stride };
    sg_drive(&p);
}
