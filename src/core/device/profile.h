/* A device profile: what a team needs to know before flashing plan p of model m onto a
 * target (devtarget.h) -- the deployed op list (devgraph.h), the tensor arena a TFLite
 * Micro interpreter plans for it (arena.h), the ops the target's runtime lacks (and, for
 * the Edge TPU, which ops it maps and whether the model is fully integer), and an
 * ESTIMATED latency from per-op MAC and element counts and the target's cost table.
 * docs/devices.md states every rule and the source of every figure. */
#ifndef QS_PROFILE_H
#define QS_PROFILE_H

#include <stdbool.h>
#include <stdint.h>

#include "base/error.h"
#include "device/arena.h"
#include "device/devgraph.h"
#include "device/devtarget.h"

typedef struct DeviceOpCost {
    bool supported;          /* the runtime has it (TFLM), or the TPU maps it (Edge TPU) */
    const char *why;         /* when not: "no kernel", "hybrid", "float16 weights", ... */
    bool on_host;            /* Edge TPU: runs on the host CPU */
    double cycles;           /* estimated, on the processor that runs it */
    double ms;               /* estimated */
} DeviceOpCost;

typedef struct DeviceProfile {
    const DeviceTarget *target;
    DevGraph g;
    DeviceOpCost *cost;      /* [g.n_ops] owned */
    ArenaBuffer *buf;        /* [g.n_tensors] the planned tensors, in tensor order; owned */
    int64_t arena_bytes;     /* the planner's arena for the tensors (persistent allocations
                                and kernel scratch buffers not included) */
    int64_t tensor_bytes;    /* the planned tensors' aligned sizes summed (no reuse) */
    int largest;             /* the largest planned tensor */
    int n_unsupported;       /* ops the runtime lacks (Edge TPU: ops not mapped) */
    int first_host_op;       /* Edge TPU: the first op left to the host, -1: none */
    bool full_integer;       /* every op int8 but QUANTIZE/DEQUANTIZE of graph inputs and
                                outputs (the Edge TPU requirement) */
    bool rank_ok;            /* every tensor has at most 3 dimensions above 1 in its inner
                                3 (the Edge TPU requirement; batch 1 counts as static) */
    int64_t macs;            /* summed over CONV/DEPTHWISE/FC ops */
    double est_ms;           /* the estimate: the sum of est per op */
    double est_ms_host;      /* Edge TPU: the part on the host CPU */
} DeviceProfile;

/* Builds the profile of plan p on model m for target t; io_int8 as `io=int8`. Fails as
 * devgraph_build does (an op TFLite has no builtin for). */
QsStatus device_profile(const Model *m, const Plan *p, const DeviceTarget *t, bool io_int8,
                        DeviceProfile *out, QsError *err);
void device_profile_release(DeviceProfile *pr);

/* The estimated cycles of one op on cost table c (devtarget.h): its counted units times
 * the cycles of its class at its type (int8, or float for float and hybrid ops; int8
 * CONV_2D by c->conv_tiers when set). */
double device_op_cycles(const DevCost *c, const DevOp *op);

/* The names of the unsupported ops, comma-separated with their layer ("GELU (gelu1)"), into
 * buf; "" when none. */
void device_unsupported_list(const DeviceProfile *pr, const Model *m, char *buf, size_t cap);
/* The same briefly: each builtin once, "hybrid " or "float16 " before it when that is why
 * ("hybrid CONV_2D, float16 DEQUANTIZE"); truncated to cap. */
void device_unsupported_names(const DeviceProfile *pr, char *buf, size_t cap);

#endif
