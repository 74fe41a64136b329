#include "device/arena.h"

#include <stdlib.h>

int64_t arena_align(int64_t size)
{
    return (size + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

static int overlaps(const ArenaBuffer *a, const ArenaBuffer *b)
{
    return !(a->first > b->last || b->first > a->last);
}

int64_t arena_plan(ArenaBuffer *b, int n)
{
    if (n <= 0)
        return 0;
    int *by_size = malloc((size_t)n * sizeof *by_size);
    int *by_offset = malloc((size_t)n * sizeof *by_offset); /* placed buffers, offset order */
    if (!by_size || !by_offset) {
        free(by_size);
        free(by_offset);
        return -1;
    }
    /* stable, descending: an insertion sort keeps equal sizes in their given order, as the
     * planner's own bubble sort does */
    for (int i = 0; i < n; i++) {
        int j = i;
        while (j > 0 && b[by_size[j - 1]].size < b[i].size) {
            by_size[j] = by_size[j - 1];
            j--;
        }
        by_size[j] = i;
    }
    int placed = 0;
    int64_t peak = 0;
    for (int s = 0; s < n; s++) {
        ArenaBuffer *w = &b[by_size[s]];
        int64_t at = 0;
        /* walk the live buffers in offset order: the candidate offset is the end of the
         * furthest one passed so far; stop at the first gap before the next that fits */
        for (int k = 0; k < placed; k++) {
            const ArenaBuffer *o = &b[by_offset[k]];
            if (!overlaps(o, w))
                continue;
            if (o->offset - at >= w->size)
                break;
            if (o->offset + o->size > at)
                at = o->offset + o->size;
        }
        w->offset = at;
        /* insert after every placed buffer whose offset is not above it */
        int pos = placed;
        while (pos > 0 && b[by_offset[pos - 1]].offset > at) {
            by_offset[pos] = by_offset[pos - 1];
            pos--;
        }
        by_offset[pos] = by_size[s];
        placed++;
        if (at + w->size > peak)
            peak = at + w->size;
    }
    free(by_size);
    free(by_offset);
    return peak;
}
