/* Synthetic 3-axis accelerometer windows for fall detection (models/README.md, "falls").
 *
 * The sensor is worn at the waist. Body frame: axis 0 forward, axis 1 up along the trunk,
 * axis 2 to the left. An accelerometer reads the specific force, so at rest it reads +1 g
 * pointing up in the world, which in the body frame of a trunk tilted by th from upright
 * towards azimuth ph is grav(th, ph) = (sin th cos ph, cos th, sin th sin ph). A window of
 * L samples at hz is
 *
 *     a(t) = M (ff(t) (grav(th(t), ph(t)) + d(t)) + s(t)) + b + noise(t)      (in g)
 *
 * with M a small rotation for how the sensor sits on the belt (one per window), ff(t) the
 * free-fall factor (1 normally, near 0 while the body is in free fall: falling or in the
 * flight of a jump or a running stride), d(t) the activity's own accelerations (steps,
 * breathing, the bump of standing up), s(t) impact spikes (landing of a fall, a jump, a
 * hard sit-down), b a per-window sensor bias and noise white Gaussian sensor noise.
 *
 * Classes (the label is drawn first, then the scenario within the class; a share `hard`
 * of each class's windows are its hard cases):
 *   0 fall        pre-fall walking or standing, a free fall of 0.25-0.5 s in which |a|
 *                 drops to 0.05-0.35 g while the trunk rotates, an impact of 2.5-8 g
 *                 (sometimes a second, smaller bounce), then lying or slumped still (tilt
 *                 40-110 degrees). The impact falls anywhere from 25 % to 90 % of the
 *                 window, so some windows show little of the lying. Hard cases ("soft
 *                 falls", onto a bed or a sofa, or a slow collapse): a 0.12-0.3 s dip to
 *                 only 0.35-0.7 g and an impact of 1.4-2.6 g.
 *   1 walk        steps at 1.5-2.2 Hz. Hard cases: a stumble (a short dip and a 1.5-2.2 g
 *                 jolt) without any change of posture.
 *   2 run/jump    strides at 2.4-3.2 Hz: foot strikes of 2.2-3.8 g, flight phases down to
 *                 0.25-0.7 g. Hard cases: one or two jumps from standing: a real free fall
 *                 and a 2.5-7 g landing -- the signature of a fall, but upright afterwards.
 *   3 transition  standing up or sitting down (15-45 degrees of tilt over 0.8-1.6 s). Hard
 *                 cases: sitting down hard (a dip to 0.35-0.7 g, a 1.6-3 g impact, ending
 *                 reclined by up to 70 degrees: it overlaps the slumped falls) and lying
 *                 down on purpose (a turn to 70-105 degrees over 0.6-2 s, half of them
 *                 flopping onto the bed at the end: a 0.6-0.9 g dip and a 1.2-1.8 g bump).
 *   4 still       standing, sitting or lying still, breathing. Hard cases: lying and
 *                 turning over (a slow roll without an impact).
 * A fall is thus told apart from its look-alikes by the combination of free fall, impact
 * and lying afterwards, not by any one of them.
 *
 * Labels: exactly round(n * fall_share) falls, the rest split as evenly as possible over
 * classes 1-4 (lower classes take the remainder), in an order shuffled by Fisher-Yates
 * with rng_below: integer arithmetic only, so the labels are the same on every machine.
 * Every draw comes from one rng.h stream seeded with the seed, in sample order. */
#include "data/synth.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "kern/fmath.h"
#include "kern/normal.h"

enum { K_FALL_SHARE, K_LEN, K_HZ, K_NOISE, K_BIAS, K_HARD, K_MOUNT };

