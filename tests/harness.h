/* harness.h - shared helpers for the CUnit test programs. */
#ifndef LM_TEST_HARNESS_H
#define LM_TEST_HARNESS_H

#include <CUnit/Basic.h>
#include <stddef.h>

/* Exit codes of a test program (automake's conventions). */
enum { TEST_PASS = 0, TEST_FAIL = 1, TEST_SKIP = 77, TEST_ERROR = 99 };

/* |a - b| <= atol + rtol * |b|, reported with both values when it fails. */
#define LM_ASSERT_CLOSE(a, b, atol, rtol)                                                          \
    CU_assertImplementation(th_close((a), (b), (atol), (rtol)), __LINE__,                          \
                            th_close_msg(#a, (a), (b)), __FILE__, "", CU_FALSE)

int th_close(double a, double b, double atol, double rtol);
const char *th_close_msg(const char *what, double a, double b);

/* Compares two tensors element-wise; prints the largest relative difference with the name.
 * Returns 1 when every element satisfies |a-b| <= atol + rtol*|b|. */
int th_check_tensor(const char *name, const float *a, const float *b, size_t n, double atol,
                    double rtol);

/* Finite-difference gradient check: for every i, the analytic g[i] against the numeric
 * derivative of f (a loss of the parameters x, evaluated in double) in x[i], which is
 * perturbed and restored. An element fails when |numeric - g| > atol + rtol * |numeric|; the
 * first failure and the worst relative error are printed under name. Methods:
 *   TH_FD_CENTRAL     one central difference with step eps;
 *   TH_FD_RICHARDSON  (4 D(eps/2) - D(eps)) / 3, which cancels the eps^2 term that
 *                     LayerNorm and softmax make large at the step float rounding needs;
 *   TH_FD_RETRY       an element that misses at eps gets second chances at eps/4 and
 *                     eps/16 (kinks in the second derivative, e.g. squared ReLU, and the
 *                     steep curvature of a LayerNorm over a near-constant vector, that a
 *                     large step straddles; a wrong gradient fails at every step).
 * Each difference divides by the step float takes, and an element that still misses passes
 * if the miss is within twice what the rounding noise of f (measured around x[i] over a few
 * ulps) explains at the step used: a float32 model's loss moves by about 1e-6 of itself at
 * random, 1e-4 of the gradient at a step of 1e-2.
 * Returns 1 when every element passes. */
typedef double (*th_loss_fn)(void *ud);
typedef enum { TH_FD_CENTRAL, TH_FD_RICHARDSON, TH_FD_RETRY } th_fd_method;
typedef struct th_fd {
    double eps, rtol, atol;
    th_fd_method method;
} th_fd;
int th_fd_check(const th_fd *o, const char *name, float *x, const float *g, size_t n, th_loss_fn f,
                void *ud);

/* Directional check over a whole parameter block (kann's check): the analytic derivative
 * dir . g against the Richardson combination of central differences of f along dir with
 * steps h and h / 2. x is moved and
 * restored. Stores both in *analytic and *numeric. */
void th_fd_direction(float *x, const float *g, const float *dir, size_t n, double h,
                     th_loss_fn f, void *ud, double *analytic, double *numeric);

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

/* A borrowed generic handle for a neural network made by a test (valid while the network
 * lives; handles are released at exit). */
#include "lstmlm-tools.h"
struct lm_net;
lm_model *th_model(struct lm_net *n);
/* The same for an n-gram model. */
lm_model *th_ngram_model(lm_ngram *g);
#define TH_M(n) th_model((struct lm_net *)(n))

#endif
