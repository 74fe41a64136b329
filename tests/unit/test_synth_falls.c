/* The falls generator (src/core/data/synth_falls.c): determinism, shapes, exact class counts,
 * the fall signature (free fall, impact, lying afterwards) and its look-alikes, knob
 * checks. Signal checks run with noise=0 bias=0 so that the thresholds test the model of
 * the signals, not the noise; each threshold leaves a margin to the range the generator
 * draws from (stated beside it). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth.h"
#include "synth_test.h"
#include "test_util.h"

typedef struct {
    double lo, hi;  /* min and max of |a| over the window */
    int i_lo, i_hi; /* where */
    double turn;    /* degrees between the mean reading of the first and last 10 samples */
} Sig;

static Sig signature(const float *o, int L)
{
    Sig s = { 1e9, -1, 0, 0, 0 };
    for (int i = 0; i < L; i++) {
        double v = sqrt((double)o[i] * o[i] + (double)o[L + i] * o[L + i] +
                        (double)o[2 * L + i] * o[2 * L + i]);
        if (v < s.lo)
            s.lo = v, s.i_lo = i;
        if (v > s.hi)
            s.hi = v, s.i_hi = i;
    }
    double m0[3] = { 0 }, m1[3] = { 0 }, dot = 0, n0 = 0, n1 = 0;
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 10; i++) {
            m0[k] += o[k * L + i];
            m1[k] += o[k * L + L - 1 - i];
        }
    for (int k = 0; k < 3; k++)
        dot += m0[k] * m1[k], n0 += m0[k] * m0[k], n1 += m1[k] * m1[k];
    double c = dot / sqrt(n0 * n1);
    s.turn = acos(c > 1 ? 1 : c < -1 ? -1 : c) * 180 / 3.14159265358979323846;
    return s;
}

static QsStatus make(Dataset *d, int64_t n, uint64_t seed, const char *const *kv, QsError *err)
{
    return synth_test_make("falls", d, n, seed, kv, err);
}

static void test_table_and_shapes(void)
{
    const SynthDef *def = synth_find("falls");
    CHECK(def != NULL && def->make == synth_falls_make && def->knobs == synth_falls_knobs);
    int nk = 0;
    while (synth_falls_knobs[nk].name)
        nk++;
    CHECK(nk >= 1 && nk <= SYNTH_MAX_KNOBS);
    for (int k = 0; k < nk; k++) { /* every default inside its own range */
        const SynthKnob *kn = &synth_falls_knobs[k];
        CHECK(kn->def >= kn->lo && kn->def <= kn->hi && kn->help && kn->help[0]);
    }
    QsError err = { 0 };
    Dataset d;
    CHECK_OK(make(&d, 37, 5, (const char *const[]){ "len", "80", "hz", "40", NULL }, &err), &err);
    CHECK(d.n_x == 1 && d.x[0] && d.y && !d.aux);
    CHECK(d.x[0]->dtype == DT_F32 && d.x[0]->shape.ndim == 3 && d.x[0]->shape.dim[0] == 37 &&
          d.x[0]->shape.dim[1] == 3 && d.x[0]->shape.dim[2] == 80);
    CHECK(d.y->dtype == DT_I64 && d.y->shape.ndim == 1 && d.y->shape.dim[0] == 37);
    bool finite = true;
    for (int64_t i = 0; i < tensor_numel(d.x[0]); i++)
        finite &= isfinite(tensor_f32(d.x[0])[i]) != 0;
    CHECK(finite);
    dataset_release(&d);
}

static void test_determinism(void)
{
    QsError err = { 0 };
    Dataset a, b, c;
    CHECK_OK(make(&a, 200, 42, NULL, &err), &err);
    CHECK_OK(make(&b, 200, 42, NULL, &err), &err);
    CHECK_OK(make(&c, 200, 43, NULL, &err), &err);
    CHECK(memcmp(a.x[0]->data, b.x[0]->data, tensor_bytes(a.x[0])) == 0);
    CHECK(memcmp(a.y->data, b.y->data, tensor_bytes(a.y)) == 0);
    CHECK(memcmp(a.x[0]->data, c.x[0]->data, tensor_bytes(a.x[0])) != 0);
    CHECK(memcmp(a.y->data, c.y->data, tensor_bytes(a.y)) != 0);
    /* The labels depend on integer arithmetic only (rng_below), so they are pinned
     * exactly: a change means the generator changed and models/README.md's figures must be
     * measured again. The signals use sin/cos/exp, whose last bits may differ between libm
     * versions, so they are only compared run against run above. */
    const int64_t *y = a.y->data, want[8] = { 3, 2, 2, 2, 1, 2, 4, 3 };
    bool same = memcmp(y, want, sizeof want) == 0;
    if (!same)
        printf("falls seed 42: y[0..7] = %lld %lld %lld %lld %lld %lld %lld %lld\n",
               (long long)y[0], (long long)y[1], (long long)y[2], (long long)y[3],
               (long long)y[4], (long long)y[5], (long long)y[6], (long long)y[7]);
    CHECK(same);
    dataset_release(&a);
    dataset_release(&b);
    dataset_release(&c);
}

