/* The persistent thread pool every kernel splits its work on (`set threads=N`). Work is a
 * range [0, n) cut into contiguous chunks, one per thread; a caller makes the result of each
 * index independent of which thread ran it and of how the range was cut, so results are the
 * same for any thread count (docs/reproducibility.md). The calling thread runs the first
 * chunk, then any chunk no worker has claimed yet (a worker another process keeps off its
 * core delays nothing). Between jobs a worker spins for a fraction of a millisecond before
 * it sleeps, so the next layer's pool_for finds it awake. A pool_for issued from inside a
 * chunk, or while another thread's pool_for runs, runs its whole range on the calling
 * thread. */
#ifndef QS_POOL_H
#define QS_POOL_H

#include <stdint.h>

/* fn(ctx, begin, end) runs indices begin <= i < end. */
typedef void (*PoolTaskFn)(void *ctx, int64_t begin, int64_t end);

/* Threads used from now on (>= 1; workers start on first use, stay until pool_shutdown). */
void pool_set_threads(int n);
int pool_threads(void);
/* Runs fn over [0, n) in at most pool_threads() chunks of a multiple of `grain` indices
 * each (the last may be shorter); returns when every chunk is done. */
void pool_for(int64_t n, int64_t grain, PoolTaskFn fn, void *ctx);
/* The grain that gives each part at least POOL_MIN_WORK units of work when one index costs
 * `per_index` units (multiply-adds or element copies): waking a worker costs microseconds,
 * more than a small layer at batch 1 takes. */
#define POOL_MIN_WORK ((int64_t)1 << 15)
static inline int64_t pool_grain(int64_t per_index)
{
    return per_index >= POOL_MIN_WORK ? 1 : POOL_MIN_WORK / (per_index > 0 ? per_index : 1) + 1;
}
/* Joins the workers (at exit; tests use it to prove nothing leaks). */
void pool_shutdown(void);

#endif
