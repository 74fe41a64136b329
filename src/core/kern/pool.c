#include "kern/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define POOL_MAX 64

typedef struct PoolJob {
    PoolTaskFn fn;
    void *ctx;
    int64_t n, per; /* range and chunk length */
    int chunks;
} PoolJob;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, idle = PTHREAD_COND_INITIALIZER;
/* one pool_for at a time: the workbench's worker thread and its UI may both compute */
static pthread_mutex_t dispatch = PTHREAD_MUTEX_INITIALIZER;
static pthread_t workers[POOL_MAX];
static int nworkers, pending;
static atomic_int wanted = 1; /* read without `dispatch` by pool_threads */
static unsigned long generation;
/* the generation a worker starts from: a worker started after jobs ran must not take the
 * last one (long finished, its context gone) for a new one */
static unsigned long start_generation[POOL_MAX];
static bool quitting;
static PoolJob job;
static _Thread_local bool inside_chunk;

static void run_chunk(const PoolJob *j, int i)
{
    int64_t b = (int64_t)i * j->per, e = b + j->per < j->n ? b + j->per : j->n;
    inside_chunk = true;
    j->fn(j->ctx, b, e);
    inside_chunk = false;
}

static void *worker_main(void *arg)
{
    int id = (int)(intptr_t)arg; /* chunk index: the caller runs chunk 0 */
    unsigned long seen = start_generation[id];
    pthread_mutex_lock(&mu);
    for (;;) {
        while (!quitting && generation == seen)
            pthread_cond_wait(&wake, &mu);
        if (quitting)
            break;
        seen = generation;
        PoolJob j = job;
        pthread_mutex_unlock(&mu);
        if (id < j.chunks)
            run_chunk(&j, id);
        pthread_mutex_lock(&mu);
        if (--pending == 0)
            pthread_cond_signal(&idle);
    }
    pthread_mutex_unlock(&mu);
    return NULL;
}

static void join_workers(void)
{
    pthread_mutex_lock(&mu);
    quitting = true;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    for (int i = 0; i < nworkers; i++)
        pthread_join(workers[i], NULL);
    nworkers = 0;
    quitting = false;
}

/* Called with `dispatch` held. A worker that cannot start leaves the pool smaller. */
static void start_workers(void)
{
    if (nworkers == wanted - 1)
        return;
    join_workers();
    for (int i = 1; i < wanted; i++) {
        start_generation[i] = generation; /* no job runs: `dispatch` is held */
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
    PoolJob j = { fn, ctx, n, per, (int)((n + per - 1) / per) };
    pthread_mutex_lock(&mu);
    job = j;
    pending = nworkers;
    generation++;
    pthread_cond_broadcast(&wake);
    pthread_mutex_unlock(&mu);
    run_chunk(&j, 0);
    pthread_mutex_lock(&mu);
    while (pending > 0)
        pthread_cond_wait(&idle, &mu);
    pthread_mutex_unlock(&mu);
    pthread_mutex_unlock(&dispatch);
}

void pool_shutdown(void)
{
    pthread_mutex_lock(&dispatch);
    join_workers();
    pthread_mutex_unlock(&dispatch);
}
