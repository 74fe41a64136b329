/* The deepsets generator: driving scenes on a straight road, labelled by a rule-based
 * expert (the "driver" the policy imitates) with the actions it considers unsafe.
 *
 * Per scene (every draw from one Rng seeded from (seed, sample index), so the first n
 * samples of a larger set are the n-sample set; only uniform draws and + - * / on the
 * decision path, so labels are the same on every machine):
 *   road    lanes U{2, 3, 4}, ego lane U{0 .. lanes-1}; ego speed v U(12, 34) m/s, desired
 *           speed v_des = v + U(-6, 8), ego length 4.5 m;
 *   peers   each of the `peers` slots is filled with probability `density`: lane
 *           U{0 .. lanes-1}, dx U(-60, 80) m, speed v + U(-spread, spread), length 4 to
 *           5 m (80 %) or a truck of 10 to 16 m; with probability `merge` it is changing
 *           lane at 1 m/s toward a random side that exists. A peer that would overlap the
 *           ego vehicle or another peer in its lane (bumper gap < 2 m) is redrawn (20 tries,
 *           then the slot stays empty). Filled slots are shuffled among empty ones.
 * x[0] peers (N, peers, 6) and x[1] ego (N, 4): synth_deepsets_features. y (N,) i64: the
 * expert's action. aux (N, 5) f32: 1 where an action is unsafe. */
#include "data/synth_deepsets.h"

#include <string.h>

#include "base/rng.h"
#include "data/synth.h"

enum { K_PEERS = 0, K_DENSITY, K_MERGE, K_SPREAD };

const SynthKnob synth_deepsets_knobs[] = {
    [K_PEERS] = { "peers", 8, 1, DEEPSETS_MAX_PEERS, "peer slots per scene (the model's n)" },
    [K_DENSITY] = { "density", 0.6, 0, 1, "probability that a peer slot holds a vehicle" },
    [K_MERGE] = { "merge", 0.1, 0, 1, "share of peers changing lane" },
    [K_SPREAD] = { "spread", 6, 0, 20, "peer speeds are the ego speed +- this (m/s)" },
    { NULL, 0, 0, 0, NULL },
};

/* ---- the expert ------------------------------------------------------------------------ */

#define DS_FAR 1e9 /* "no vehicle": a gap this large is never a constraint */

/* The nearest vehicles ahead and behind in one lane (offset k from the ego lane). */
typedef struct LaneView {
    double gap_lead, v_lead; /* bumper-to-bumper gap (m) to the leader and its speed */
    double gap_fol, v_fol;   /* the same for the follower */
    int merging_in;          /* a peer two lanes over is changing into this lane nearby */
} LaneView;

static LaneView ds_lane(const DeepsetsScene *s, int k)
{
    LaneView lv = { DS_FAR, s->v, DS_FAR, s->v, 0 };
    for (int i = 0; i < s->n; i++) {
        const DeepsetsPeer *p = &s->peer[i];
        if (!p->present)
            continue;
        if (p->dlane == k) {
            double half = 0.5 * (p->len + s->len);
            if (p->dx > 0) {
                double g = p->dx - half;
                if (g < lv.gap_lead) {
                    lv.gap_lead = g;
                    lv.v_lead = p->vx;
                }
            } else {
                double g = -p->dx - half;
                if (g < lv.gap_fol) {
                    lv.gap_fol = g;
                    lv.v_fol = p->vx;
                }
            }
        }
        /* a peer at 2k moving toward k, within 20 m along the road */
        if (k != 0 && p->dlane == 2 * k && p->vy * (double)k < -0.5 && p->dx > -20 &&
            p->dx < 20)
            lv.merging_in = 1;
    }
    return lv;
}

/* Too close to the leader to hold the speed: headway under 0.6 s (+3 m) or time to
 * collision under 3 s. */
static int ds_front_danger(const LaneView *lv, double v)
{
    double closing = v - lv->v_lead;
    return lv->gap_lead < 0.6 * v + 3.0 || (closing > 0 && lv->gap_lead < 3.0 * closing);
}

/* Whether moving into lane offset k (+-1) is unsafe: no such lane, a vehicle merging into
 * it, the new leader too close (as ds_front_danger), or the new follower too close (under
 * 4 m, or closing so that it reaches us within 3 s plus 4 m). */
static int ds_change_unsafe(const DeepsetsScene *s, const LaneView *lv, int k)
{
    int target = s->lane + k;
    if (target < 0 || target >= s->lanes)
        return 1;
    double fol_closing = lv->v_fol - s->v;
    return lv->merging_in || ds_front_danger(lv, s->v) || lv->gap_fol < 4.0 ||
           (fol_closing > 0 && lv->gap_fol < 3.0 * fol_closing + 4.0);
}

