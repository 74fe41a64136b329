/* Detection metrics: hand cases for every rule of metrics_detect.h (peaks, plateaus,
 * greedy matching, the tolerance boundary, the small/large split, false-positive
 * attribution, NaN for empty denominators). All values are exact: every distance is a
 * square root of a small integer or half-integer sum compared with its square. */
#include <math.h>
#include <string.h>

#include "eval/metrics_detect.h"
#include "test_util.h"

#define H 5
#define W 5

/* cfg: 5x5 map, stride 2 (cell (i, j) at x = 2j + 1, y = 2i + 1), tol 3, thresh 0. */
static DetectCfg cfg5(void)
{
    DetectCfg c = detect_cfg_default(H, W, 10);
    return c;
}

static void fill(float *m, float v)
{
    for (int i = 0; i < H * W; i++)
        m[i] = v;
}

static DetectCounts run1(const float *heat, const float *obj, int k)
{
    DetectCounts c;
    memset(&c, 0, sizeof c);
    DetectCfg cfg = cfg5();
    detect_counts_add(&c, &cfg, heat, 1, obj, k);
    return c;
}

static bool counts_are(const DetectCounts *c, int tps, int tpl, int fns, int fnl, int fps,
                       int fpl)
{
    return c->tp[DET_SMALL] == tps && c->tp[DET_LARGE] == tpl && c->fn[DET_SMALL] == fns &&
           c->fn[DET_LARGE] == fnl && c->fp[DET_SMALL] == fps && c->fp[DET_LARGE] == fpl;
}

static int64_t all_fp(const DetectCounts *c) { return c->fp[0] + c->fp[1]; }

static void test_defaults(void)
{
    DetectCfg c = detect_cfg_default(32, 32, 64);
    CHECK(c.out_h == 32 && c.out_w == 32);
    CHECK(c.stride == 2.0);
    CHECK(c.tol_px == 3.0);
    CHECK(c.logit_thresh == 0.0f);
    CHECK(c.small_px == 15.0);
}

static void test_peak_rules(void)
{
    float m[H * W];
    DetectCounts c;
    /* no object: every peak is a large false positive, so fp counts the peaks */
    fill(m, -1);
    m[2 * W + 2] = 0.0f; /* exactly the threshold: not a peak (must exceed) */
    c = run1(m, NULL, 0);
    CHECK(all_fp(&c) == 0);
    m[2 * W + 2] = 1e-6f;
    c = run1(m, NULL, 0);
    CHECK(counts_are(&c, 0, 0, 0, 0, 0, 1));
    /* a higher neighbour (diagonal) suppresses; both corners of the map count */
    fill(m, -1);
    m[1 * W + 1] = 2;
    m[2 * W + 2] = 3;
    m[0] = 1;          /* neighbour of (1,1)=2 only: not a peak */
    m[4 * W + 4] = 1;  /* corner, isolated: a peak */
    m[0 * W + 4] = 0.5f; /* corner, isolated: a peak */
    c = run1(m, NULL, 0);
    CHECK(all_fp(&c) == 3); /* (2,2), (4,4), (0,4) */
    /* a peak two cells from a higher one is still a peak (8-neighbourhood only) */
    fill(m, -1);
    m[2 * W + 0] = 5;
    m[2 * W + 2] = 4;
    c = run1(m, NULL, 0);
    CHECK(all_fp(&c) == 2);
    /* a NaN cell is never a peak and does not suppress its neighbours */
    fill(m, -1);
    m[2 * W + 2] = NAN;
    m[2 * W + 3] = 1;
    c = run1(m, NULL, 0);
    CHECK(all_fp(&c) == 1);
    /* a higher threshold */
    fill(m, -1);
    m[1 * W + 1] = 0.5f;
    m[3 * W + 3] = 2.0f;
    DetectCfg cfg = cfg5();
    cfg.logit_thresh = 1.0f;
    memset(&c, 0, sizeof c);
    detect_counts_add(&c, &cfg, m, 1, NULL, 0);
    CHECK(all_fp(&c) == 1);
}

static void test_plateau(void)
{
    float m[H * W];
    DetectCounts c;
    /* two equal adjacent cells: one peak, the first in raster order, (1,1) at (3,3) */
    fill(m, -1);
    m[1 * W + 1] = 2;
    m[1 * W + 2] = 2;
    float obj_near_second[3] = { 5.0f, 3.0f, 4.0f }; /* 2 px from (1,1), 0 from (1,2) */
    c = run1(m, obj_near_second, 1);
    CHECK(counts_are(&c, 1, 0, 0, 0, 0, 0));
    /* the peak is the first cell: an object 3 px right of (1,2) = 5 px from (1,1) misses */
    float obj_far[3] = { 8.0f, 3.0f, 4.0f };
    c = run1(m, obj_far, 1);
    CHECK(counts_are(&c, 0, 0, 1, 0, 1, 0));
    /* a V-shaped plateau (0,0), (1,1), (0,2) over a lower (0,1): one peak, not two */
    fill(m, -1);
    m[0] = 3;
    m[1 * W + 1] = 3;
    m[2] = 3;
    m[1] = 1;
    c = run1(m, NULL, 0);
    CHECK(all_fp(&c) == 1);
    /* equal cells not touching: two peaks */
    fill(m, -1);
    m[0] = 3;
    m[2] = 3;
    c = run1(m, NULL, 0);
    CHECK(all_fp(&c) == 2);
    /* the test is per cell: (2,2) touches the higher (2,3) and fails, but its equal
     * neighbour (2,1) is >= all of its own neighbours and counts */
    fill(m, -1);
    m[2 * W + 1] = 3;
    m[2 * W + 2] = 3;
    m[2 * W + 3] = 4;
    c = run1(m, NULL, 0);
    CHECK(all_fp(&c) == 2);
}

