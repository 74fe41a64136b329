/* The thread pool (kern/pool.h): every index of a range runs exactly once whatever the
 * range, grain and thread count; chunks are whole multiples of the grain; a pool_for inside
 * a chunk runs on the calling thread; two threads issuing pool_for at once both finish
 * correctly; the thread count can change between calls; pool_shutdown then reuse works;
 * thousands of tiny jobs in a row (workers still spinning on, or late for, the previous
 * one claim chunks of the right job only), also with more threads than cores. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "kern/pool.h"
#include "test_util.h"

typedef struct Count {
    atomic_int *hits;
    int64_t grain, n;
    atomic_int bad_chunks, calls;
} Count;

static void count_task(void *ctx, int64_t b, int64_t e)
{
    Count *c = ctx;
    atomic_fetch_add(&c->calls, 1);
    if (b % c->grain != 0 || (e != c->n && (e - b) % c->grain != 0) || b >= e)
        atomic_fetch_add(&c->bad_chunks, 1);
    for (int64_t i = b; i < e; i++)
        atomic_fetch_add(&c->hits[i], 1);
}

/* Runs [0, n) in chunks of `grain`; true when every index ran once. */
static bool once_each(int64_t n, int64_t grain)
{
    Count c = { calloc((size_t)(n > 0 ? n : 1), sizeof(atomic_int)), grain < 1 ? 1 : grain, n,
                0, 0 };
    pool_for(n, grain, count_task, &c);
    bool ok = c.bad_chunks == 0 && c.calls <= pool_threads();
    for (int64_t i = 0; i < n; i++)
        ok = ok && c.hits[i] == 1;
    if (!ok)
        printf("  n=%lld grain=%lld threads=%d: calls=%d bad chunks=%d\n", (long long)n,
               (long long)grain, pool_threads(), (int)c.calls, (int)c.bad_chunks);
    free(c.hits);
    return ok;
}

static void test_once_each(void)
{
    static const int64_t ns[] = { 0, 1, 2, 3, 7, 8, 64, 100, 1000, 4097 };
    static const int64_t grains[] = { 0, 1, 2, 3, 16, 5000 };
    int bad = 0;
    for (int t = 1; t <= 5; t++) {
        pool_set_threads(t);
        CHECK(pool_threads() == t);
        for (size_t i = 0; i < sizeof ns / sizeof ns[0]; i++)
            for (size_t g = 0; g < sizeof grains / sizeof grains[0]; g++)
                for (int rep = 0; rep < 3; rep++)
                    bad += !once_each(ns[i], grains[g]);
    }
    CHECK(bad == 0);
    pool_set_threads(0);
    CHECK(pool_threads() == 1);
}

typedef struct Nested {
    atomic_int inner_elsewhere, inner_hits;
} Nested;

static void inner_task(void *ctx, int64_t b, int64_t e)
{
    (void)ctx;
    (void)b;
    (void)e;
}

typedef struct InnerCtx {
    Nested *n;
    pthread_t self;
} InnerCtx;

static void inner_check(void *ctx, int64_t b, int64_t e)
{
    InnerCtx *ic = ctx;
    if (!pthread_equal(ic->self, pthread_self()))
        atomic_fetch_add(&ic->n->inner_elsewhere, 1);
    atomic_fetch_add(&ic->n->inner_hits, (int)(e - b));
}

static void outer_task(void *ctx, int64_t b, int64_t e)
{
    Nested *n = ctx;
    for (int64_t i = b; i < e; i++) {
        InnerCtx ic = { n, pthread_self() };
        pool_for(50, 1, inner_check, &ic);
    }
    pool_for(10, 1, inner_task, NULL);
}

/* A pool_for inside a chunk runs wholly on that chunk's thread. */
static void test_nested(void)
{
    pool_set_threads(3);
    Nested n = { 0, 0 };
    pool_for(9, 1, outer_task, &n);
    CHECK(n.inner_elsewhere == 0);
    CHECK(n.inner_hits == 9 * 50);
}

static void *caller(void *arg)
{
    bool *ok = arg;
    *ok = true;
    for (int rep = 0; rep < 200; rep++)
        *ok = *ok && once_each(333, 1 + rep % 7);
    return NULL;
}

/* Two threads calling pool_for at once: one gets the pool, the other runs serially. */
static void test_concurrent_callers(void)
{
    pool_set_threads(2);
    pthread_t th[2];
    bool ok[2];
    for (int i = 0; i < 2; i++)
        pthread_create(&th[i], NULL, caller, &ok[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(th[i], NULL);
    CHECK(ok[0] && ok[1]);
}

/* Shrinking, growing, shutting down and starting again; workers started after earlier jobs
 * must not rerun them. */
static void test_restart(void)
{
    static const int counts[] = { 4, 1, 2, 3, 2, 5 };
    int bad = 0;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        pool_set_threads(counts[i]);
        for (int rep = 0; rep < 20; rep++)
            bad += !once_each(97, 1);
        if (i % 2)
            pool_shutdown();
        bad += !once_each(1000, 3);
    }
    CHECK(bad == 0);
}

/* Back-to-back jobs of a few indices: a worker late for one job must not run a chunk of it
 * after it returned, nor a chunk of the next job as if it were the old one. */
static void test_rapid_jobs(void)
{
    static const int counts[] = { 2, 3, 8 };
    int bad = 0;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) {
        pool_set_threads(counts[i]);
        for (int rep = 0; rep < 5000; rep++)
            bad += !once_each(2 + rep % 300, 1 + rep % 5);
    }
    CHECK(bad == 0);
}

int main(void)
{
    test_once_each();
    test_nested();
    test_concurrent_callers();
    test_restart();
    test_rapid_jobs();
    pool_shutdown();
    return test_summary("pool");
}