static void count_classes(const Dataset *d, int64_t cnt[5])
{
    memset(cnt, 0, 5 * sizeof *cnt);
    const int64_t *y = d->y->data;
    for (int64_t i = 0; i < d->y->shape.dim[0]; i++)
        if (y[i] >= 0 && y[i] < 5)
            cnt[y[i]]++;
}

static void test_class_shares(void)
{
    QsError err = { 0 };
    Dataset d;
    int64_t cnt[5];
    CHECK_OK(make(&d, 1000, 1, NULL, &err), &err); /* default: 10 % falls */
    count_classes(&d, cnt);
    CHECK(cnt[0] == 100 && cnt[1] == 225 && cnt[2] == 225 && cnt[3] == 225 && cnt[4] == 225);
    /* shuffled: the falls are not all at the front */
    int64_t early = 0;
    for (int i = 0; i < 100; i++)
        early += ((const int64_t *)d.y->data)[i] == 0;
    CHECK(early > 0 && early < 40);
    dataset_release(&d);
    /* round(7 * 0.1) = 1 fall; the other 6 go 2, 2, 1, 1 (lower classes take the rest) */
    CHECK_OK(make(&d, 7, 3, NULL, &err), &err);
    count_classes(&d, cnt);
    CHECK(cnt[0] == 1 && cnt[1] == 2 && cnt[2] == 2 && cnt[3] == 1 && cnt[4] == 1);
    dataset_release(&d);
    CHECK_OK(make(&d, 10, 3, (const char *const[]){ "fall_share", "0.25", NULL }, &err), &err);
    count_classes(&d, cnt); /* round(2.5) = 3 */
    CHECK(cnt[0] == 3 && cnt[1] == 2 && cnt[2] == 2 && cnt[3] == 2 && cnt[4] == 1);
    dataset_release(&d);
    CHECK_OK(make(&d, 9, 3, (const char *const[]){ "fall_share", "1", NULL }, &err), &err);
    count_classes(&d, cnt);
    CHECK(cnt[0] == 9);
    dataset_release(&d);
    CHECK_OK(make(&d, 9, 3, (const char *const[]){ "fall_share", "0", NULL }, &err), &err);
    count_classes(&d, cnt);
    CHECK(cnt[0] == 0 && cnt[1] == 3 && cnt[4] == 2);
    dataset_release(&d);
}

