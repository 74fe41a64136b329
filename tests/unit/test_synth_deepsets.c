/* The deepsets generator and its expert (src/core/data/synth_deepsets.c): shapes, determinism,
 * the expert never choosing an action it marks unsafe, hand-built scenes with the action
 * worked out from the rules, exact features, a class balance that is not degenerate, and
 * knob checks. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth.h"
#include "data/synth_deepsets.h"
#include "synth_test.h"
#include "test_util.h"

static QsStatus make(Dataset *d, int64_t n, uint64_t seed, const char *const *kv, QsError *err)
{
    return synth_test_make("deepsets", d, n, seed, kv, err);
}

static bool same_bytes(const Tensor *a, const Tensor *b, int64_t n_elems_a)
{
    return memcmp(a->data, b->data, (size_t)n_elems_a * dtype_size(a->dtype)) == 0;
}

static void test_shapes_and_determinism(void)
{
    QsError err = { 0 };
    Dataset a, b, c, big;
    if (!CHECK_OK(make(&a, 300, 7, NULL, &err), &err))
        return;
    CHECK_OK(make(&b, 300, 7, NULL, &err), &err);
    CHECK_OK(make(&c, 300, 8, NULL, &err), &err);
    CHECK_OK(make(&big, 500, 7, NULL, &err), &err);
    CHECK(a.n_x == 2 && a.y && a.aux);
    const Shape *p = &a.x[0]->shape, *e = &a.x[1]->shape;
    CHECK(p->ndim == 3 && p->dim[0] == 300 && p->dim[1] == 8 && p->dim[2] == 6);
    CHECK(e->ndim == 2 && e->dim[0] == 300 && e->dim[1] == 4);
    CHECK(a.y->dtype == DT_I64 && a.y->shape.ndim == 1 && a.y->shape.dim[0] == 300);
    CHECK(a.aux->dtype == DT_F32 && a.aux->shape.ndim == 2 && a.aux->shape.dim[1] == 5);
    CHECK_OK(dataset_check(&a, &err), &err);
    /* the same seed gives the same bytes; the first 300 of 500 are the 300; another seed
     * gives other scenes */
    CHECK(same_bytes(a.x[0], b.x[0], 300 * 48) && same_bytes(a.x[1], b.x[1], 300 * 4) &&
          same_bytes(a.y, b.y, 300) && same_bytes(a.aux, b.aux, 300 * 5));
    CHECK(same_bytes(a.x[0], big.x[0], 300 * 48) && same_bytes(a.y, big.y, 300) &&
          same_bytes(a.aux, big.aux, 300 * 5));
    CHECK(!same_bytes(a.x[0], c.x[0], 300 * 48));
    dataset_release(&a);
    dataset_release(&b);
    dataset_release(&c);
    dataset_release(&big);

    /* peers=4: (N, 4, 6) */
    const char *kv[] = { "peers", "4", NULL };
    if (CHECK_OK(make(&a, 10, 1, kv, &err), &err)) {
        CHECK(a.x[0]->shape.dim[1] == 4);
        dataset_release(&a);
    }
}

/* Over 20000 scenes: the label is never marked unsafe, every action is between 5 % and
 * 50 % of the labels (measured: 22, 28, 29, 8, 13 %), every action is unsafe somewhere,
 * and empty slots are all zero while filled ones carry the flag. */
