#include "kern/thread_buffer.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct Block {
    void *p;
    size_t cap;
} Block;

static pthread_key_t blocks_key;
static pthread_once_t blocks_once = PTHREAD_ONCE_INIT;

static void blocks_free(void *v)
{
    Block *b = v;
    for (int i = 0; i < TBUF_COUNT; i++)
        free(b[i].p);
    free(b);
}

static void blocks_init(void) { pthread_key_create(&blocks_key, blocks_free); }

void *thread_buffer(ThreadBufSlot slot, size_t bytes)
{
    pthread_once(&blocks_once, blocks_init);
    Block *b = pthread_getspecific(blocks_key);
    if (!b) {
        b = calloc(TBUF_COUNT, sizeof *b);
        if (!b || pthread_setspecific(blocks_key, b) != 0) {
            free(b);
            return NULL;
        }
    }
    Block *s = &b[slot];
    if (s->cap < bytes) {
        free(s->p);
        s->cap = 0;
        s->p = aligned_alloc(64, (bytes + 63) / 64 * 64);
        if (!s->p)
            return NULL;
        s->cap = bytes;
    }
    return s->p;
}
