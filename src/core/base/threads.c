#include "base/threads.h"

#include <cblas.h>

static int current = 1;

void threads_set(int n)
{
    current = n < 1 ? 1 : n;
    openblas_set_num_threads(current);
}

int threads_get(void) { return current; }
