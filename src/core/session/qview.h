/* The quantized view inspection commands show: the current plan lowered, or -- when the
 * plan is all fp32 but a calibration exists -- what int8-static would choose. */
#ifndef QS_QVIEW_H
#define QS_QVIEW_H

#include <stddef.h>

#include "graph/graph.h"
#include "qexec/qexec.h"
#include "session/session.h"

/* NULL (with the reason in note, when note is non-NULL) when there is nothing to show. */
QModel *qview_current(Session *s, char *note, size_t cap);

#endif