const SynthKnob synth_falls_knobs[] = {
    [K_FALL_SHARE] = { "fall_share", 0.1, 0.0, 1.0, "share of windows that hold a fall" },
    [K_LEN] = { "len", 100, 32, 2000, "samples per window (an integer)" },
    [K_HZ] = { "hz", 50, 10, 400, "sampling rate; a window (len / hz) must last >= 1.5 s" },
    [K_NOISE] = { "noise", 0.01, 0.0, 0.5, "sensor noise, standard deviation in g" },
    [K_BIAS] = { "bias", 0.05, 0.0, 0.5, "sensor bias per axis, uniform in +-bias g" },
    [K_HARD] = { "hard", 0.4, 0.0, 1.0, "share of hard cases per class (soft falls, jumps, "
                                        "stumbles, hard sit-downs, lying down, rolls)" },
    [K_MOUNT] = { "mount", 15, 0, 45, "sensor mounting tilt, uniform in +-mount degrees per "
                                      "axis" },
    { NULL, 0, 0, 0, NULL },
};

enum { C_FALL, C_WALK, C_RUN, C_TRANS, C_STILL, C_COUNT };

#define PI 3.14159265358979323846
#define DEG (PI / 180.0)

/* One window under construction, time in seconds (t = i / hz). */
typedef struct Win {
    int L;
    double hz;
    double *th, *ph, *ff; /* (L,) tilt, azimuth (radians), free-fall factor */
    double *d[3];         /* (L,) body-frame activity accelerations, g */
    double *s[3];         /* (L,) body-frame impact spikes, g */
} Win;

