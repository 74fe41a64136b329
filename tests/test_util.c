#include "test_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arrays/npy.h"

int test_failures, test_checks;

bool test_check(bool ok, const char *file, int line, const char *expr)
{
    test_checks++;
    if (!ok) {
        test_failures++;
        fprintf(stderr, "%s:%d: check failed: %s\n", file, line, expr);
    }
    return ok;
}

bool test_check_ok(QsStatus st, const QsError *err, const char *file, int line, const char *expr)
{
    test_checks++;
    if (st != QS_OK) {
        test_failures++;
        fprintf(stderr, "%s:%d: %s failed: %s\n", file, line, expr, err ? err->msg : "");
        return false;
    }
    return true;
}

bool expect_close(const char *label, const float *got, const float *want, size_t n, double atol,
                  double rtol)
{
    test_checks++;
    double worst = 0;
    size_t worst_i = 0, bad = 0;
    for (size_t i = 0; i < n; i++) {
        double g = got[i], w = want[i], d = fabs(g - w);
        bool nan_match = isnan(g) && isnan(w);
        bool inf_match = isinf(g) && isinf(w) && (g > 0) == (w > 0);
        if (nan_match || inf_match)
            continue;
        if (!(d <= atol + rtol * fabs(w))) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %.9g want %.9g (diff %.3g)\n", label, i, g, w, d);
            bad++;
        }
        if (!(d <= worst)) {
            worst = d;
            worst_i = i;
        }
    }
    if (bad) {
        test_failures++;
        fprintf(stderr, "%s: %zu of %zu elements differ (atol %g, rtol %g); max abs diff %.3g at %zu\n",
                label, bad, n, atol, rtol, worst, worst_i);
        return false;
    }
    return true;
}

bool expect_equal_i32(const char *label, const int32_t *got, const int32_t *want, size_t n)
{
    test_checks++;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++)
        if (got[i] != want[i]) {
            if (bad < 5)
                fprintf(stderr, "  %s[%zu]: got %d want %d\n", label, i, got[i], want[i]);
            bad++;
        }
    if (bad) {
        test_failures++;
        fprintf(stderr, "%s: %zu of %zu elements differ\n", label, bad, n);
        return false;
    }
    return true;
}

bool expect_error(const char *label, QsStatus st, const QsError *err, QsStatus want_code,
                  const char *needle)
{
    test_checks++;
    if (st != want_code || (needle && !strstr(err->msg, needle))) {
        test_failures++;
        fprintf(stderr, "%s: got status %s '%s', want %s containing '%s'\n", label,
                qs_status_name(st), err->msg, qs_status_name(want_code), needle ? needle : "");
        return false;
    }
    return true;
}

Tensor *test_load_npy(const char *rel)
{
    char path[512];
    snprintf(path, sizeof path, "tests/fixtures/%s", rel);
    QsError err = { 0 };
    Tensor *t = npy_load(path, &err);
    if (!t) {
        fprintf(stderr, "cannot load fixture %s: %s\n", path, err.msg);
        exit(2);
    }
    return t;
}

int test_summary(const char *suite)
{
    printf("%s: %d passed, %d failed\n", suite, test_checks - test_failures, test_failures);
    return test_failures ? 1 : 0;
}
