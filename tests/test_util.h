/* A small test harness: checks count failures instead of aborting, so one run reports
 * every broken case; main returns test_summary(). */
#ifndef QS_TEST_UTIL_H
#define QS_TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/error.h"
#include "base/tensor.h"

extern int test_failures, test_checks;

#define CHECK(cond)                                                                          \
    test_check((cond), __FILE__, __LINE__, #cond)
#define CHECK_OK(status_expr, errp)                                                          \
    test_check_ok((status_expr), (errp), __FILE__, __LINE__, #status_expr)

bool test_check(bool ok, const char *file, int line, const char *expr);
bool test_check_ok(QsStatus st, const QsError *err, const char *file, int line,
                   const char *expr);
/* Compares element-wise: |got - want| <= atol + rtol * |want|. Reports the largest
 * absolute difference, its index and the first few mismatches. Returns true on match. */
bool expect_close(const char *label, const float *got, const float *want, size_t n, double atol,
                  double rtol);
/* Exact comparison of integer arrays. */
bool expect_equal_i32(const char *label, const int32_t *got, const int32_t *want, size_t n);
/* Asserts that err has the given code and its message contains `needle`. */
bool expect_error(const char *label, QsStatus st, const QsError *err, QsStatus want_code,
                  const char *needle);
/* Loads tests/fixtures/<rel> (a .npy) as f32; aborts the test program if missing. */
Tensor *test_load_npy(const char *rel);
/* splitmix64 over a caller's state: seeded test data, identical on every run and machine. */
static inline uint64_t test_splitmix(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}
/* Prints "N passed, N failed" and returns the exit status. */
int test_summary(const char *suite);


#endif