static double unif(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

static double smoothstep(double u)
{
    return u <= 0 ? 0 : u >= 1 ? 1 : u * u * (3 - 2 * u);
}

static double dur(const Win *w) { return w->L / w->hz; }
static double tt(const Win *w, int i) { return i / w->hz; }

static void grav(double th, double ph, double g[3])
{
    g[0] = fm_sin(th) * fm_cos(ph);
    g[1] = fm_cos(th);
    g[2] = fm_sin(th) * fm_sin(ph);
}

/* Tilt th0 before t0, th1 after t1, a smooth turn between (azimuth likewise). */
static void orient(Win *w, double t0, double t1, double th0, double th1, double ph0, double ph1)
{
    for (int i = 0; i < w->L; i++) {
        double u = t1 > t0 ? smoothstep((tt(w, i) - t0) / (t1 - t0)) : tt(w, i) >= t0;
        w->th[i] = th0 + (th1 - th0) * u;
        w->ph[i] = ph0 + (ph1 - ph0) * u;
    }
}

/* Weight 1 inside [t0, t1), fading in and out over `edge` seconds outside it. */
static double gate(double t, double t0, double t1, double edge)
{
    if (t < t0)
        return edge > 0 ? smoothstep(1 - (t0 - t) / edge) : 0;
    if (t >= t1)
        return edge > 0 ? smoothstep(1 - (t - t1) / edge) : 0;
    return 1;
}

/* Walking steps in [t0, t1): vertical bounce at the step rate with a harmonic, forward
 * surge, lateral sway at half the step rate. */
static void add_walk(Win *w, Rng *r, double t0, double t1)
{
    double f = unif(r, 1.5, 2.2), p = unif(r, 0, 2 * PI);
    double av = unif(r, 0.15, 0.45), af = unif(r, 0.05, 0.2), al = unif(r, 0.05, 0.15);
    double h = unif(r, 0.2, 0.4);
    for (int i = 0; i < w->L; i++) {
        double t = tt(w, i), gw = gate(t, t0, t1, 0.15);
        if (gw == 0)
            continue;
        double ph = 2 * PI * f * t + p;
        w->d[1][i] += gw * av * (fm_sin(ph) + h * fm_sin(2 * ph + 0.5));
        w->d[0][i] += gw * af * fm_sin(ph + PI / 2);
        w->d[2][i] += gw * al * fm_sin(ph / 2);
    }
}

/* Running strides over the window: a sharpened positive half-sine for the foot strike,
 * offset so that the vertical specific force averages 1 g (the flight phases sit near
 * free fall). */
static void add_run(Win *w, Rng *r)
{
    double f = unif(r, 2.4, 3.2), p = unif(r, 0, 2 * PI);
    double peak = unif(r, 1.5, 3.5), af = unif(r, 0.2, 0.5), al = unif(r, 0.1, 0.3);
    /* mean of max(0, sin)^3 over a period is 2 / (3 pi) */
    double mean3 = 2.0 / (3.0 * PI);
    for (int i = 0; i < w->L; i++) {
        double ph = 2 * PI * f * tt(w, i) + p, sp = fm_sin(ph);
        double s3 = sp > 0 ? sp * sp * sp : 0;
        w->d[1][i] += peak * (s3 - mean3);
        w->d[0][i] += af * fm_sin(ph - 0.6);
        w->d[2][i] += al * fm_sin(ph / 2);
    }
}

/* Breathing and small postural sway. */
static void add_rest(Win *w, Rng *r)
{
    double f = unif(r, 0.2, 0.4), p = unif(r, 0, 2 * PI), a = unif(r, 0.005, 0.02);
    double fs = unif(r, 0.5, 1.2), ps = unif(r, 0, 2 * PI), as = unif(r, 0.0, 0.02);
    for (int i = 0; i < w->L; i++) {
        double t = tt(w, i);
        w->d[0][i] += a * fm_sin(2 * PI * f * t + p) + as * fm_sin(2 * PI * fs * t + ps);
        w->d[2][i] += as * fm_cos(2 * PI * fs * t + ps);
    }
}

static int sample_at(const Win *w, double t)
{
    int i = (int)floor(t * w->hz + 0.5);
    return i < 0 ? 0 : i >= w->L ? w->L - 1 : i;
}

/* Free fall from t0 up to the sample of the impact at t1 (which add_spike adds there):
 * the factor falls to fmin in 60 ms. */
static void add_free_fall(Win *w, double t0, double t1, double fmin)
{
    int end = sample_at(w, t1);
    for (int i = 0; i < end; i++) {
        double t = tt(w, i);
        if (t < t0)
            continue;
        double u = smoothstep((t - t0) / 0.06);
        double f = 1 - (1 - fmin) * u;
        if (f < w->ff[i])
            w->ff[i] = f;
    }
}

/* An impact at sample ci of `peak` g along body direction dir (unit): a Gaussian pulse
 * of 15-35 ms and a damped rebound. */
static void add_spike(Win *w, Rng *r, int ci, double peak, const double dir[3])
{
    double width = unif(r, 0.015, 0.035), fr = unif(r, 3, 6), dk = unif(r, 0.06, 0.12);
    for (int i = 0; i < w->L; i++) {
        double tau = (i - ci) / w->hz;
        if (tau < -0.2 || tau > 0.6)
            continue;
        double v = fm_exp(-(tau / width) * (tau / width));
        if (tau > 0)
            v += 0.35 * fm_exp(-tau / dk) * fm_sin(2 * PI * fr * tau);
        for (int k = 0; k < 3; k++)
            w->s[k][i] += peak * v * dir[k];
    }
}

/* Unit direction near body direction g, perturbed by a random vector of size `jitter`. */
static void near_dir(Rng *r, const double g[3], double jitter, double out[3])
{
    double n = 0;
    for (int k = 0; k < 3; k++) {
        out[k] = g[k] + jitter * rng_normal(r);
        n += out[k] * out[k];
    }
    n = sqrt(n);
    for (int k = 0; k < 3; k++)
        out[k] = n > 0 ? out[k] / n : (k == 1);
}

/* An impact whose total reading is `peak` g at its sample: a spike of size m along a
 * direction near the new "up" such that |grav + m dir| = peak (ff is 1 again there). */
static void impact(Win *w, Rng *r, double t, double peak, double th, double ph)
{
    double g[3], dir[3];
    grav(th, ph, g);
    near_dir(r, g, 0.3, dir);
    double c = g[0] * dir[0] + g[1] * dir[1] + g[2] * dir[2];
    add_spike(w, r, sample_at(w, t), -c + sqrt(c * c - 1 + peak * peak), dir);
}

static void make_fall(Win *w, Rng *r, bool hard)
{
    double T = dur(w);
    double ph = unif(r, 0, 2 * PI), th0 = unif(r, 0, 12) * DEG;
    double th1 = unif(r, 40, 110) * DEG;
    double t_imp = unif(r, 0.25, 0.9) * T;
    double d_ff = hard ? unif(r, 0.12, 0.3) : unif(r, 0.25, 0.5);
    double fmin = hard ? unif(r, 0.35, 0.7) : unif(r, 0.05, 0.35);
    double peak = hard ? unif(r, 1.4, 2.6) : unif(r, 2.5, 8.0);
    double t_ff = t_imp - d_ff;
    bool walking = rng_uniform(r) < 0.5;
    orient(w, t_ff, t_imp + 0.05, th0, th1, ph, ph + unif(r, -0.3, 0.3));
    if (walking)
        add_walk(w, r, 0, t_ff);
    add_rest(w, r);
    add_free_fall(w, t_ff, t_imp, fmin);
    impact(w, r, t_imp, peak, th1, ph);
    if (rng_uniform(r) < 0.3) { /* a small second bounce */
        double t2 = t_imp + unif(r, 0.15, 0.35);
        if (t2 < T - 0.1)
            impact(w, r, t2, 1 + 0.3 * (peak - 1) * rng_uniform(r), th1, ph);
    }
}

static void make_walk(Win *w, Rng *r, bool hard)
{
    double T = dur(w), th = unif(r, 0, 15) * DEG, ph = unif(r, 0, 2 * PI);
    orient(w, 0, 0, th, th, ph, ph);
    add_walk(w, r, -1, T + 1);
    add_rest(w, r);
    if (hard) { /* a stumble: a short dip and a jolt, posture unchanged */
        double t = unif(r, 0.2, 0.8) * T;
        add_free_fall(w, t - unif(r, 0.08, 0.15), t, unif(r, 0.5, 0.8));
        impact(w, r, t, unif(r, 1.5, 2.2), th, ph);
    }
}

static void make_run(Win *w, Rng *r, bool hard)
{
    double T = dur(w), th = unif(r, 0, 20) * DEG, ph = unif(r, 0, 2 * PI);
    orient(w, 0, 0, th, th, ph, ph);
    add_rest(w, r);
    if (!hard) {
        add_run(w, r);
        return;
    }
    /* jumps from standing: crouch, push-off, flight (a real free fall), landing */
    int jumps = 1 + (rng_uniform(r) < 0.4);
    double t = unif(r, 0.1, 0.4) * T;
    if (t > T - 1.0) /* the first jump always fits (a window lasts >= 1.5 s) */
        t = T - 1.0;
    for (int j = 0; j < jumps && (j == 0 || t < T - 0.9); j++) {
        double crouch = unif(r, 0.15, 0.3), push = unif(r, 0.1, 0.2), fly = unif(r, 0.25, 0.45);
        double depth = unif(r, 0.2, 0.4), force = unif(r, 0.8, 1.5);
        for (int i = 0; i < w->L; i++) {
            double u = tt(w, i) - t;
            if (u >= 0 && u < crouch)
                w->d[1][i] -= depth * fm_sin(PI * u / crouch);
            else if (u >= crouch && u < crouch + push)
                w->d[1][i] += force * fm_sin(PI * (u - crouch) / push);
        }
        double t_land = t + crouch + push + fly;
        add_free_fall(w, t + crouch + push, t_land, unif(r, 0.0, 0.2));
        impact(w, r, t_land, unif(r, 2.5, 7.0), th, ph);
        t = t_land + unif(r, 0.4, 0.8);
    }
}

static void make_trans(Win *w, Rng *r, bool hard)
{
    double T = dur(w), ph = unif(r, 0, 2 * PI);
    double stand = unif(r, 0, 10) * DEG, sit = unif(r, 15, 45) * DEG;
    add_rest(w, r);
    if (hard && rng_uniform(r) < 0.5) { /* sitting down hard, maybe leaning far back */
        double t_imp = unif(r, 0.3, 0.75) * T, d = unif(r, 0.15, 0.3);
        double end = unif(r, 15, 70) * DEG;
        orient(w, t_imp - d - unif(r, 0.0, 0.3), t_imp + 0.05, stand, end, ph, ph);
        add_free_fall(w, t_imp - d, t_imp, unif(r, 0.35, 0.7));
        impact(w, r, t_imp, unif(r, 1.6, 3.0), end, ph);
        return;
    }
    if (hard) { /* lying down on purpose: a turn, perhaps flopping onto the bed at the end */
        double d = unif(r, 0.6, 2.0), t0 = unif(r, 0.05, 0.9) * (T - d);
        double end = unif(r, 70, 105) * DEG;
        orient(w, t0, t0 + d, sit, end, ph, ph + unif(r, -0.5, 0.5));
        double a = unif(r, 0.05, 0.15);
        for (int i = 0; i < w->L; i++) {
            double u = (tt(w, i) - t0) / d;
            if (u > 0 && u < 1)
                w->d[1][i] -= a * fm_sin(PI * u);
        }
        if (rng_uniform(r) < 0.5) {
            double t_imp = t0 + d;
            add_free_fall(w, t_imp - unif(r, 0.1, 0.2), t_imp, unif(r, 0.6, 0.9));
            impact(w, r, t_imp, unif(r, 1.2, 1.8), end, ph);
        }
        return;
    }
    bool up = rng_uniform(r) < 0.5; /* standing up, else sitting down */
    double d = unif(r, 0.8, 1.6), t0 = unif(r, 0.05, 0.95) * (T - d);
    orient(w, t0, t0 + d, up ? sit : stand, up ? stand : sit, ph, ph);
    double a = unif(r, 0.15, 0.4);
    for (int i = 0; i < w->L; i++) {
        double u = (tt(w, i) - t0) / d;
        if (u > 0 && u < 1) /* push up then brake, or drop then brake */
            w->d[1][i] += (up ? a : -a) * fm_sin(2 * PI * u);
    }
}

static void make_still(Win *w, Rng *r, bool hard)
{
    double T = dur(w), ph = unif(r, 0, 2 * PI);
    int pose = (int)rng_below(r, 3);
    double th = pose == 0 ? unif(r, 0, 10) : pose == 1 ? unif(r, 15, 45) : unif(r, 70, 110);
    th *= DEG;
    add_rest(w, r);
    if (!hard) {
        orient(w, 0, 0, th, th, ph, ph);
        return;
    }
    /* lying and turning over: a slow roll */
    double d = unif(r, 0.6, 1.2), t0 = unif(r, 0.05, 0.9) * (T - d);
    orient(w, t0, t0 + d, unif(r, 70, 110) * DEG, unif(r, 70, 110) * DEG, ph,
           ph + (rng_uniform(r) < 0.5 ? -1 : 1) * unif(r, 0.5, 1.5));
}

/* Rotation by small angles about x, y and z (in that order). */
static void mount_matrix(Rng *r, double deg, double m[3][3])
{
    double a = unif(r, -deg, deg) * DEG, b = unif(r, -deg, deg) * DEG, c = unif(r, -deg, deg) * DEG;
    double rx[3][3] = { { 1, 0, 0 }, { 0, fm_cos(a), -fm_sin(a) }, { 0, fm_sin(a), fm_cos(a) } };
    double ry[3][3] = { { fm_cos(b), 0, fm_sin(b) }, { 0, 1, 0 }, { -fm_sin(b), 0, fm_cos(b) } };
    double rz[3][3] = { { fm_cos(c), -fm_sin(c), 0 }, { fm_sin(c), fm_cos(c), 0 }, { 0, 0, 1 } };
    double t[3][3];
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            t[i][j] = 0;
            for (int k = 0; k < 3; k++)
                t[i][j] += ry[i][k] * rx[k][j];
        }
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++) {
            m[i][j] = 0;
            for (int k = 0; k < 3; k++)
                m[i][j] += rz[i][k] * t[k][j];
        }
}

