/* The quantized view inspection commands show: the current plan lowered, or -- when the
 * plan is all fp32 but a calibration exists -- a preview of what int8-static would choose.
 * A preview's ranges, scales and clipping are int8-static's; what runs is still the float
 * graph, which qview_kernel says. */
#ifndef QS_QVIEW_H
#define QS_QVIEW_H

#include <stdbool.h>
#include <stddef.h>

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

#endif
