#include "base/memtrack.h"

#include <stdatomic.h>

static _Atomic int64_t memtrack_cur;
static _Atomic int64_t memtrack_high;

/* Raises the high-water mark to at least `now` (another thread may raise it meanwhile). */
static void memtrack_raise(int64_t now)
{
    int64_t high = atomic_load(&memtrack_high);
    while (now > high && !atomic_compare_exchange_weak(&memtrack_high, &high, now))
        ;
}

void memtrack_alloc(size_t bytes)
{
    int64_t now = atomic_fetch_add(&memtrack_cur, (int64_t)bytes) + (int64_t)bytes;
    memtrack_raise(now);
}

void memtrack_free(size_t bytes) { atomic_fetch_sub(&memtrack_cur, (int64_t)bytes); }

int64_t memtrack_current(void) { return atomic_load(&memtrack_cur); }

int64_t memtrack_peak(void) { return atomic_load(&memtrack_high); }

int64_t memtrack_reset_peak(void)
{
    int64_t now = atomic_load(&memtrack_cur);
    atomic_store(&memtrack_high, now);
    memtrack_raise(atomic_load(&memtrack_cur)); /* an allocation in between still counts */
    return now;
}
