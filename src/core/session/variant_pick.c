#include "session/variant_pick.h"

#include <math.h>
#include <stdio.h>

bool pick_size_ok(const VariantRows *v, const VariantRow *w, const PickLimits *c)
{
    if (isnan(c->size_kb))
        return true;
    if (!v->n_parts)
        return w->bytes / 1000.0 <= c->size_kb;
    for (int k = 0; k < v->n_parts; k++)
        if (w->part_bytes[k] / 1000.0 > c->size_kb)
            return false;
    return true;
}

bool pick_latency_ok(const VariantRow *w, const PickLimits *c)
{
    return isnan(c->latency_ms) || w->ms <= c->latency_ms;
}

/* both fractions; the slack absorbs the rounding of a limit written as a percentage */
bool pick_drop_ok(const VariantRow *w, const PickLimits *c)
{
    return isnan(c->drop) || w->drop <= c->drop + 1e-11;
}

void pick_failures(const VariantRows *v, const VariantRow *w, const PickLimits *c, char *buf,
                   size_t cap)
{
    buf[0] = '\0';
    size_t used = 0;
    if (!w->evaluated) {
        snprintf(buf, cap, "not evaluated (%s)", w->note);
        return;
    }
    if (w->unfit[0])
        used += (size_t)snprintf(buf, cap, "%s; ", w->unfit);
    if (!pick_size_ok(v, w, c) && used < cap) {
        if (!v->n_parts)
            used += (size_t)snprintf(buf + used, cap - used, "size %.1f KB > %g KB; ",
                                     w->bytes / 1000.0, c->size_kb);
        for (int k = 0; k < v->n_parts && used < cap; k++)
            if (w->part_bytes[k] / 1000.0 > c->size_kb)
                used += (size_t)snprintf(buf + used, cap - used, "%s %.1f KB > %g KB; ",
                                         v->part[k], w->part_bytes[k] / 1000.0, c->size_kb);
    }
    if (!isnan(c->latency_ms) && w->ms > c->latency_ms && used < cap)
        used += (size_t)snprintf(buf + used, cap - used, "latency %.3f ms > %g ms; ", w->ms,
                                 c->latency_ms);
    if (!pick_drop_ok(w, c) && used < cap)
        used += (size_t)snprintf(buf + used, cap - used, "drop %.2f %% > %g %%; ",
                                 100.0 * w->drop, 100.0 * c->drop);
    if (used >= cap)
        used = cap - 1;
    if (used >= 2)
        buf[used - 2] = '\0';
}

/* Higher metric (lower for MSE), then fewer bytes. */
static bool pick_better(const VariantRow *a, const VariantRow *b, TaskKind task)
{
    double ma = task_table[task].higher_is_better ? a->metric : -a->metric;
    double mb = task_table[task].higher_is_better ? b->metric : -b->metric;
    if (ma != mb)
        return ma > mb;
    return a->bytes < b->bytes;
}

int pick_winner(const VariantRows *v, const PickLimits *c)
{
    int win = -1;
    char why[256];
    for (int i = 0; i < v->n; i++) {
        pick_failures(v, &v->rows[i], c, why, sizeof why);
        if (!why[0] && (win < 0 || pick_better(&v->rows[i], &v->rows[win], v->task)))
            win = i;
    }
    return win;
}
