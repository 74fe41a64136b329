/* Long work (evaluation, calibration, training) reports progress and can be cancelled.
 * A cancelled job returns QS_ECANCELLED and leaves the session as it was. */
#ifndef QS_JOB_H
#define QS_JOB_H

#include <stdatomic.h>
#include <stdbool.h>

#include "base/error.h"

typedef struct JobCtx {
    /* Called with the fraction done in [0, 1] and a short phase label; may be NULL.
     * Runs on the job's thread: implementations only store values. */
    void (*progress)(void *user, double frac, const char *phase);
    void *user;
    atomic_int *cancel;     /* non-zero requests cancellation; may be NULL */
} JobCtx;

static inline void job_progress(const JobCtx *job, double frac, const char *phase)
{
    if (job && job->progress)
        job->progress(job->user, frac, phase);
}

static inline bool job_cancelled(const JobCtx *job)
{
    return job && job->cancel && atomic_load(job->cancel);
}

/* Returns QS_ECANCELLED with a message naming the job when cancellation was requested. */
QsStatus job_check(const JobCtx *job, const char *what, QsError *err);

#endif
