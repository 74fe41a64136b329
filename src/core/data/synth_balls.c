/* The balls generator: 64x64 single-channel images of filled, soft-edged balls of
 * diameter 2 to 20 px on a shaded background, among clutter that is deliberately not a
 * filled disc (lines, rotated boxes, elongated ellipses, hollow rings), occasional glare
 * and Gaussian pixel noise. Values are linear sensor units: background and balls lie in
 * [0, 1], glare (a specular highlight) far above. Targets are CenterNet-style heat maps;
 * aux lists the objects.
 *
 * Per sample (every draw from one Rng seeded from (seed, sample index), so the first n
 * samples of a larger set are the n-sample set):
 *   background  level U(0.1, 0.35) plus a linear gradient of at most +-0.05 at the edges;
 *   clutter     `clutter` items, each adding U(-0.6,-0.15) (30 %) or U(0.15, 0.6) to the
 *               pixels it covers (1-pixel anti-aliased edges);
 *   glare       with probability `glare`, one line or box adding U(glare_max/3, glare_max);
 *   balls       1 + U{0 .. max_balls-1}; diameter U(2, 15) with probability small_frac,
 *               else U(15, 20); centre so that the disc lies inside the image and at least
 *               max(8, r1 + r2 + 2) px from every other ball (50 tries, else the ball is
 *               dropped); brightness background + c (1 - 0.25 (r/R)^2), c U(contrast/4,
 *               contrast), soft edge width U(0.6, 1.4) px; a ball covers what is below;
 *   noise       N(0, noise^2) added to every pixel; nothing is clipped.
 * y (N, 1, 64/stride, 64/stride): for each ball, the cell holding its centre is 1 and the
 * cells around it exp(-d^2 / (2 s^2)), d the distance in cells to that cell, s =
 * max(0.5, diameter / (6 stride)) cells; objects combine by maximum.
 * aux (N, max_balls, 3): cx, cy (input pixels, origin at the image's top-left corner, so
 * pixel (i, j) spans [j, j+1) x [i, i+1)), diameter; unused rows are zeros. */
#include <math.h>
#include <string.h>

#include "base/rng.h"
#include "kern/fmath.h"
#include "kern/normal.h"
#include "data/synth.h"

#define BALLS_SIDE 64

enum { K_MAX_BALLS = 0, K_NOISE, K_CLUTTER, K_GLARE, K_GLARE_MAX, K_SMALL_FRAC, K_CONTRAST,
       K_STRIDE };

const SynthKnob synth_balls_knobs[] = {
    [K_MAX_BALLS] = { "max_balls", 6, 1, 16, "most balls per image (1 to this many); aux rows" },
    [K_NOISE] = { "noise", 0.03, 0, 0.5, "standard deviation of the Gaussian pixel noise" },
    [K_CLUTTER] = { "clutter", 4, 0, 20, "clutter items per image (lines, boxes, ellipses, "
                                         "rings)" },
    [K_GLARE] = { "glare", 0.25, 0, 1, "share of images with one glare streak or box" },
    [K_GLARE_MAX] = { "glare_max", 12, 1, 100, "brightest glare (contrast U(glare_max/3, "
                                              "glare_max))" },
    [K_SMALL_FRAC] = { "small_frac", 0.5, 0, 1, "share of balls under 15 px" },
    [K_CONTRAST] = { "contrast", 0.6, 0.02, 1, "most ball brightness above background (the "
                                                "least is a quarter of it)" },
    [K_STRIDE] = { "stride", 2, 1, 4, "input pixels per heat-map cell: 1, 2 or 4" },
    { NULL, 0, 0, 0, NULL },
};

typedef struct Ball {
    double cx, cy, d;
} Ball;

static double balls_clamp01(double v) { return v < 0.0 ? 0.0 : v > 1.0 ? 1.0 : v; }