static void test_expert_on_many(void)
{
    enum { N = 20000 };
    QsError err = { 0 };
    Dataset d;
    if (!CHECK_OK(make(&d, N, 1, NULL, &err), &err))
        return;
    const int64_t *y = d.y->data;
    const float *u = tensor_f32(d.aux), *px = tensor_f32(d.x[0]);
    int count[5] = { 0 }, unsafe_count[5] = { 0 }, chose_unsafe = 0, bad_slot = 0, filled = 0;
    for (int i = 0; i < N; i++) {
        if (y[i] < 0 || y[i] >= 5) {
            bad_slot++;
            break;
        }
        count[y[i]]++;
        chose_unsafe += u[i * 5 + y[i]] != 0.0f;
        for (int k = 0; k < 5; k++) {
            unsafe_count[k] += u[i * 5 + k] == 1.0f;
            bad_slot += u[i * 5 + k] != 0.0f && u[i * 5 + k] != 1.0f;
        }
        for (int s = 0; s < 8; s++) {
            const float *f = px + (i * 8 + s) * 6;
            if (f[5] == 1.0f)
                filled++;
            else
                bad_slot += f[0] != 0 || f[1] != 0 || f[2] != 0 || f[3] != 0 || f[4] != 0 ||
                            f[5] != 0;
        }
    }
    CHECK(chose_unsafe == 0);
    CHECK(bad_slot == 0);
    /* density 0.6 of 8 slots, minus the few that found no room: 4.0 to 4.8 per scene */
    CHECK(filled > 4 * N && filled < 48 * N / 10);
    for (int k = 0; k < 5; k++) {
        CHECK(count[k] > N / 20 && count[k] < N / 2);
        CHECK(unsafe_count[k] > 0);
    }
    dataset_release(&d);
}

static DeepsetsScene scene(int lanes, int lane, double v, double v_des)
{
    DeepsetsScene s;
    memset(&s, 0, sizeof s);
    s.lanes = lanes;
    s.lane = lane;
    s.v = v;
    s.v_des = v_des;
    s.len = 4.5;
    s.n = 8;
    return s;
}

static void add_peer(DeepsetsScene *s, int dlane, double dx, double vx, double vy)
{
    for (int i = 0; i < s->n; i++)
        if (!s->peer[i].present) {
            s->peer[i] = (DeepsetsPeer){ 1, dlane, dx, vx, vy, 4.5 };
            return;
        }
}

static void expect_action(const char *label, const DeepsetsScene *s, DeepsetsAction want,
                          const int want_unsafe[5])
{
    float u[5];
    DeepsetsAction got = synth_deepsets_expert(s, u);
    bool ok = got == want;
    for (int k = 0; k < 5; k++)
        ok &= u[k] == (float)want_unsafe[k];
    if (!CHECK(ok))
        fprintf(stderr, "  %s: action %d (want %d), unsafe %g %g %g %g %g\n", label, got, want,
                u[0], u[1], u[2], u[3], u[4]);
}

/* Thresholds (synth_deepsets.c): keep unsafe when the gap to the leader < 0.6 v + 3 or
 * the time to collision < 3 s; accelerate unsafe when the gap < 1.2 v + 5 or < 3 (c + 2);
 * peers are 4.5 m long like the ego car, so gap = |dx| - 4.5. Unsafe: keep, accel, brake,
 * left, right. */
