/* harness.h - shared helpers for the CUnit test programs. */
#ifndef LM_TEST_HARNESS_H
#define LM_TEST_HARNESS_H

#include <CUnit/Basic.h>
#include <stddef.h>

/* Exit codes of a test program (automake's conventions). */
enum { TEST_PASS = 0, TEST_FAIL = 1, TEST_SKIP = 77, TEST_ERROR = 99 };

/* |a - b| <= atol + rtol * |b|, reported with both values when it fails. */
#define LM_ASSERT_CLOSE(a, b, atol, rtol)                                                    \
    CU_assertImplementation(th_close((a), (b), (atol), (rtol)), __LINE__,                  \
                            th_close_msg(#a, (a), (b)), __FILE__, "", CU_FALSE)

int th_close(double a, double b, double atol, double rtol);
const char *th_close_msg(const char *what, double a, double b);

/* Compares two tensors element-wise; prints the largest relative difference with the name.
 * Returns 1 when every element satisfies |a-b| <= atol + rtol*|b|. */
int th_check_tensor(const char *name, const float *a, const float *b, size_t n, double atol,
                    double rtol);

/* Path of a file below $srcdir (or "." when unset), in a static buffer per call slot. */
const char *th_srcpath(const char *rel);
/* Path of ../shared/<rel> seen from $srcdir, or NULL when that folder is absent. */
const char *th_shared(const char *rel);
/* A fresh temporary directory for this test program (removed at th_run's end). */
const char *th_tmpdir(void);

/* Registers one suite with the NULL-terminated tests, runs it, returns the process exit code. */
typedef struct th_test {
    const char *name;
    void (*fn)(void);
} th_test;
int th_run(const char *suite, const th_test *tests);

#endif