static double balls_range(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

/* Pixel box [*x0, *x1) x [*y0, *y1) around (cx, cy) with half-extent ext, clipped. */
static void balls_box(double cx, double cy, double ext, int *x0, int *x1, int *y0, int *y1)
{
    double a = floor(cx - ext), b = ceil(cx + ext) + 1, c = floor(cy - ext),
           d = ceil(cy + ext) + 1;
    *x0 = a < 0 ? 0 : a > BALLS_SIDE ? BALLS_SIDE : (int)a;
    *x1 = b < 0 ? 0 : b > BALLS_SIDE ? BALLS_SIDE : (int)b;
    *y0 = c < 0 ? 0 : c > BALLS_SIDE ? BALLS_SIDE : (int)c;
    *y1 = d < 0 ? 0 : d > BALLS_SIDE ? BALLS_SIDE : (int)d;
}

/* One clutter item added onto img (64, 64): coverage in [0, 1] times contrast. Glare
 * (glare_max > 0) is a line or a box with contrast U(glare_max / 3, glare_max). */
static void balls_clutter(Rng *r, float *img, double glare_max)
{
    bool glare = glare_max > 0;
    double c = glare                 ? balls_range(r, glare_max / 3, glare_max)
             : rng_uniform(r) < 0.3 ? -balls_range(r, 0.15, 0.6) : balls_range(r, 0.15, 0.6);
    int kind = (int)rng_below(r, glare ? 2 : 4);
    double cx = balls_range(r, 0, BALLS_SIDE), cy = balls_range(r, 0, BALLS_SIDE);
    double th = balls_range(r, 0, 3.141592653589793), ct = fm_cos(th), st = fm_sin(th);
    double a, b, ext;
    switch (kind) {
    case 0: /* line: half-length a, half-width b */
        a = balls_range(r, 4, 20), b = balls_range(r, 0.5, 1.25), ext = a + b + 1;
        break;
    case 1: /* rectangle: half-sides a >= 1.8 b, so that no box passes for a disc */
        b = balls_range(r, 1.5, 8);
        a = b * balls_range(r, 1.8, 3.0);
        ext = a + b + 1;
        break;
    case 2: /* ellipse, aspect >= 2.2 */
        b = balls_range(r, 1.5, 5);
        a = b * balls_range(r, 2.2, 4.0);
        ext = a + 1;
        break;
    default: /* ring: radius a, thickness 2b */
        a = balls_range(r, 4, 12), b = balls_range(r, 0.5, 1.0), ext = a + b + 1;
        break;
    }
    int x0, x1, y0, y1;
    balls_box(cx, cy, ext, &x0, &x1, &y0, &y1);
    for (int i = y0; i < y1; i++)
        for (int j = x0; j < x1; j++) {
            double dx = j + 0.5 - cx, dy = i + 0.5 - cy;
            double u = dx * ct + dy * st, v = -dx * st + dy * ct, cov;
            switch (kind) {
            case 0: {
                double du = fabs(u) > a ? fabs(u) - a : 0.0;
                cov = balls_clamp01(b - sqrt(du * du + v * v) + 0.5);
                break;
            }
            case 1:
                cov = balls_clamp01(a - fabs(u) + 0.5) * balls_clamp01(b - fabs(v) + 0.5);
                break;
            case 2: {
                double rn = sqrt((u / a) * (u / a) + (v / b) * (v / b));
                cov = balls_clamp01((1.0 - rn) * b + 0.5);
                break;
            }
            default:
                cov = balls_clamp01(b - fabs(sqrt(u * u + v * v) - a) + 0.5);
                break;
            }
            img[i * BALLS_SIDE + j] += (float)(cov * c);
        }
}

/* Places up to nb balls; returns how many fit. */
static int balls_place(Rng *r, int nb, double small_frac, Ball *out)
{
    int placed = 0;
    for (int k = 0; k < nb; k++) {
        double d = rng_uniform(r) < small_frac ? balls_range(r, 2, 15) : balls_range(r, 15, 20);
        double rad = d / 2;
        for (int t = 0; t < 50; t++) {
            double cx = balls_range(r, rad, BALLS_SIDE - rad);
            double cy = balls_range(r, rad, BALLS_SIDE - rad);
            bool ok = true;
            for (int q = 0; q < placed && ok; q++) {
                double dx = cx - out[q].cx, dy = cy - out[q].cy;
                double need = rad + out[q].d / 2 + 2;
                need = need < 8 ? 8 : need;
                ok = dx * dx + dy * dy >= need * need;
            }
            if (ok) {
                out[placed++] = (Ball){ cx, cy, d };
                break;
            }
        }
    }
    return placed;
}

static void balls_draw(Rng *r, const Ball *bl, double cmax, const float *bg, float *img)
{
    double rad = bl->d / 2;
    double c = balls_range(r, cmax / 4, cmax);
    double soft = balls_range(r, 0.6, 1.4);
    int x0, x1, y0, y1;
    balls_box(bl->cx, bl->cy, rad + soft, &x0, &x1, &y0, &y1);
    for (int i = y0; i < y1; i++)
        for (int j = x0; j < x1; j++) {
            double dx = j + 0.5 - bl->cx, dy = i + 0.5 - bl->cy;
            double rr = sqrt(dx * dx + dy * dy);
            double cov = balls_clamp01((rad - rr) / soft + 0.5);
            if (cov <= 0.0)
                continue;
            double q = rr < rad ? rr / rad : 1.0;
            double level = bg[i * BALLS_SIDE + j] + c * (1.0 - 0.25 * q * q);
            float *p = &img[i * BALLS_SIDE + j];
            *p = (float)(*p * (1.0 - cov) + level * cov);
        }
}

/* Heat map (side, side) for the placed balls. */
static void balls_heat(const Ball *bl, int nb, int stride, float *heat)
{
    int side = BALLS_SIDE / stride;
    memset(heat, 0, (size_t)side * side * sizeof *heat);
    for (int k = 0; k < nb; k++) {
        int ci = (int)floor(bl[k].cy / stride), cj = (int)floor(bl[k].cx / stride);
        double s = bl[k].d / (6.0 * stride);
        s = s < 0.5 ? 0.5 : s;
        int reach = (int)ceil(3 * s);
        for (int i = ci - reach; i <= ci + reach; i++)
            for (int j = cj - reach; j <= cj + reach; j++) {
                if (i < 0 || j < 0 || i >= side || j >= side)
                    continue;
                double d2 = (double)(i - ci) * (i - ci) + (double)(j - cj) * (j - cj);
                float v = d2 == 0 ? 1.0f : (float)fm_exp(-d2 / (2 * s * s));
                if (v > heat[i * side + j])
                    heat[i * side + j] = v;
            }
    }
}

QsStatus synth_balls_make(const SynthArgs *a, Dataset *out, QsError *err)
{
    const double *kn = a->knob;
    int maxb = (int)kn[K_MAX_BALLS], clutter = (int)kn[K_CLUTTER], stride = (int)kn[K_STRIDE];
    if (a->n < 1)
        return qs_fail(err, QS_EINVAL, "balls: n=%lld must be at least 1", (long long)a->n);
    /* synth_args_set checks ranges; args built by hand are checked here too */
    for (int k = 0; synth_balls_knobs[k].name; k++)
        if (!(kn[k] >= synth_balls_knobs[k].lo && kn[k] <= synth_balls_knobs[k].hi))
            return qs_fail(err, QS_EINVAL, "balls: %s=%g is outside [%g, %g]",
                           synth_balls_knobs[k].name, kn[k], synth_balls_knobs[k].lo,
                           synth_balls_knobs[k].hi);
    if (maxb != kn[K_MAX_BALLS] || clutter != kn[K_CLUTTER])
        return qs_fail(err, QS_EINVAL, "balls: max_balls and clutter must be whole numbers");
    if (stride != kn[K_STRIDE] || (stride != 1 && stride != 2 && stride != 4))
        return qs_fail(err, QS_EINVAL, "balls: stride=%g must be 1, 2 or 4", kn[K_STRIDE]);
    int side = BALLS_SIDE / stride;
    /* x (N, 1, 64, 64), y (N, 1, side, side), aux (N, max_balls, 3) */
    Tensor *x = tensor_new(DT_F32, shape_of(4, a->n, (int64_t)1, (int64_t)BALLS_SIDE,
                                            (int64_t)BALLS_SIDE), err);
    Tensor *y = x ? tensor_new(DT_F32, shape_of(4, a->n, (int64_t)1, (int64_t)side,
                                                (int64_t)side), err) : NULL;
    Tensor *aux = y ? tensor_new(DT_F32, shape_of(3, a->n, (int64_t)maxb, (int64_t)3), err)
                    : NULL;
    if (!aux) {
        tensor_free(x);
        tensor_free(y);
        return err->code;
    }
    float bg[BALLS_SIDE * BALLS_SIDE]; /* (64, 64) background of the current image */
    Ball bl[16];                       /* max_balls <= 16 */
    for (int64_t s = 0; s < a->n; s++) {
        Rng r;
        rng_seed(&r, a->seed ^ (0xd1b54a32d192ed03ull * (uint64_t)(s + 1)));
        float *img = tensor_f32(x) + s * BALLS_SIDE * BALLS_SIDE; /* (64, 64) */
        double level = balls_range(&r, 0.1, 0.35);
        double gx = balls_range(&r, -0.1, 0.1) / BALLS_SIDE, gy = balls_range(&r, -0.1, 0.1) /
                                                                  BALLS_SIDE;
        for (int i = 0; i < BALLS_SIDE; i++)
            for (int j = 0; j < BALLS_SIDE; j++)
                bg[i * BALLS_SIDE + j] = (float)(level + gx * (j - 31.5) + gy * (i - 31.5));
        memcpy(img, bg, sizeof bg);
        for (int k = 0; k < clutter; k++)
            balls_clutter(&r, img, 0);
        if (rng_uniform(&r) < kn[K_GLARE])
            balls_clutter(&r, img, kn[K_GLARE_MAX]);
        int nb = balls_place(&r, 1 + (int)rng_below(&r, (uint64_t)maxb), kn[K_SMALL_FRAC], bl);
        for (int k = 0; k < nb; k++)
            balls_draw(&r, &bl[k], kn[K_CONTRAST], bg, img);
        if (kn[K_NOISE] > 0)
            for (int i = 0; i < BALLS_SIDE * BALLS_SIDE; i++)
                img[i] += (float)(kn[K_NOISE] * rng_normal(&r));
        balls_heat(bl, nb, stride, tensor_f32(y) + s * side * side);
        float *ob = tensor_f32(aux) + s * maxb * 3; /* (max_balls, 3) */
        for (int k = 0; k < nb; k++) {
            ob[3 * k] = (float)bl[k].cx;
            ob[3 * k + 1] = (float)bl[k].cy;
            ob[3 * k + 2] = (float)bl[k].d;
        }
    }
    out->x[0] = x;
    out->n_x = 1;
    out->y = y;
    out->aux = aux;
    return QS_OK;
}