static void test_signatures(void)
{
    QsError err = { 0 };
    Dataset d;
    const int L = 100;
    /* Plain cases. Falls: free fall to 0.05-0.35 g (min < 0.4), impact of 2.5-8 g at its
     * sample (measured >= 2.43 with the trunk still turning; max > 2.2), free fall before
     * the impact by at most 0.5 s + 60 ms (<= 30 samples at 50 Hz), lying or slumped
     * afterwards (tilt 40-110 degrees from an upright 0-12; the first and last 10 samples
     * turn by >= 29.5 measured over 1200 falls, so >= 25). Still windows: no impact. */
    CHECK_OK(make(&d, 600, 7, (const char *const[]){ "noise", "0", "bias", "0", "hard", "0",
                                                      NULL }, &err), &err);
    const int64_t *y = d.y->data;
    int falls = 0, fall_ok = 0, still = 0, still_ok = 0;
    for (int64_t s = 0; s < 600; s++) {
        Sig g = signature(tensor_f32(d.x[0]) + (size_t)s * 3 * L, L);
        if (y[s] == 0) {
            falls++;
            bool ok = g.lo < 0.4 && g.hi > 2.2 && g.i_lo < g.i_hi && g.i_hi - g.i_lo <= 30 &&
                      g.turn >= 25;
            if (!ok)
                printf("fall %lld: min %.3f @%d, max %.3f @%d, turn %.1f\n", (long long)s, g.lo,
                       g.i_lo, g.hi, g.i_hi, g.turn);
            fall_ok += ok;
        } else if (y[s] == 4) {
            still++;
            still_ok += g.hi < 1.1 && g.lo > 0.9;
        }
    }
    CHECK(falls == 60 && fall_ok == falls);
    CHECK(still == 135 && still_ok == still);
    dataset_release(&d);

    /* Hard cases. Soft falls keep the dip (to 0.35-0.7 g: < 0.75), a weaker impact
     * (1.4-2.6 g, measured >= 1.39: > 1.3) and lying afterwards. Jumps (class 2) have the
     * free fall (0-0.2 g) and the impact (2.5-7 g) of a fall but end upright (turn < 10
     * degrees; measured <= 3.3): the look-alike the model must tell apart. */
    CHECK_OK(make(&d, 600, 8, (const char *const[]){ "noise", "0", "bias", "0", "hard", "1",
                                                      NULL }, &err), &err);
    y = d.y->data;
    int soft = 0, soft_ok = 0, jumps = 0, jump_ok = 0;
    for (int64_t s = 0; s < 600; s++) {
        Sig g = signature(tensor_f32(d.x[0]) + (size_t)s * 3 * L, L);
        if (y[s] == 0) {
            soft++;
            soft_ok += g.lo < 0.75 && g.hi > 1.3 && g.i_lo < g.i_hi && g.turn >= 25;
        } else if (y[s] == 2) {
            jumps++;
            jump_ok += g.lo < 0.25 && g.hi > 2.2 && g.i_lo < g.i_hi && g.turn < 10;
        }
    }
    CHECK(soft == 60 && soft_ok == soft);
    CHECK(jumps == 135 && jump_ok == jumps);
    dataset_release(&d);

    /* Noise and bias really are added: with them a still window's |a| leaves [0.9, 1.1]. */
    CHECK_OK(make(&d, 200, 7, (const char *const[]){ "noise", "0.2", "bias", "0.3", NULL },
                  &err), &err);
    y = d.y->data;
    int noisy = 0;
    for (int64_t s = 0; s < 200; s++) {
        Sig g = signature(tensor_f32(d.x[0]) + (size_t)s * 3 * L, L);
        noisy += y[s] == 4 && (g.hi > 1.1 || g.lo < 0.9);
    }
    CHECK(noisy > 0);
    dataset_release(&d);
}

static void test_knob_errors(void)
{
    const SynthDef *def = synth_find("falls");
    SynthArgs a;
    QsError err = { 0 };
    synth_args_init(def, &a, 10, 1);
    expect_error("fall_share > 1", synth_args_set(def, &a, "fall_share", 1.5, &err), &err,
                 QS_EINVAL, "fall_share=1.5 is outside [0, 1]");
    expect_error("noise < 0", synth_args_set(def, &a, "noise", -0.1, &err), &err, QS_EINVAL,
                 "outside");
    expect_error("len too small", synth_args_set(def, &a, "len", 10, &err), &err, QS_EINVAL,
                 "len=10 is outside");
    expect_error("NaN", synth_args_set(def, &a, "hard", NAN, &err), &err, QS_EINVAL, "outside");
    expect_error("unknown knob", synth_args_set(def, &a, "speed", 1, &err), &err, QS_EINVAL,
                 "knobs: fall_share, len, hz");
    CHECK(a.knob[0] == 0.1); /* a refused value changes nothing */

    Dataset d;
    expect_error("len not whole", make(&d, 10, 1, (const char *const[]){ "len", "100.5", NULL },
                                       &err), &err, QS_EINVAL, "len=100.5");
    CHECK(d.x[0] == NULL && d.y == NULL && d.n_x == 0);
    expect_error("window too short", make(&d, 10, 1, (const char *const[]){ "len", "60", NULL },
                                          &err), &err, QS_EINVAL, "1.5 s");
    CHECK(d.x[0] == NULL && d.y == NULL);
    expect_error("n = 0", make(&d, 0, 1, NULL, &err), &err, QS_EINVAL, "n=0");
    CHECK(d.x[0] == NULL);
    /* 2000 samples at 400 Hz is 5 s: fine; at 50 Hz 40 s: fine too (only the minimum) */
    CHECK_OK(make(&d, 3, 1, (const char *const[]){ "len", "2000", "hz", "400", NULL }, &err),
             &err);
    dataset_release(&d);
}

int main(void)
{
    test_table_and_shapes();
    test_determinism();
    test_class_shares();
    test_signatures();
    test_knob_errors();
    return test_summary("synth_falls");
}
