#include "base/job.h"

QsStatus job_check(const JobCtx *job, const char *what, QsError *err)
{
    if (job_cancelled(job))
        return qs_fail(err, QS_ECANCELLED, "%s cancelled", what);
    return QS_OK;
}
