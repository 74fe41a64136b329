/* The balls generator: determinism (same seed, same bytes; another seed, other bytes; a
 * smaller n is a prefix), shapes, the consistency of heat maps, object lists and images,
 * the size mix, and knob errors. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "data/synth.h"
#include "test_util.h"

static const SynthDef *def;

/* Makes n samples with knobs set from (name, value) pairs ending with NULL. */
static QsStatus makev(Dataset *d, int64_t n, uint64_t seed, QsError *err, ...)
{
    SynthArgs a;
    memset(d, 0, sizeof *d);
    synth_args_init(def, &a, n, seed);
    va_list ap;
    va_start(ap, err);
    for (const char *k; (k = va_arg(ap, const char *));) {
        double v = va_arg(ap, double);
        if (synth_args_set(def, &a, k, v, err)) {
            va_end(ap);
            return err->code;
        }
    }
    va_end(ap);
    return def->make(&a, d, err);
}

static QsStatus make(Dataset *d, int64_t n, uint64_t seed, const char *k1, double v1,
                     const char *k2, double v2, QsError *err)
{
    return makev(d, n, seed, err, k1, v1, k2, v2, (const char *)NULL);
}

static bool same_bytes(const Tensor *a, const Tensor *b)
{
    return a->dtype == b->dtype && shape_equal(&a->shape, &b->shape) &&
           memcmp(a->data, b->data, tensor_bytes(a)) == 0;
}

static void test_determinism(void)
{
    QsError err;
    Dataset a, b, c, p;
    CHECK_OK(make(&a, 8, 1, NULL, 0, NULL, 0, &err), &err);
    CHECK_OK(make(&b, 8, 1, NULL, 0, NULL, 0, &err), &err);
    CHECK_OK(make(&c, 8, 2, NULL, 0, NULL, 0, &err), &err);
    CHECK_OK(make(&p, 3, 1, NULL, 0, NULL, 0, &err), &err);
    CHECK(a.n_x == 1 && a.y && a.aux);
    CHECK(same_bytes(a.x[0], b.x[0]) && same_bytes(a.y, b.y) && same_bytes(a.aux, b.aux));
    CHECK(memcmp(a.x[0]->data, c.x[0]->data, tensor_bytes(a.x[0])) != 0);
    CHECK(memcmp(a.aux->data, c.aux->data, tensor_bytes(a.aux)) != 0);
    /* sample i depends on (seed, i) only: the 3-sample set is the 8-sample set's head */
    CHECK(memcmp(a.x[0]->data, p.x[0]->data, tensor_bytes(p.x[0])) == 0);
    CHECK(memcmp(a.y->data, p.y->data, tensor_bytes(p.y)) == 0);
    CHECK(memcmp(a.aux->data, p.aux->data, tensor_bytes(p.aux)) == 0);
    /* shapes: x (8, 1, 64, 64), y (8, 1, 32, 32) at the default stride 2, aux (8, 6, 3) */
    CHECK(shape_equal(&a.x[0]->shape, &(Shape){ 4, { 8, 1, 64, 64 } }));
    CHECK(shape_equal(&a.y->shape, &(Shape){ 4, { 8, 1, 32, 32 } }));
    CHECK(shape_equal(&a.aux->shape, &(Shape){ 3, { 8, 6, 3 } }));
    dataset_release(&a);
    dataset_release(&b);
    dataset_release(&c);
    dataset_release(&p);
}

/* Every object's centre cell holds exactly 1 and no other cell does; diameters and centres
 * are in range; padding rows are zero and come last; every sample has a ball. Returns the
 * share of balls under 15 px. */
static double check_consistency(const Dataset *d, int stride, int64_t *balls)
{
    int64_t n = d->y->shape.dim[0], k = d->aux->shape.dim[1];
    int side = 64 / stride;
    int64_t small = 0, total = 0, bad_peak = 0, bad_range = 0, bad_pad = 0, extra_ones = 0;
    for (int64_t s = 0; s < n; s++) {
        const float *hm = tensor_f32(d->y) + s * side * side;
        const float *ob = tensor_f32(d->aux) + s * k * 3;
        int valid = 0, ones = 0;
        bool pad_seen = false;
        for (int i = 0; i < side * side; i++) {
            ones += hm[i] == 1.0f;
            bad_range += !(hm[i] >= 0.0f && hm[i] <= 1.0f);
        }
        for (int64_t o = 0; o < k; o++) {
            float cx = ob[3 * o], cy = ob[3 * o + 1], dm = ob[3 * o + 2];
            if (dm <= 0) {
                pad_seen = true;
                bad_pad += cx != 0 || cy != 0 || dm != 0;
                continue;
            }
            bad_pad += pad_seen; /* a ball after a padding row */
            valid++;
            total++;
            small += dm < 15;
            bad_range += !(dm >= 2 && dm <= 20);
            bad_range += !(cx >= dm / 2 && cx <= 64 - dm / 2 && cy >= dm / 2 && cy <= 64 - dm / 2);
            int ci = (int)floorf(cy / stride), cj = (int)floorf(cx / stride);
            bad_peak += hm[ci * side + cj] != 1.0f;
        }
        extra_ones += ones != valid;
        bad_range += valid < 1;
    }
    CHECK(bad_peak == 0);
    CHECK(extra_ones == 0);
    CHECK(bad_range == 0);
    CHECK(bad_pad == 0);
    *balls = total;
    return total ? (double)small / total : NAN;
}

