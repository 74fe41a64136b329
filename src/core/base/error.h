/* Status codes and the caller-owned error record that carries a message up the stack.
 * Core and formats never print: they fill a QsError and return its code. */
#ifndef QS_ERROR_H
#define QS_ERROR_H

#include <stdarg.h>
#include <stddef.h>

typedef enum {
    QS_OK = 0,
    QS_EINVAL,     /* bad argument or option value */
    QS_EIO,        /* a file could not be opened, read or written */
    QS_EFORMAT,    /* a file's content is malformed */
    QS_ESHAPE,     /* shapes do not fit together */
    QS_ENOMEM,     /* an allocation sized from input failed */
    QS_ECANCELLED, /* a job was cancelled; state is as before the job */
    QS_ENOTFOUND,  /* a named thing (layer, split, variant, command) does not exist */
    QS_EUNSUPPORTED,
    QS_ECHECK      /* a stated expectation did not hold (`check`, `pick`'s constraints):
                      the figures are wrong, not the command */
} QsStatus;

typedef struct {
    QsStatus code;
    char msg[512];
} QsError;

/* Sets err (when non-NULL) to code and the formatted message; returns code. */
QsStatus qs_fail(QsError *err, QsStatus code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The va_list form of qs_fail. */
QsStatus qs_vfail(QsError *err, QsStatus code, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
/* For walks that keep going after a failure and report the first one: when *st is already
 * set, returns it and leaves err alone; else qs_vfail into err and *st. */
QsStatus qs_vfail_first(QsStatus *st, QsError *err, QsStatus code, const char *fmt, va_list ap)
    __attribute__((format(printf, 4, 0)));

/* Prepends "<formatted>: " to err->msg, keeping the code. Truncates if needed. */
void qs_error_prefix(QsError *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears err to QS_OK with an empty message. */
void qs_error_clear(QsError *err);

/* Short name of a status code ("format", "shape", ...). Never NULL. */
const char *qs_status_name(QsStatus code);

/* Internal invariants only (never for validating input). Always on. The abort hook runs
 * before the message is written, so the TUI can restore the terminal first. */
typedef void (*QsAbortHook)(void);
void qs_set_abort_hook(QsAbortHook hook);
_Noreturn void qs_assert_fail(const char *expr, const char *file, int line);
#define QS_ASSERT(e) ((e) ? (void)0 : qs_assert_fail(#e, __FILE__, __LINE__))

/* Bookkeeping allocations (small, not sized from input): abort through the hook on
 * failure instead of returning NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);

#endif
