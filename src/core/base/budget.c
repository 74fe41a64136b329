#include "base/budget.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>

static _Atomic int64_t g_max = BUDGET_DEFAULT_MAX;
static _Atomic bool g_max_set; /* set explicitly: then it is every file's budget */

int64_t budget_max(void) { return atomic_load(&g_max); }

QsStatus budget_set_max(int64_t bytes, QsError *err)
{
    if (bytes < ((int64_t)1 << 20))
        return qs_fail(err, QS_EINVAL, "max_memory=%lld: expected at least 1 MiB",
                       (long long)bytes);
    atomic_store(&g_max, bytes);
    atomic_store(&g_max_set, true);
    return QS_OK;
}

QsStatus budget_parse_bytes(const char *s, int64_t *out, QsError *err)
{
    const char *p = s;
    int64_t n = 0;
    if (!isdigit((unsigned char)*p))
        return qs_fail(err, QS_EINVAL, "'%s': expected a size such as 512M or 4G", s);
    for (; isdigit((unsigned char)*p); p++) {
        if (n > (INT64_MAX - 9) / 10)
            return qs_fail(err, QS_EINVAL, "'%s': too large", s);
        n = 10 * n + (*p - '0');
    }
    int shift = 0;
    switch (toupper((unsigned char)*p)) {
    case 'K': shift = 10; break;
    case 'M': shift = 20; break;
    case 'G': shift = 30; break;
    case 'T': shift = 40; break;
    default: break;
    }
    if (shift)
        p++;
    if (shift && (*p == 'i' || *p == 'I'))
        p++;
    if (*p == 'b' || *p == 'B')
        p++;
    if (*p)
        return qs_fail(err, QS_EINVAL, "'%s': expected a size such as 512M or 4G", s);
    if (n > (INT64_MAX >> shift))
        return qs_fail(err, QS_EINVAL, "'%s': too large", s);
    *out = n << shift;
    return QS_OK;
}

void budget_format_bytes(int64_t bytes, char *buf, size_t cap)
{
    static const char *const unit[] = { "bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    double v = (double)bytes;
    int u = 0;
    while (v >= 1024.0 && u < 6) {
        v /= 1024.0;
        u++;
    }
    if (u == 0)
        snprintf(buf, cap, "%lld bytes", (long long)bytes);
    else if (v == (double)(int64_t)v)
        snprintf(buf, cap, "%lld %s", (long long)v, unit[u]);
    else
        snprintf(buf, cap, "%.1f %s", v, unit[u]);
}

void budget_reset_max(void)
{
    atomic_store(&g_max, BUDGET_DEFAULT_MAX);
    atomic_store(&g_max_set, false);
}

Budget budget_for_file(int64_t file_bytes)
{
    int64_t max = budget_max();
    if (atomic_load(&g_max_set))
        return (Budget){ .limit = max, .used = 0 };
    int64_t lim = file_bytes > 0 && file_bytes <= INT64_MAX / BUDGET_FILE_FACTOR
                      ? file_bytes * BUDGET_FILE_FACTOR
                      : file_bytes > 0 ? INT64_MAX : 0;
    if (lim < BUDGET_FLOOR)
        lim = BUDGET_FLOOR;
    return (Budget){ .limit = lim < max ? lim : max, .used = 0 };
}

QsStatus budget_charge(Budget *b, int64_t n, size_t elem_size, const char *what,
                       QsError *err)
{
    if (n < 0)
        return qs_fail(err, QS_EFORMAT, "%s: a negative size (%lld elements)", what,
                       (long long)n);
    if (!b)
        return QS_OK;
    int64_t room = b->limit - b->used;
    bool over = elem_size && n > (room < 0 ? 0 : room) / (int64_t)elem_size;
    if (over) {
        char asked[32], allows[32];
        if (n > INT64_MAX / (int64_t)elem_size)
            snprintf(asked, sizeof asked, "more than 8 EiB");
        else
            budget_format_bytes(n * (int64_t)elem_size, asked, sizeof asked);
        budget_format_bytes(b->limit, allows, sizeof allows);
        return qs_fail(err, QS_ENOMEM,
                       "%s: %s asked, the budget allows %s (set max_memory= to raise it)", what,
                       asked, allows);
    }
    b->used += n * (int64_t)elem_size;
    return QS_OK;
}