static void test_labels(void)
{
    QsError err;
    Dataset d;
    int64_t balls;
    CHECK_OK(make(&d, 300, 7, NULL, 0, NULL, 0, &err), &err);
    double frac = check_consistency(&d, 2, &balls);
    /* 300 images of 1..6 balls, some dropped when they do not fit: about 1000 balls;
     * a binomial share of 0.5 over 1000 has sd 0.016, so [0.4, 0.6] holds with margin */
    CHECK(balls > 700);
    CHECK(frac > 0.4 && frac < 0.6);
    /* the Gaussian falls off around each centre: the 4 cells beside a peak are below 1
     * and above 0 */
    int64_t bad = 0;
    const float *hm = tensor_f32(d.y), *ob = tensor_f32(d.aux);
    for (int o = 0; o < 6; o++) {
        if (ob[3 * o + 2] <= 0)
            break;
        int ci = (int)floorf(ob[3 * o + 1] / 2), cj = (int)floorf(ob[3 * o] / 2);
        int nb[4][2] = { { ci - 1, cj }, { ci + 1, cj }, { ci, cj - 1 }, { ci, cj + 1 } };
        for (int q = 0; q < 4; q++)
            if (nb[q][0] >= 0 && nb[q][0] < 32 && nb[q][1] >= 0 && nb[q][1] < 32) {
                float v = hm[nb[q][0] * 32 + nb[q][1]];
                bad += !(v > 0.0f && v < 1.0f);
            }
    }
    CHECK(bad == 0);
    dataset_release(&d);

    /* small_frac 0 and 1; stride 4 and 1 */
    CHECK_OK(make(&d, 60, 3, "small_frac", 0, "stride", 4, &err), &err);
    CHECK(d.y->shape.dim[2] == 16 && d.y->shape.dim[3] == 16);
    CHECK(check_consistency(&d, 4, &balls) == 0.0);
    dataset_release(&d);
    CHECK_OK(make(&d, 60, 3, "small_frac", 1, "stride", 1, &err), &err);
    CHECK(d.y->shape.dim[2] == 64);
    CHECK(check_consistency(&d, 1, &balls) == 1.0);
    dataset_release(&d);
    /* max_balls sets aux's K and bounds the count */
    CHECK_OK(make(&d, 40, 3, "max_balls", 1, NULL, 0, &err), &err);
    CHECK(d.aux->shape.dim[1] == 1);
    check_consistency(&d, 2, &balls);
    CHECK(balls == 40);
    dataset_release(&d);
}

/* Without noise, clutter or glare, the pixel holding a ball's centre stands out from the
 * background a few pixels outside the ball (which moves by at most 0.1 x 64/64 per
 * pixel of the gradient's span over the distance). */
static void test_images(void)
{
    QsError err;
    Dataset d;
    CHECK_OK(makev(&d, 50, 5, &err, "noise", 0.0, "clutter", 0.0, "glare", 0.0, (const char *)NULL), &err);
    int64_t n = 50, k = 6, bad = 0, checked = 0, out_of_range = 0;
    for (int64_t s = 0; s < n; s++) {
        const float *img = tensor_f32(d.x[0]) + s * 64 * 64;
        const float *ob = tensor_f32(d.aux) + s * k * 3;
        for (int i = 0; i < 64 * 64; i++)
            out_of_range += !(img[i] >= 0.0f && img[i] <= 1.0f);
        for (int o = 0; o < k; o++) {
            float cx = ob[3 * o], cy = ob[3 * o + 1], dm = ob[3 * o + 2];
            if (dm <= 0)
                continue;
            float c = img[(int)cy * 64 + (int)cx];
            /* a background pixel: 2 px beyond the rim, left or right, if no ball is there */
            int bx = (int)(cx - dm / 2 - 2.5f) >= 0 ? (int)(cx - dm / 2 - 2.5f)
                                                     : (int)(cx + dm / 2 + 2.5f);
            if (bx < 0 || bx >= 64)
                continue;
            bool clear = true;
            for (int q = 0; q < k; q++) {
                float qd = ob[3 * q + 2];
                float dx = bx + 0.5f - ob[3 * q], dy = (int)cy + 0.5f - ob[3 * q + 1];
                if (qd > 0 && dx * dx + dy * dy < (qd / 2 + 2) * (qd / 2 + 2))
                    clear = false;
            }
            if (!clear)
                continue;
            checked++;
            /* contrast >= 0.15, shading ~1 at the centre, coverage of the centre pixel
             * >= 0.7 for the smallest ball (r 1, edge 1.4 px): >= 0.1, minus the gradient
             * (<= 0.1/64 per px and axis, <= 12.5 px: 0.02) */
            bad += !(c - img[(int)cy * 64 + bx] > 0.01f);
        }
    }
    CHECK(checked > 100);
    CHECK(bad == 0);
    CHECK(out_of_range == 0);
    /* noise changes the image but not the labels */
    Dataset e;
    CHECK_OK(makev(&e, 50, 5, &err, "noise", 0.2, "clutter", 0.0, "glare", 0.0, (const char *)NULL), &err);
    CHECK(memcmp(d.x[0]->data, e.x[0]->data, tensor_bytes(e.x[0])) != 0);
    CHECK(same_bytes(d.aux, e.aux) && same_bytes(d.y, e.y));
    dataset_release(&e);
    /* clutter draws from the same stream before the balls, so it changes both */
    CHECK_OK(makev(&e, 50, 5, &err, "noise", 0.0, "clutter", 3.0, "glare", 0.0, (const char *)NULL), &err);
    CHECK(memcmp(d.x[0]->data, e.x[0]->data, tensor_bytes(e.x[0])) != 0);
    dataset_release(&e);
    dataset_release(&d);
}

