/* The resource budget: how much memory a file may make qscope allocate beyond its own
 * bytes (folded constants, weights built from a spec, arrays a header declares).
 *
 * The rule (docs/limits.md):
 *   - by default a file of S bytes may ask for at most max(64 MiB, 16 x S), and never more
 *     than 4 GiB (max_memory's default): a small file cannot make qscope allocate
 *     gigabytes, and a large model keeps room for constants in proportion to it;
 *   - once the user sets max_memory (`set max_memory=`), every file may ask for up to
 *     that much: the user has said how much to trust the files they open.
 * Bytes a reader copies out of the file itself need no budget (they are bounded by the
 * file's size); what it computes or allocates from a declared size is charged.
 *
 * The setting is process-wide (like the BLAS thread count); a Budget is per load and not
 * shared between threads. Core never prints: a refusal is a QsError naming what asked. */
#ifndef QS_BUDGET_H
#define QS_BUDGET_H

#include <stddef.h>
#include <stdint.h>

#include "base/error.h"

#define BUDGET_DEFAULT_MAX ((int64_t)4 << 30) /* 4 GiB */
#define BUDGET_FLOOR ((int64_t)64 << 20)      /* 64 MiB, whatever the file's size */
#define BUDGET_FILE_FACTOR 16                 /* x the file's size above the floor */

/* The process-wide cap (max_memory), in bytes. */
int64_t budget_max(void);
/* Sets max_memory, which from now on is every file's budget; bytes must be at least
 * 1 MiB (QS_EINVAL otherwise). */
QsStatus budget_set_max(int64_t bytes, QsError *err);
/* Back to the default (4 GiB, and the size rule): for tests. */
void budget_reset_max(void);

/* Parses a byte count: digits with an optional K, M, G or T suffix (binary: K = 1024),
 * optionally followed by "B" or "iB" ("512M", "4GiB", "1073741824"). */
QsStatus budget_parse_bytes(const char *s, int64_t *out, QsError *err);
/* Writes bytes for people: "64 MiB", "1.6 GB" style, binary units ("1.5 GiB"). */
void budget_format_bytes(int64_t bytes, char *buf, size_t cap);

/* What one load may still allocate. */
typedef struct {
    int64_t limit; /* bytes allowed in all */
    int64_t used;  /* bytes charged so far */
} Budget;

/* The budget of a file of `file_bytes` bytes (the rule above). */
Budget budget_for_file(int64_t file_bytes);

/* Charges n elements of elem_size bytes (checked for overflow) to b, for `what` (e.g.
 * "ConstantOfShape '/x'"); refuses with QS_ENOMEM and
 *   "WHAT: 1.6 GiB asked, the budget allows 64 MiB (set max_memory= to raise it)"
 * when b would exceed its limit. n < 0 is refused as an impossible size. A NULL budget
 * charges nothing and always allows. */
QsStatus budget_charge(Budget *b, int64_t n, size_t elem_size, const char *what,
                       QsError *err);

#endif
