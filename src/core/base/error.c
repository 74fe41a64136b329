#include "base/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/utf8.h"

static QsAbortHook abort_hook;

QsStatus qs_vfail(QsError *err, QsStatus code, const char *fmt, va_list ap)
{
    if (err) {
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        err->code = code;
        /* a message may quote bytes from a file: keep it one printable line */
        utf8_make_safe(err->msg, true);
    }
    return code;
}

QsStatus qs_fail(QsError *err, QsStatus code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    qs_vfail(err, code, fmt, ap);
    va_end(ap);
    return code;
}

QsStatus qs_vfail_first(QsStatus *st, QsError *err, QsStatus code, const char *fmt, va_list ap)
{
    if (!*st)
        *st = qs_vfail(err, code, fmt, ap);
    return *st;
}

void qs_error_prefix(QsError *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[256], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Assembled by hand: snprintf("%s: %s") would warn about the (intended) truncation. */
    size_t cap = sizeof err->msg - 1, a = strnlen(prefix, cap), b = strnlen(old, sizeof old);
    memcpy(err->msg, prefix, a);
    size_t used = a;
    if (used + 2 <= cap) {
        memcpy(err->msg + used, ": ", 2);
        used += 2;
    }
    if (b > cap - used)
        b = cap - used;
    memcpy(err->msg + used, old, b);
    err->msg[used + b] = '\0';
    utf8_make_safe(err->msg, true);
}

void qs_error_clear(QsError *err)
{
    if (err) {
        err->code = QS_OK;
        err->msg[0] = '\0';
    }
}

const char *qs_status_name(QsStatus code)
{
    static const char *const names[] = {
        [QS_OK] = "ok",           [QS_EINVAL] = "invalid",     [QS_EIO] = "io",
        [QS_EFORMAT] = "format",  [QS_ESHAPE] = "shape",       [QS_ENOMEM] = "memory",
        [QS_ECANCELLED] = "cancelled", [QS_ENOTFOUND] = "not found",
        [QS_EUNSUPPORTED] = "unsupported", [QS_ECHECK] = "check",
    };
    if ((unsigned)code < sizeof names / sizeof names[0] && names[code])
        return names[code];
    return "unknown";
}

void qs_set_abort_hook(QsAbortHook hook) { abort_hook = hook; }

/* The one place in core that writes to stderr: the process is about to die on a broken
 * invariant, and the message is the only trace left. */
_Noreturn void qs_assert_fail(const char *expr, const char *file, int line)
{
    if (abort_hook)
        abort_hook();
    char buf[512];
    int n = snprintf(buf, sizeof buf, "qscope: internal error: %s (%s:%d)\n", expr, file, line);
    if (n > 0)
        (void)!write(2, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
    abort();
}

static void *checked(void *p)
{
    if (!p)
        qs_assert_fail("out of memory", __FILE__, __LINE__);
    return p;
}

void *xmalloc(size_t n) { return checked(malloc(n ? n : 1)); }
void *xcalloc(size_t count, size_t size) { return checked(calloc(count ? count : 1, size ? size : 1)); }
void *xrealloc(void *p, size_t n) { return checked(realloc(p, n ? n : 1)); }
char *xstrdup(const char *s) { return checked(strdup(s)); }
