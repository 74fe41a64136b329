/* Per-thread working memory that lives across calls: one grow-only, 64-byte aligned block
 * per slot and thread, so hot loops (sgemm's packing, the training backward) allocate and
 * fault pages in only on their first, largest call. A block is freed when its thread
 * exits. Each slot has one user at a time per thread; a kernel that calls another keeps
 * its own slot, so the two never share a block. */
#ifndef QS_THREAD_BUFFER_H
#define QS_THREAD_BUFFER_H

#include <stddef.h>

typedef enum {
    TBUF_SGEMM,    /* sgemm_drive.c: B's packing buffer and deferred C blocks */
    TBUF_BACKWARD, /* backward_conv.c, backward_dw.c: panels, packed operands, lanes */
    TBUF_HIST,     /* quant/actscan.c: a histogram sink's counter copies */
    TBUF_COUNT
} ThreadBufSlot;

/* At least `bytes` of slot's block for the calling thread; the previous contents are not
 * kept. NULL when out of memory. */
void *thread_buffer(ThreadBufSlot slot, size_t bytes);

#endif
