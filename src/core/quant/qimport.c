/* Imported quantization parameters (qimport.h). */
#include "quant/qimport.h"

#include <stdlib.h>

#include "base/error.h"

QImport *qimport_new(int n_values, int n_nodes)
{
    QImport *q = xcalloc(1, sizeof *q);
    q->refs = 1;
    q->n_values = n_values;
    q->has_qp = xcalloc((size_t)(n_values ? n_values : 1), sizeof *q->has_qp);
    q->qp = xcalloc((size_t)(n_values ? n_values : 1), sizeof *q->qp);
    q->n_nodes = n_nodes;
    q->unit = xcalloc((size_t)(n_nodes ? n_nodes : 1), sizeof *q->unit);
    return q;
}

QImport *qimport_ref(QImport *q)
{
    if (q)
        q->refs++;
    return q;
}

void qimport_unref(QImport *q)
{
    if (!q || --q->refs > 0)
        return;
    for (int i = 0; i < q->n_nodes; i++) {
        QImportUnit *u = q->unit[i];
        if (!u)
            continue;
        free(u->codes);
        free(u->scales);
        free(u->bias);
        free(u);
    }
    free(q->unit);
    free(q->has_qp);
    free(q->qp);
    free(q);
}

const QParams *qimport_value(const QImport *q, int v)
{
    return q && v >= 0 && v < q->n_values && q->has_qp[v] ? &q->qp[v] : NULL;
}

const QImportUnit *qimport_unit(const QImport *q, int node)
{
    return q && node >= 0 && node < q->n_nodes ? q->unit[node] : NULL;
}
