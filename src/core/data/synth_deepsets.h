/* The driving scenes behind `synth:deepsets` (synth_deepsets.c), and the rule-based expert
 * that labels them, exposed so that tests can hand-build a scene and ask the expert.
 *
 * A scene is a straight road of `lanes` lanes (0 = rightmost) with the ego vehicle in lane
 * `lane` at speed v and up to DEEPSETS_MAX_PEERS other vehicles around it. The expert picks
 * one of five actions and marks each action safe or unsafe; models/README.md gives the
 * rules in words and synth_deepsets.c in full. */
#ifndef QS_SYNTH_DEEPSETS_H
#define QS_SYNTH_DEEPSETS_H

#define DEEPSETS_ACTIONS 5
#define DEEPSETS_PEER_FEATURES 6
#define DEEPSETS_EGO_FEATURES 4
#define DEEPSETS_MAX_PEERS 32
#define DEEPSETS_LANE_WIDTH 3.5 /* m */

typedef enum {
    DEEPSETS_KEEP = 0,  /* hold the speed and the lane */
    DEEPSETS_ACCEL,     /* speed up */
    DEEPSETS_BRAKE,     /* slow down */
    DEEPSETS_LEFT,      /* change one lane to the left (lane + 1) */
    DEEPSETS_RIGHT      /* change one lane to the right (lane - 1) */
} DeepsetsAction;

typedef struct DeepsetsPeer {
    int present;        /* 0: an empty slot (all features 0) */
    int dlane;          /* peer lane - ego lane; + is to the left */
    double dx;          /* m, centre to centre along the road; + is ahead */
    double vx;          /* m/s, the peer's speed along the road */
    double vy;          /* m/s, lateral speed; + is toward the left (a peer changing lane) */
    double len;         /* m */
} DeepsetsPeer;

typedef struct DeepsetsScene {
    int lanes, lane;    /* lanes >= 1, 0 <= lane < lanes */
    double v, v_des;    /* ego speed and desired speed, m/s */
    double len;         /* ego length, m */
    int n;              /* peer slots, <= DEEPSETS_MAX_PEERS */
    DeepsetsPeer peer[DEEPSETS_MAX_PEERS];
} DeepsetsScene;

/* The expert's action for scene s; unsafe[a] is set to 1 for every unsafe action and 0
 * otherwise. The chosen action is never unsafe (braking is safe whenever holding the speed
 * is not, so some action is always safe). Pure double arithmetic, no libm. */
DeepsetsAction synth_deepsets_expert(const DeepsetsScene *s, float unsafe[DEEPSETS_ACTIONS]);

/* The model's inputs for scene s, in physical units as a sensor-fusion stage hands them
 * over (so their ranges differ widely: what a per-tensor int8 input has to share):
 * peers (n, 6) = dx (m), lateral offset dlane * DEEPSETS_LANE_WIDTH (m, + left),
 * vx - v (m/s), vy (m/s), len (m), present (1; empty slots all 0);
 * ego (4) = v (m/s), lane / (lanes - 1) (0 for a one-lane road; so a lane exists to the
 * left iff < 1 and to the right iff > 0), v_des - v (m/s), lanes. */
void synth_deepsets_features(const DeepsetsScene *s, float *peers, float *ego);

#endif
