/* For the readers that take only a path (.npz, IDX, CSV): the harness writes each input
 * into one memfd and hands the reader its /proc/self/fd path, so nothing touches the disk
 * and the reader's own open and regular-file checks run as they do on a real file. */
#ifndef QS_FUZZ_FILE_H
#define QS_FUZZ_FILE_H
#include <stddef.h>
#include <stdint.h>

/* Replaces the memfd's content with data; returns its path (static storage), or NULL when
 * the memfd cannot be made or written (the harness then skips the input). */
const char *fuzz_file_path(const uint8_t *data, size_t size);

#endif