DeepsetsAction synth_deepsets_expert(const DeepsetsScene *s, float unsafe[DEEPSETS_ACTIONS])
{
    LaneView own = ds_lane(s, 0), left = ds_lane(s, 1), right = ds_lane(s, -1);
    double v = s->v, closing = v - own.v_lead;
    int u[DEEPSETS_ACTIONS];
    u[DEEPSETS_KEEP] = ds_front_danger(&own, v);
    /* speeding up adds about 2 m/s of closing speed and needs a longer headway; it is
     * unsafe whenever keeping is (1.2 v + 5 > 0.6 v + 3 and 3 (c + 2) > 3 c) */
    u[DEEPSETS_ACCEL] = own.gap_lead < 1.2 * v + 5.0 ||
                        (closing + 2.0 > 0 && own.gap_lead < 3.0 * (closing + 2.0));
    /* braking with a fast follower close behind invites a rear-end collision, but it is
     * the safe choice whenever holding the speed is not */
    double rear_closing = own.v_fol - v;
    u[DEEPSETS_BRAKE] = !u[DEEPSETS_KEEP] && rear_closing > 1.0 &&
                        own.gap_fol < 2.0 * rear_closing + 3.0;
    u[DEEPSETS_LEFT] = ds_change_unsafe(s, &left, 1);
    u[DEEPSETS_RIGHT] = ds_change_unsafe(s, &right, -1);
    for (int a = 0; a < DEEPSETS_ACTIONS; a++)
        unsafe[a] = u[a] ? 1.0f : 0.0f;

    DeepsetsAction act = DEEPSETS_KEEP;
    if (u[DEEPSETS_KEEP]) {
        /* escape into a safe lane with clearly more room ahead (left first on a tie),
         * else brake */
        act = DEEPSETS_BRAKE;
        double best = own.gap_lead + 10.0;
        if (!u[DEEPSETS_LEFT] && left.gap_lead > best) {
            act = DEEPSETS_LEFT;
            best = left.gap_lead;
        }
        if (!u[DEEPSETS_RIGHT] && right.gap_lead > best)
            act = DEEPSETS_RIGHT;
    } else if (s->v_des - v > 2.0) {
        /* too slow: speed up if there is room, else overtake on the left, else pass on
         * the right only into a lane with much more room */
        if (!u[DEEPSETS_ACCEL])
            act = DEEPSETS_ACCEL;
        else if (!u[DEEPSETS_LEFT] && left.gap_lead > own.gap_lead + 15.0)
            act = DEEPSETS_LEFT;
        else if (!u[DEEPSETS_RIGHT] && right.gap_lead > own.gap_lead + 30.0)
            act = DEEPSETS_RIGHT;
    } else if (v - s->v_des > 2.0) {
        if (!u[DEEPSETS_BRAKE])
            act = DEEPSETS_BRAKE;
    } else if (!u[DEEPSETS_RIGHT] && right.gap_lead > 1.5 * v + 20.0) {
        /* at the desired speed: keep right when the right lane is free ahead */
        act = DEEPSETS_RIGHT;
    }
    return act;
}

void synth_deepsets_features(const DeepsetsScene *s, float *peers, float *ego)
{
    for (int i = 0; i < s->n; i++) {
        const DeepsetsPeer *p = &s->peer[i];
        float *f = peers + i * DEEPSETS_PEER_FEATURES;
        if (!p->present) {
            memset(f, 0, DEEPSETS_PEER_FEATURES * sizeof *f);
            continue;
        }
        f[0] = (float)p->dx;
        f[1] = (float)(DEEPSETS_LANE_WIDTH * (double)p->dlane);
        f[2] = (float)(p->vx - s->v);
        f[3] = (float)p->vy;
        f[4] = (float)p->len;
        f[5] = 1.0f;
    }
    ego[0] = (float)s->v;
    ego[1] = s->lanes > 1 ? (float)((double)s->lane / (double)(s->lanes - 1)) : 0.0f;
    ego[2] = (float)(s->v_des - s->v);
    ego[3] = (float)s->lanes;
}

/* ---- the scenes ------------------------------------------------------------------------ */

static double ds_range(Rng *r, double lo, double hi) { return lo + (hi - lo) * rng_uniform(r); }

/* Whether a vehicle of length len at (dlane, dx) keeps a 2 m bumper gap to the ego vehicle
 * and to every placed peer in its lane. */