static void test_greedy(void)
{
    float m[H * W];
    fill(m, -1);
    m[2 * W + 3] = 5; /* strong peak at (7, 5) */
    m[2 * W + 1] = 1; /* weak peak at (3, 5) */
    /* A at (5, 5): 2 px from both; B at (9.5, 5): 2.5 px from the strong one, 6.5 from the
     * weak. Greedy gives the strong peak A (nearest), then the weak one finds nothing
     * within 3 px: 1 TP, 1 FN, 1 FP where an optimal assignment would find 2 TP. */
    float obj[6] = { 5.0f, 5.0f, 4.0f, 9.5f, 5.0f, 4.0f };
    DetectCounts c = run1(m, obj, 2);
    CHECK(counts_are(&c, 1, 0, 1, 0, 1, 0));
    /* strongest first: swap strengths and the strong (3,5) peak takes A, the weak (7,5)
     * takes B */
    m[2 * W + 3] = 1;
    m[2 * W + 1] = 5;
    c = run1(m, obj, 2);
    CHECK(counts_are(&c, 2, 0, 0, 0, 0, 0));
    /* equal logits are taken in raster order: (3,5) first, as in the swapped case */
    m[2 * W + 3] = 5;
    m[2 * W + 1] = 5;
    c = run1(m, obj, 2);
    CHECK(counts_are(&c, 2, 0, 0, 0, 0, 0));
    /* one object, two peaks within range: one TP, one FP of that object's class */
    float one[3] = { 5.0f, 5.0f, 20.0f };
    c = run1(m, one, 1);
    CHECK(counts_are(&c, 0, 1, 0, 0, 0, 1));
    /* equal distances: the first object in the list wins */
    fill(m, -1);
    m[2 * W + 2] = 1; /* (5, 5) */
    float two[6] = { 7.0f, 5.0f, 20.0f, 3.0f, 5.0f, 4.0f };
    c = run1(m, two, 2);
    CHECK(counts_are(&c, 0, 1, 1, 0, 0, 0));
}

static void test_tolerance(void)
{
    float m[H * W];
    fill(m, -1);
    m[2 * W + 2] = 1; /* (5, 5) */
    float at[3] = { 8.0f, 5.0f, 4.0f };   /* exactly 3 px: a match */
    DetectCounts c = run1(m, at, 1);
    CHECK(counts_are(&c, 1, 0, 0, 0, 0, 0));
    float diag[3] = { 7.0f, 7.0f, 4.0f }; /* sqrt(8) = 2.83 px: a match */
    c = run1(m, diag, 1);
    CHECK(counts_are(&c, 1, 0, 0, 0, 0, 0));
    float past[3] = { 8.0001f, 5.0f, 4.0f }; /* just beyond */
    c = run1(m, past, 1);
    CHECK(counts_are(&c, 0, 0, 1, 0, 1, 0));
    float corner[3] = { 7.0f, 8.0f, 4.0f }; /* sqrt(13) = 3.6 px */
    c = run1(m, corner, 1);
    CHECK(counts_are(&c, 0, 0, 1, 0, 1, 0));
    /* a wider tolerance takes it */
    DetectCfg cfg = cfg5();
    cfg.tol_px = 4;
    memset(&c, 0, sizeof c);
    detect_counts_add(&c, &cfg, m, 1, corner, 1);
    CHECK(counts_are(&c, 1, 0, 0, 0, 0, 0));
    /* stride 1: cell (2,2) is at (2.5, 2.5) */
    cfg = detect_cfg_default(H, W, W);
    CHECK(cfg.stride == 1.0);
    float s1[3] = { 5.5f, 2.5f, 4.0f }; /* exactly 3 px */
    memset(&c, 0, sizeof c);
    detect_counts_add(&c, &cfg, m, 1, s1, 1);
    CHECK(counts_are(&c, 1, 0, 0, 0, 0, 0));
}

