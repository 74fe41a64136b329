/* Checking a written part against its source: the part (loaded back from its file by the
 * caller) runs on a split next to the source model it was cut from, and its outputs are
 * compared with the source's values at the cut. */
#ifndef QS_EXTRACT_VERIFY_H
#define QS_EXTRACT_VERIFY_H

#include <stdint.h>

#include "base/error.h"
#include "data/dataset.h"
#include "run/exec.h"
#include "session/extract.h"

typedef struct ExtractVerify {
    int64_t samples;      /* samples compared; 0 when note is set */
    double max_diff;      /* max |part - source| over every output value; NaN counts as
                             infinite */
    char note[160];       /* why nothing was verified; "" otherwise */
} ExtractVerify;

/* Runs the first n samples of d (n <= 0: all) through src (the source, whose graph x was
 * cut from) and part (x's model as loaded back), in batches of `batch`. The part's inputs
 * are the split's inputs or the source's values at the cut (tapped), its outputs compared
 * with the source's values there. A cut value the source cannot be tapped at (computed
 * inside a fused quantized unit) ends the check with a note rather than an error. */
QsStatus extract_verify(const Extract *x, const Executor *src, const Executor *part,
                        const Dataset *d, int64_t n, int batch, ExtractVerify *res,
                        QsError *err);

#endif