/* Glare lifts pixels above the 1.0 that balls and background never exceed (test_images):
 * every glare item covers at least part of a pixel with contrast >= glare_max / 3 = 4
 * (its centre lies in the image), so with glare=1 nearly every image has a pixel above
 * 1.05; with the default 0.25, about a quarter (sd 0.03 over 200). glare_max bounds it. */
static void test_glare(void)
{
    QsError err;
    Dataset d;
    int64_t bright = 0;
    CHECK_OK(makev(&d, 200, 9, &err, "noise", 0.0, "clutter", 0.0, "glare", 1.0, (const char *)NULL), &err);
    for (int64_t s = 0; s < 200; s++) {
        const float *img = tensor_f32(d.x[0]) + s * 64 * 64;
        float mx = 0;
        for (int i = 0; i < 64 * 64; i++)
            mx = img[i] > mx ? img[i] : mx;
        bright += mx > 1.05f;
    }
    CHECK(bright >= 190);
    dataset_release(&d);
    bright = 0;
    CHECK_OK(makev(&d, 200, 9, &err, "noise", 0.0, "clutter", 0.0, (const char *)NULL), &err);
    for (int64_t s = 0; s < 200; s++) {
        const float *img = tensor_f32(d.x[0]) + s * 64 * 64;
        float mx = 0;
        for (int i = 0; i < 64 * 64; i++)
            mx = img[i] > mx ? img[i] : mx;
        bright += mx > 1.05f;
    }
    CHECK(bright > 30 && bright < 70);
    dataset_release(&d);
    /* glare_max=2: glare adds at most 2 to a scene that stays within [0, 1] */
    float top = 0;
    CHECK_OK(makev(&d, 100, 9, &err, "noise", 0.0, "clutter", 0.0, "glare", 1.0, "glare_max",
                   2.0, (const char *)NULL), &err);
    for (int64_t i = 0; i < tensor_numel(d.x[0]); i++)
        top = tensor_f32(d.x[0])[i] > top ? tensor_f32(d.x[0])[i] : top;
    CHECK(top > 1.3f && top <= 3.0f);
    dataset_release(&d);
}

static void test_knob_errors(void)
{
    QsError err;
    Dataset d;
    SynthArgs a;
    synth_args_init(def, &a, 4, 1);
    CHECK(a.knob[0] == 6); /* max_balls default */
    expect_error("max_balls=0", synth_args_set(def, &a, "max_balls", 0, &err), &err, QS_EINVAL,
                 "max_balls=0 is outside [1, 16]");
    expect_error("noise=-0.1", synth_args_set(def, &a, "noise", -0.1, &err), &err, QS_EINVAL,
                 "outside");
    expect_error("noise=NaN", synth_args_set(def, &a, "noise", NAN, &err), &err, QS_EINVAL,
                 "outside");
    expect_error("unknown knob", synth_args_set(def, &a, "balls", 3, &err), &err, QS_EINVAL,
                 "knobs: max_balls, noise, clutter, glare, glare_max, small_frac, contrast, stride");
    expect_error("stride 3", make(&d, 4, 1, "stride", 3, NULL, 0, &err), &err, QS_EINVAL,
                 "stride=3 must be 1, 2 or 4");
    expect_error("fractional", make(&d, 4, 1, "max_balls", 2.5, NULL, 0, &err), &err,
                 QS_EINVAL, "whole numbers");
    expect_error("n=0", make(&d, 0, 1, NULL, 0, NULL, 0, &err), &err, QS_EINVAL, "n=0");
    /* arguments filled by hand, past synth_args_set, are checked by the generator */
    synth_args_init(def, &a, 4, 1);
    a.knob[0] = 40;
    expect_error("max_balls=40 by hand", def->make(&a, &d, &err), &err, QS_EINVAL,
                 "max_balls=40 is outside [1, 16]");
    CHECK(d.n_x == 0 && !d.y && !d.aux);
}

int main(void)
{
    def = synth_find("balls");
    CHECK(def != NULL);
    if (!def)
        return test_summary("synth_balls");
    test_determinism();
    test_labels();
    test_images();
    test_glare();
    test_knob_errors();
    return test_summary("synth_balls");
}
