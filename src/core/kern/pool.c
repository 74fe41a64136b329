#include "kern/pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define POOL_MAX 64

typedef struct PoolJob {
    PoolTaskFn fn;
    void *ctx;
    int64_t n, per; /* range and chunk length */
    int chunks;
} PoolJob;

/* Hand-off between the dispatcher and the workers. A forward issues one pool_for per layer
 * step, often tens of microseconds apart: a worker that slept on a condition variable after
 * each one made every dispatch a futex wake plus a reschedule (about as long as a small
 * layer), so both sides first spin (spin_until) and only then sleep. `sleepers` and
 * `caller_sleeping` let the other side skip the futex call when nobody sleeps; each is
 * raised under `mu` before re-checking the word it waits on, and the waker changes that
 * word before reading the flag (both sequentially consistent), so a wake-up is never lost.
 *
 * Chunks are claimed, not assigned: `claim` packs the job's generation, its chunk count
 * and the next unclaimed chunk, and whoever is free takes the next chunk with a
 * compare-and-swap that fails once the generation moved on. The caller runs chunk 0 and
 * then claims too, so a worker the kernel has not scheduled (another process holds its
 * core) delays nothing: the caller runs its chunk instead and waits only for chunks
 * already started. Which thread runs a chunk never changes its result. The hot words sit
 * on their own cache lines. */
#define CLAIM_GEN_SHIFT 16
#define CLAIM_CHUNKS(c) ((int)(((c) >> 8) & 0xff))
#define CLAIM_NEXT(c) ((int)((c) & 0xff))
static alignas(64) atomic_uint_fast64_t claim; /* generation << 16 | chunks << 8 | next */
static alignas(64) atomic_int done;            /* chunks of the current job finished */
static alignas(64) atomic_int sleepers;
static atomic_bool caller_sleeping;
static alignas(64) PoolJob job;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, idle = PTHREAD_COND_INITIALIZER;
/* one pool_for at a time: the workbench's worker thread and its UI may both compute */
static pthread_mutex_t dispatch = PTHREAD_MUTEX_INITIALIZER;
static pthread_t workers[POOL_MAX];
static int nworkers;
static atomic_int wanted = 1; /* read without `dispatch` by pool_threads */
/* the generation a worker starts from: a worker started after jobs ran must not take the
 * last one (long finished, its context gone) for a new one */
static uint64_t start_generation[POOL_MAX];
static atomic_bool quitting;
static _Thread_local bool inside_chunk;

/* How long a side waits by spinning before it sleeps: longer than the gap between two
 * layers' pool_for calls, short enough that an idle pool gives its cores back at once.
 * After POOL_PAUSE_NS the spin yields the core on each turn: when more threads are ready
 * than there are cores (another process, OpenBLAS's own spinning threads), a caller
 * spinning for a worker that shares its core would otherwise hold it for a whole time
 * slice. */
#define POOL_SPIN_NS 200000
#define POOL_PAUSE_NS 10000

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins until ready(arg) or POOL_SPIN_NS pass; true when done. */
static bool spin_until(bool (*ready)(const void *), const void *arg)
{
    int64_t start = 0, t = 0;
    for (unsigned i = 0;; i++) {
        if (ready(arg))
            return true;
        if ((i & 63) == 0) { /* the clock costs tens of nanoseconds: read it now and then */
            t = now_ns();
            if (start == 0)
                start = t;
            else if (t - start >= POOL_SPIN_NS)
                return false;
        }
        if (t - start < POOL_PAUSE_NS)
            cpu_relax();
        else
            sched_yield();
    }
}

static uint64_t generation(void) { return atomic_load(&claim) >> CLAIM_GEN_SHIFT; }

static bool new_generation(const void *seen)
{
    return generation() != *(const uint64_t *)seen || atomic_load(&quitting);
}

static bool all_done(const void *chunks)
{
    return atomic_load(&done) == *(const int *)chunks;
}

static void run_chunk(const PoolJob *j, int i)
{
    int64_t b = (int64_t)i * j->per, e = b + j->per < j->n ? b + j->per : j->n;
    inside_chunk = true;
    j->fn(j->ctx, b, e);
    inside_chunk = false;
}