static int ds_fits(const DeepsetsScene *s, int placed, int dlane, double dx, double len)
{
    if (dlane == 0) {
        double d = dx < 0 ? -dx : dx;
        if (d - 0.5 * (len + s->len) < 2.0)
            return 0;
    }
    for (int i = 0; i < placed; i++) {
        const DeepsetsPeer *p = &s->peer[i];
        double d = p->dx - dx;
        if (d < 0)
            d = -d;
        if (p->dlane == dlane && d - 0.5 * (len + p->len) < 2.0)
            return 0;
    }
    return 1;
}

static void ds_scene(Rng *r, int n, const double *kn, DeepsetsScene *s)
{
    memset(s, 0, sizeof *s);
    s->lanes = 2 + (int)rng_below(r, 3);
    s->lane = (int)rng_below(r, (uint64_t)s->lanes);
    s->v = ds_range(r, 12.0, 34.0);
    s->v_des = s->v + ds_range(r, -6.0, 8.0);
    s->len = 4.5;
    s->n = n;
    int placed = 0;
    for (int i = 0; i < n; i++) {
        if (!(rng_uniform(r) < kn[K_DENSITY]))
            continue;
        for (int t = 0; t < 20; t++) {
            DeepsetsPeer p = { 1, 0, 0, 0, 0, 0 };
            p.dlane = (int)rng_below(r, (uint64_t)s->lanes) - s->lane;
            p.dx = ds_range(r, -60.0, 80.0);
            p.vx = s->v + ds_range(r, -kn[K_SPREAD], kn[K_SPREAD]);
            p.len = rng_uniform(r) < 0.8 ? ds_range(r, 4.0, 5.0) : ds_range(r, 10.0, 16.0);
            if (rng_uniform(r) < kn[K_MERGE]) {
                int abs_lane = s->lane + p.dlane;
                int can_left = abs_lane + 1 < s->lanes, can_right = abs_lane > 0;
                int to_left = can_left && (!can_right || rng_uniform(r) < 0.5);
                p.vy = to_left ? 1.0 : can_right ? -1.0 : 0.0;
            }
            if (ds_fits(s, placed, p.dlane, p.dx, p.len)) {
                s->peer[placed++] = p;
                break;
            }
        }
    }
    /* Fisher-Yates over the slots, so filled slots are not all first */
    for (int i = n - 1; i > 0; i--) {
        int j = (int)rng_below(r, (uint64_t)i + 1);
        DeepsetsPeer t = s->peer[i];
        s->peer[i] = s->peer[j];
        s->peer[j] = t;
    }
}

QsStatus synth_deepsets_make(const SynthArgs *a, Dataset *out, QsError *err)
{
    const double *kn = a->knob;
    int n = (int)kn[K_PEERS];
    if (a->n < 1)
        return qs_fail(err, QS_EINVAL, "deepsets: n=%lld must be at least 1", (long long)a->n);
    if (n != kn[K_PEERS] || n < 1 || n > DEEPSETS_MAX_PEERS)
        return qs_fail(err, QS_EINVAL, "deepsets: peers=%g must be a whole number from 1 to %d",
                       kn[K_PEERS], DEEPSETS_MAX_PEERS);
    Tensor *px = tensor_new(DT_F32, shape_of(3, a->n, (int64_t)n, (int64_t)DEEPSETS_PEER_FEATURES),
                            err);
    Tensor *ex = px ? tensor_new(DT_F32, shape_of(2, a->n, (int64_t)DEEPSETS_EGO_FEATURES), err)
                    : NULL;
    Tensor *y = ex ? tensor_new(DT_I64, shape_of(1, a->n), err) : NULL;
    Tensor *aux = y ? tensor_new(DT_F32, shape_of(2, a->n, (int64_t)DEEPSETS_ACTIONS), err)
                    : NULL;
    if (!aux) {
        tensor_free(px);
        tensor_free(ex);
        tensor_free(y);
        return err->code;
    }
    int64_t *labels = y->data;
    DeepsetsScene sc;
    for (int64_t i = 0; i < a->n; i++) {
        Rng r;
        rng_seed(&r, a->seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1)));
        ds_scene(&r, n, kn, &sc);
        synth_deepsets_features(&sc, tensor_f32(px) + i * n * DEEPSETS_PEER_FEATURES,
                                tensor_f32(ex) + i * DEEPSETS_EGO_FEATURES);
        labels[i] = synth_deepsets_expert(&sc, tensor_f32(aux) + i * DEEPSETS_ACTIONS);
    }
    out->x[0] = px;
    out->x[1] = ex;
    out->n_x = 2;
    out->y = y;
    out->aux = aux;
    return QS_OK;
}
