#include "kern/threads.h"

#include <cblas.h>

#include "kern/pool.h"

static int current = 1;

void threads_set(int n)
{
    current = n < 1 ? 1 : n;
    pool_set_threads(current);
    openblas_set_num_threads(current);
}

int threads_get(void) { return current; }
