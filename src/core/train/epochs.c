#include "train/epochs.h"

#include <math.h>

#include "base/rng.h"

static bool epoch_better(double a, double b, bool higher)
{
    return higher ? a > b : a < b; /* NaN never improves */
}

QsStatus epoch_loop_run(EpochLoop *l, const JobCtx *job, QsError *err)
{
    int64_t N = dataset_len(l->train), B = l->tb->cap;
    Rng rng;
    rng_seed(&rng, l->seed);
    int since_best = 0;
    QsStatus st = QS_OK;
    for (l->epoch = 1; l->epoch <= l->epochs; l->epoch++) {
        int epoch = l->epoch;
        double t0 = train_now();
        if (l->shuffle)
            train_shuffle(&rng, l->tb->perm, N);
        if (l->begin)
            l->begin(l->user, epoch);
        for (int64_t first = 0; first < N; first += B) {
            if ((st = job_check(job, l->what, err)))
                return st;
            int64_t b = N - first < B ? N - first : B;
            if ((st = train_gather(l->train, first, b, l->tb, err)) ||
                (st = l->step(l->user, epoch, first, b, err)))
                return st;
            l->steps++;
            job_progress(job, ((epoch - 1) + l->share * (double)(first + b) / (double)N) /
                                  l->epochs, l->phase);
        }
        double metric;
        if ((st = l->score(l->user, epoch, ((epoch - 1) + l->share) / l->epochs,
                           (1.0 - l->share) / l->epochs, &metric, err)))
            return st;
        bool improved = epoch_better(metric, l->best, l->higher_is_better) ||
                        (isnan(l->best) && !isnan(metric));
        if (improved) {
            l->best = metric;
            l->best_epoch = epoch;
            since_best = 0;
        } else {
            since_best++;
        }
        l->epochs_run = epoch;
        l->end(l->user, epoch, improved, metric, train_now() - t0);
        if (l->patience > 0 && since_best >= l->patience) {
            l->stopped_early = true;
            break;
        }
    }
    job_progress(job, 1.0, l->phase);
    return QS_OK;
}