static void test_classes(void)
{
    float m[H * W];
    fill(m, -1);
    m[0 * W + 0] = 1; /* (1, 1) */
    m[4 * W + 4] = 1; /* (9, 9) */
    /* 14.99 px is small, 15 px large; a matched small and a missed large */
    float obj[6] = { 1.0f, 1.0f, 14.99f, 5.0f, 9.0f, 15.0f };
    DetectCounts c = run1(m, obj, 2);
    /* (9,9): 4 px from the large one: unmatched. The FP goes to the class of the nearest
     * object in the image: the large one (4 px) rather than the small (11.3 px) */
    CHECK(counts_are(&c, 1, 0, 0, 1, 0, 1));
    /* only a peak at (9,9); the small object at (9, 5.5) is 3.5 px away, the large at
     * (5, 9) 4 px: both missed, and the FP is the nearer small one's */
    float obj2[6] = { 9.0f, 5.5f, 2.0f, 5.0f, 9.0f, 15.0f };
    fill(m, -1);
    m[4 * W + 4] = 1;
    c = run1(m, obj2, 2);
    CHECK(counts_are(&c, 0, 0, 1, 1, 1, 0));
    /* the nearest object counts even when it is matched: a second peak beside a matched
     * small object is a small FP */
    fill(m, -1);
    m[2 * W + 2] = 2; /* (5, 5) */
    m[2 * W + 4] = 1; /* (9, 5) */
    float obj3[6] = { 6.0f, 5.0f, 3.0f, 1.0f, 9.0f, 18.0f }; /* small 1 px / 3 px; large */
    c = run1(m, obj3, 2);
    CHECK(counts_are(&c, 1, 0, 0, 1, 1, 0));
    /* padding rows (diameter 0 or below) are no objects; an image without objects
     * attributes its FPs to large */
    float pad[9] = { 5.0f, 5.0f, 0.0f, 5.0f, 5.0f, -3.0f, 1.0f, 1.0f, 0.0f };
    c = run1(m, pad, 3);
    CHECK(counts_are(&c, 0, 0, 0, 0, 0, 2));
}

static void test_batch_and_rates(void)
{
    /* two images: offsets into heat and objects */
    float m[2 * H * W];
    for (int i = 0; i < 2 * H * W; i++)
        m[i] = -1;
    m[2 * W + 2] = 1;             /* image 0: (5, 5) */
    m[H * W + 0] = 1;             /* image 1: (1, 1) */
    float obj[2 * 2 * 3] = { 5, 5, 4, 0, 0, 0,       /* image 0: small at the peak */
                             9, 9, 16, 1, 2, 20 };   /* image 1: two large, one found */
    DetectCounts c;
    memset(&c, 0, sizeof c);
    DetectCfg cfg = cfg5();
    detect_counts_add(&c, &cfg, m, 2, obj, 2);
    CHECK(counts_are(&c, 1, 1, 0, 1, 0, 0));
    CHECK(detect_recall(&c, -1) == 2.0 / 3.0);
    CHECK(detect_recall(&c, DET_SMALL) == 1.0);
    CHECK(detect_recall(&c, DET_LARGE) == 0.5);
    CHECK(detect_precision(&c, -1) == 1.0);
    CHECK(detect_precision(&c, DET_LARGE) == 1.0);
    CHECK(detect_f1(&c, -1) == 4.0 / 5.0);
    /* accumulation: adding the same batch again doubles the counts, rates unchanged */
    detect_counts_add(&c, &cfg, m, 2, obj, 2);
    CHECK(counts_are(&c, 2, 2, 0, 2, 0, 0));
    CHECK(detect_recall(&c, -1) == 2.0 / 3.0);

    /* empty denominators */
    DetectCounts z;
    memset(&z, 0, sizeof z);
    CHECK(isnan(detect_recall(&z, -1)) && isnan(detect_precision(&z, -1)) &&
          isnan(detect_f1(&z, -1)));
    z.fn[DET_SMALL] = 3;       /* objects, no peaks: recall 0, precision NaN, F1 0 */
    CHECK(detect_recall(&z, DET_SMALL) == 0.0);
    CHECK(isnan(detect_precision(&z, DET_SMALL)));
    CHECK(detect_f1(&z, DET_SMALL) == 0.0);
    CHECK(isnan(detect_recall(&z, DET_LARGE)) && isnan(detect_f1(&z, DET_LARGE)));
    z.fp[DET_LARGE] = 2;       /* peaks, no large objects: recall NaN, precision 0 */
    CHECK(isnan(detect_recall(&z, DET_LARGE)));
    CHECK(detect_precision(&z, DET_LARGE) == 0.0);
    CHECK(detect_f1(&z, DET_LARGE) == 0.0);
    z.tp[DET_LARGE] = 2;
    CHECK(detect_precision(&z, DET_LARGE) == 0.5 && detect_recall(&z, DET_LARGE) == 1.0);
    CHECK(detect_f1(&z, DET_LARGE) == 2.0 / 3.0);
    /* n = 0 and empty maps leave counts alone */
    memset(&c, 0, sizeof c);
    detect_counts_add(&c, &cfg, m, 0, obj, 2);
    CHECK(counts_are(&c, 0, 0, 0, 0, 0, 0));
}

int main(void)
{
    test_defaults();
    test_peak_rules();
    test_plateau();
    test_greedy();
    test_tolerance();
    test_classes();
    test_batch_and_rates();
    return test_summary("metrics_detect");
}