QsStatus synth_falls_make(const SynthArgs *a, Dataset *out, QsError *err)
{
    const double *kv = a->knob;
    if (a->n < 1)
        return qs_fail(err, QS_EINVAL, "falls: n=%lld: need at least one window", (long long)a->n);
    if (kv[K_LEN] != floor(kv[K_LEN]))
        return qs_fail(err, QS_EINVAL, "falls: len=%g: expected a whole number of samples",
                       kv[K_LEN]);
    int L = (int)kv[K_LEN];
    double hz = kv[K_HZ];
    if (L / hz < 1.5)
        return qs_fail(err, QS_EINVAL, "falls: len=%d at hz=%g lasts %.2f s; a window must last "
                       ">= 1.5 s to hold a fall", L, hz, L / hz);
    Shape xs = shape_of(3, (int64_t)a->n, (int64_t)3, (int64_t)L);
    size_t bytes;
    if (shape_checked_bytes(&xs, sizeof(float), &bytes, "falls windows", err))
        return err->code;
    Tensor *x = tensor_new(DT_F32, xs, err);
    if (!x)
        return err->code;
    Tensor *y = tensor_new(DT_I64, shape_of(1, (int64_t)a->n), err);
    if (!y) {
        tensor_free(x);
        return err->code;
    }
    int64_t n = a->n, *lab = y->data;
    Rng r;
    rng_seed(&r, a->seed);

    /* labels: counts exact, order shuffled (integer arithmetic only) */
    int64_t n_fall = (int64_t)floor((double)n * kv[K_FALL_SHARE] + 0.5);
    if (n_fall > n)
        n_fall = n;
    int64_t rest = n - n_fall, at = 0;
    for (int64_t i = 0; i < n_fall; i++)
        lab[at++] = C_FALL;
    for (int c = 1; c < C_COUNT; c++) {
        int64_t cnt = rest / 4 + (c - 1 < rest % 4);
        for (int64_t i = 0; i < cnt; i++)
            lab[at++] = c;
    }
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)rng_below(&r, (uint64_t)i + 1);
        int64_t t = lab[i];
        lab[i] = lab[j];
        lab[j] = t;
    }

    double *buf = xmalloc((size_t)L * 9 * sizeof *buf);
    Win w = { .L = L, .hz = hz, .th = buf, .ph = buf + L, .ff = buf + 2 * L };
    for (int k = 0; k < 3; k++) {
        w.d[k] = buf + (3 + k) * (size_t)L;
        w.s[k] = buf + (6 + k) * (size_t)L;
    }
    float *xd = tensor_f32(x);
    for (int64_t s = 0; s < n; s++) {
        memset(buf, 0, (size_t)L * 9 * sizeof *buf);
        for (int i = 0; i < L; i++)
            w.ff[i] = 1;
        bool hard = rng_uniform(&r) < kv[K_HARD];
        switch (lab[s]) {
        case C_FALL: make_fall(&w, &r, hard); break;
        case C_WALK: make_walk(&w, &r, hard); break;
        case C_RUN: make_run(&w, &r, hard); break;
        case C_TRANS: make_trans(&w, &r, hard); break;
        default: make_still(&w, &r, hard); break;
        }
        double m[3][3], b[3];
        mount_matrix(&r, kv[K_MOUNT], m);
        for (int k = 0; k < 3; k++)
            b[k] = unif(&r, -kv[K_BIAS], kv[K_BIAS]);
        float *o = xd + (size_t)s * 3 * (size_t)L;
        for (int i = 0; i < L; i++) {
            double g[3], v[3];
            grav(w.th[i], w.ph[i], g);
            for (int k = 0; k < 3; k++)
                v[k] = w.ff[i] * (g[k] + w.d[k][i]) + w.s[k][i];
            for (int k = 0; k < 3; k++) {
                double e = m[k][0] * v[0] + m[k][1] * v[1] + m[k][2] * v[2];
                o[(size_t)k * (size_t)L + (size_t)i] =
                    (float)(e + b[k] + kv[K_NOISE] * rng_normal(&r));
            }
        }
    }
    free(buf);
    out->x[0] = x;
    out->n_x = 1;
    out->y = y;
    out->aux = NULL;
    return QS_OK;
}
