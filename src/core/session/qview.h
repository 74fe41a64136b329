/* The quantized view inspection commands show: the current plan lowered, or -- when the
 * plan is all fp32 but a calibration exists -- a preview of what int8-static would choose.
 * A preview's ranges, scales and clipping are int8-static's; what runs is still the float
 * graph, which qview_kernel says. */
#ifndef QS_QVIEW_H
#define QS_QVIEW_H

#include <stdbool.h>
#include <stddef.h>

#include "base/quant.h"
#include "graph/graph.h"
#include "qexec/qexec.h"
#include "session/session.h"

/* NULL (with the reason in note, when note is non-NULL) when there is nothing to show. */
QModel *qview_current(Session *s, char *note, size_t cap);

/* True when qview_current shows a preview: the plan is all fp32 (the float graph runs)
 * and a calibration exists. */
bool qview_is_preview(const Session *s);

/* The precision a preview shows (int8-static). */
PrecKind qview_preview_prec(void);

/* The kernel that runs `node` under the current plan: "float" for every layer when the
 * plan is all fp32 (the float graph runs, nothing fused, whether or not q is a preview);
 * otherwise, from q (the current plan lowered), "fused" (folded or fused into its unit's
 * head), "float-fallback" (int8 asked, no integer kernel), "int8" or "float"; NULL when q
 * is NULL (the plan did not lower). */
const char *qview_kernel(const Session *s, const QModel *q, int node);

/* What `hist LAYER act` shows for `node`: the value quantized at its output (a unit head's
 * is its unit's tail, after the folded BatchNorm and the fused activation), its calibration
 * statistics, and the clipping range the plan's observer gives, narrowed as the executor's
 * clamp narrows it for a fused ReLU/Clip; qp is the quantization of the observer's range. */
typedef struct QViewAct {
    int shown;              /* the node whose output is shown */
    const ActStats *st;     /* the session's calibration statistics of that output */
    float lo, hi;           /* the clipping range */
    QParams qp;
    double xlo, xhi;        /* an axis holding the data, the clipping range and zero */
} QViewAct;

/* Fails (QS_EINVAL) without a calibration or when the value saw no finite number. */
QsStatus qview_act(Session *s, int node, QViewAct *out, QsError *err);

#endif
