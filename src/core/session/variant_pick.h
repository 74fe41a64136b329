/* pick's decision rule over the comparison rows (variant_rows.h): limits on size, latency
 * and drop; among the rows that meet them all, the best metric wins, a tie going to the
 * smaller model and then to the row listed first (not to the faster one: measured latency
 * is noisy, and the same script must pick the same winner every time). */
#ifndef QS_VARIANT_PICK_H
#define QS_VARIANT_PICK_H

#include <stdbool.h>
#include <stddef.h>

#include "session/variant_rows.h"

typedef struct PickLimits {
    double size_kb, latency_ms; /* NAN: not limited */
    double drop;                /* the largest drop against FP32 as a fraction of the metric
                                   (0.01: one point of accuracy), as fallback's; NAN: none */
} PickLimits;

/* Whether row w meets each limit. Size is the whole model's deployed bytes or, when the
 * model names parts deployed apart, each part's. */
bool pick_size_ok(const VariantRows *v, const VariantRow *w, const PickLimits *c);
bool pick_latency_ok(const VariantRow *w, const PickLimits *c);
bool pick_drop_ok(const VariantRow *w, const PickLimits *c);

/* Why row w fails the limits ("size 120.3 KB > 100 KB; latency ..."), or "" when it meets
 * them all; a row not evaluated fails with its note, a row unfit for the device with its
 * unfit text. */
void pick_failures(const VariantRows *v, const VariantRow *w, const PickLimits *c, char *buf,
                   size_t cap);

/* The index of the winning row, or -1 when none meets every limit. */
int pick_winner(const VariantRows *v, const PickLimits *c);

#endif