static void test_hand_scenes(void)
{
    /* empty three-lane road, too slow: accelerate; nothing is unsafe */
    DeepsetsScene s = scene(3, 1, 25, 30);
    expect_action("empty road", &s, DEEPSETS_ACCEL, (int[5]){ 0, 0, 0, 0, 0 });

    /* a slower leader 10 m ahead at 25 m/s (10 < 0.6*25+3 = 18): escape left */
    s = scene(3, 1, 25, 25);
    add_peer(&s, 0, 14.5, 20, 0);
    expect_action("close leader, left free", &s, DEEPSETS_LEFT, (int[5]){ 1, 1, 0, 0, 0 });

    /* the same in the leftmost lane with a car beside us on the right: brake */
    s = scene(3, 2, 25, 25);
    add_peer(&s, 0, 14.5, 20, 0);
    add_peer(&s, -1, 0, 25, 0);
    expect_action("close leader, boxed in", &s, DEEPSETS_BRAKE, (int[5]){ 1, 1, 0, 1, 1 });

    /* at the desired speed with the right lane free: keep right */
    s = scene(3, 1, 25, 25);
    expect_action("keep right", &s, DEEPSETS_RIGHT, (int[5]){ 0, 0, 0, 0, 0 });
    /* already in the rightmost lane: keep */
    s = scene(3, 0, 25, 25);
    expect_action("rightmost lane", &s, DEEPSETS_KEEP, (int[5]){ 0, 0, 0, 0, 1 });

    /* too fast, but a follower 5 m behind closes at 4 m/s (5 < 2*4+3): braking is unsafe,
     * keep; the follower also blocks nothing else (two lanes, we are on the left) */
    s = scene(2, 1, 25, 18);
    add_peer(&s, 0, -9.5, 29, 0);
    expect_action("tailgater", &s, DEEPSETS_KEEP, (int[5]){ 0, 0, 1, 1, 0 });
    /* without the tailgater: brake */
    s = scene(2, 1, 25, 18);
    expect_action("too fast", &s, DEEPSETS_BRAKE, (int[5]){ 0, 0, 0, 1, 0 });

    /* too slow behind a leader at 25 m (keep needs 15, accelerate 29 at 20 m/s), left lane
     * free: overtake on the left */
    s = scene(4, 1, 20, 26);
    add_peer(&s, 0, 29.5, 20, 0);
    add_peer(&s, -1, 24.5, 20, 0); /* right lane: leader at 20 m, not enough room */
    expect_action("overtake", &s, DEEPSETS_LEFT, (int[5]){ 0, 1, 0, 0, 0 });
    /* a car two lanes over, 5 m ahead, moving into that lane: left is unsafe, the right
     * lane has no more room (20 m), keep */
    add_peer(&s, 2, 5, 20, -1);
    expect_action("merge conflict", &s, DEEPSETS_KEEP, (int[5]){ 0, 1, 0, 1, 0 });
}

static void test_features(void)
{
    DeepsetsScene s = scene(3, 2, 24, 29);
    add_peer(&s, -1, 25, 29, 1);
    float peers[8 * 6], ego[4];
    memset(peers, 0xff, sizeof peers);
    synth_deepsets_features(&s, peers, ego);
    /* 25 m, one lane (3.5 m) to the right, 5 m/s faster, 1 m/s to the left, 4.5 m, present:
     * all exact in float */
    const float want_p[6] = { 25.0f, -3.5f, 5.0f, 1.0f, 4.5f, 1.0f };
    expect_close("peer features", peers, want_p, 6, 0, 0);
    int nonzero = 0;
    for (int i = 6; i < 48; i++)
        nonzero += peers[i] != 0.0f;
    CHECK(nonzero == 0);
    const float want_e[4] = { 24.0f, 1.0f, 5.0f, 3.0f };
    expect_close("ego features", ego, want_e, 4, 0, 0);
}

static void test_knobs(void)
{
    QsError err = { 0 };
    Dataset d;
    const char *kv1[] = { "peers", "2.5", NULL };
    expect_error("peers=2.5", make(&d, 10, 1, kv1, &err), &err, QS_EINVAL, "whole number");
    const char *kv2[] = { "peers", "40", NULL };
    expect_error("peers=40", make(&d, 10, 1, kv2, &err), &err, QS_EINVAL, "outside [1, 32]");
    const char *kv3[] = { "lanes", "3", NULL };
    expect_error("lanes", make(&d, 10, 1, kv3, &err), &err, QS_EINVAL, "no knob 'lanes'");
    /* density 0: every slot empty; the expert then never sees a vehicle, so the only
     * unsafe actions are lane changes off the road and the speed decides */
    const char *kv4[] = { "density", "0", NULL };
    if (CHECK_OK(make(&d, 200, 3, kv4, &err), &err)) {
        double sum = 0;
        for (int64_t i = 0; i < 200 * 48; i++)
            sum += tensor_f32(d.x[0])[i] != 0.0f;
        CHECK(sum == 0);
        const float *u = tensor_f32(d.aux);
        int other = 0;
        for (int i = 0; i < 200; i++)
            other += u[i * 5] != 0 || u[i * 5 + 1] != 0 || u[i * 5 + 2] != 0;
        CHECK(other == 0);
        dataset_release(&d);
    }
}

int main(void)
{
    test_shapes_and_determinism();
    test_expert_on_many();
    test_hand_scenes();
    test_features();
    test_knobs();
    return test_summary("synth_deepsets");
}
