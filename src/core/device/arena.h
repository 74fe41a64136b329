/* The tensor arena a TensorFlow Lite Micro interpreter plans for a graph: its greedy memory
 * planner (tensorflow/lite/micro/memory_planner/greedy_memory_planner.cc) re-derived from
 * its rule, so the figure is the one the interpreter would ask for (docs/devices.md):
 *  - each buffer is live from the step that creates it to the step that last reads it, both
 *    included (graph inputs from step 0, graph outputs to the last step);
 *  - buffers are placed largest first (a stable sort: equal sizes keep their given order);
 *  - each at the lowest offset where it fits between the buffers already placed that are
 *    live at some common step (scanning them in offset order, the first gap that is large
 *    enough, else after the last of them);
 *  - the arena is the highest end of any buffer.
 * Sizes are given already rounded up to the interpreter's alignment (arena_align). */
#ifndef QS_ARENA_H
#define QS_ARENA_H

#include <stdint.h>

/* TFLM's MicroArenaBufferAlignment(): every planned buffer's size is rounded up to it. */
#define ARENA_ALIGN 16

typedef struct ArenaBuffer {
    int64_t size;       /* bytes, aligned */
    int first, last;    /* live steps, inclusive */
    int64_t offset;     /* set by arena_plan */
} ArenaBuffer;

/* size rounded up to ARENA_ALIGN. */
int64_t arena_align(int64_t size);

/* Places the n buffers (setting each offset) and returns the arena's size in bytes (0 for
 * none). Returns -1 when scratch memory cannot be had. */
int64_t arena_plan(ArenaBuffer *b, int n);

#endif