/* Waits for a generation other than `seen`: spinning first, then on `wake`. */
static void await_job(uint64_t seen)
{
    if (spin_until(new_generation, &seen))
        return;
    pthread_mutex_lock(&mu);
    atomic_fetch_add(&sleepers, 1);
    while (!new_generation(&seen))
        pthread_cond_wait(&wake, &mu);
    atomic_fetch_sub(&sleepers, 1);
    pthread_mutex_unlock(&mu);
}

/* Runs unclaimed chunks of generation `gen` until none is left. A successful claim keeps
 * `job` in place until that chunk is counted done. */
static void run_claims(uint64_t gen)
{
    uint_fast64_t c = atomic_load(&claim);
    while (c >> CLAIM_GEN_SHIFT == gen && CLAIM_NEXT(c) < CLAIM_CHUNKS(c)) {
        if (!atomic_compare_exchange_weak(&claim, &c, c + 1))
            continue; /* c now holds the current word */
        PoolJob j = job;
        run_chunk(&j, CLAIM_NEXT(c));
        if (atomic_fetch_add(&done, 1) + 1 == CLAIM_CHUNKS(c) && atomic_load(&caller_sleeping)) {
            pthread_mutex_lock(&mu);
            pthread_cond_signal(&idle);
            pthread_mutex_unlock(&mu);
        }
        c = atomic_load(&claim);
    }
}

static void *worker_main(void *arg)
{
    uint64_t seen = start_generation[(intptr_t)arg];
    for (;;) {
        await_job(seen);
        if (atomic_load(&quitting))
            break;
        seen = generation();
        run_claims(seen);
    }
    return NULL;
}

/* Wakes the workers after `generation` or `quitting` changed. */
static void wake_workers(void)
{
    if (atomic_load(&sleepers) > 0) {
        pthread_mutex_lock(&mu);
        pthread_cond_broadcast(&wake);
        pthread_mutex_unlock(&mu);
    }
}

static void join_workers(void)
{
    atomic_store(&quitting, true);
    wake_workers();
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    nworkers = 0;
    atomic_store(&quitting, false);
}

/* Called with `dispatch` held. A worker that cannot start leaves the pool smaller. */
static void start_workers(void)
{
    if (nworkers == wanted - 1)
        return;
    join_workers();
    for (int i = 1; i < wanted; i++) {
        start_generation[i] = generation(); /* no job runs: `dispatch` is held */
        if (pthread_create(&workers[nworkers], NULL, worker_main, (void *)(intptr_t)i) != 0)
            break;
        nworkers++;
    }
}

void pool_set_threads(int n)
{
    pthread_mutex_lock(&dispatch);
    wanted = n < 1 ? 1 : n > POOL_MAX ? POOL_MAX : n;
    pthread_mutex_unlock(&dispatch);
}

int pool_threads(void) { return wanted; }

void pool_for(int64_t n, int64_t grain, PoolTaskFn fn, void *ctx)
{
    if (n <= 0)
        return;
    if (grain < 1)
        grain = 1;
    int64_t blocks = (n + grain - 1) / grain;
    if (inside_chunk || wanted < 2 || blocks < 2 || pthread_mutex_trylock(&dispatch) != 0) {
        fn(ctx, 0, n);
        return;
    }
    start_workers();
    int64_t threads = nworkers + 1;
    int64_t per = (blocks + threads - 1) / threads * grain;
    job = (PoolJob){ fn, ctx, n, per, (int)((n + per - 1) / per) };
    int chunks = job.chunks;
    uint64_t gen = generation() + 1;
    atomic_store(&done, 0);
    /* publishes `job`; chunk 0 is the caller's */
    atomic_store(&claim, gen << CLAIM_GEN_SHIFT | (uint_fast64_t)chunks << 8 | 1u);
    wake_workers();
    run_chunk(&job, 0);
    atomic_fetch_add(&done, 1);
    run_claims(gen);
    if (!spin_until(all_done, &chunks)) {
        pthread_mutex_lock(&mu);
        atomic_store(&caller_sleeping, true);
        while (!all_done(&chunks))
            pthread_cond_wait(&idle, &mu);
        atomic_store(&caller_sleeping, false);
        pthread_mutex_unlock(&mu);
    }
    pthread_mutex_unlock(&dispatch);
}

void pool_shutdown(void)
{
    pthread_mutex_lock(&dispatch);
    join_workers();
    pthread_mutex_unlock(&dispatch);
}
