/* A process-wide byte counter for the memory inference allocates at run time, with its
 * high-water mark, so that `bench` can report a precision's activation memory measured
 * rather than computed (docs/bench.md says what it counts).
 *
 * Who counts here: the quantized executor (qexec.c) counts each executor's activation
 * arena and scratch block when it allocates and frees them (qexec_set_batch,
 * qmodel_free), and the pre-activation scratch of qmodel_unit_preact. Every precision runs
 * there, fp32 included (node by node, the float ops), so every row of `bench` is counted
 * by the same code. What it does not see: weights (a plan's deployed weights are counted
 * exactly by qmodel_deployed_bytes instead), the float Run's own arena (run.c), memory
 * inside libraries (OpenBLAS's buffer pool, the int8 GEMM's per-call packing of the weight
 * matrix), and small bookkeeping (shape and pointer arrays).
 *
 * The counts are the bytes asked for, not what malloc rounds them to. Thread-safe (C11
 * atomics); a measurement is only meaningful while nothing else runs an executor. */
#ifndef QS_MEMTRACK_H
#define QS_MEMTRACK_H

#include <stddef.h>
#include <stdint.h>

/* Records that `bytes` were allocated (raising the peak when the count passes it) or
 * freed. A free must match an earlier allocation of the same size. */
void memtrack_alloc(size_t bytes);
void memtrack_free(size_t bytes);

/* Bytes currently counted, and the highest count since the last memtrack_reset_peak (or
 * since start-up). */
int64_t memtrack_current(void);
int64_t memtrack_peak(void);

/* Starts a measurement: the peak becomes the current count, which is returned. The
 * memory a piece of work needed at its peak is then memtrack_peak() minus that value. */
int64_t memtrack_reset_peak(void);

#endif
