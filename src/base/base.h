/* base.h - internal helpers shared by every module: errors, allocation, BLAS, kernels. */
#ifndef LM_BASE_H
#define LM_BASE_H

#include "lstmlm.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Programmer errors: always compiled in, prints file:line and aborts. */
#define LM_ASSERT(x)                                                                         \
    do {                                                                                     \
        if (!(x))                                                                            \
            lm_assert_fail(__FILE__, __LINE__, #x);                                          \
    } while (0)
_Noreturn void lm_assert_fail(const char *file, int line, const char *expr);

/* Sets err (if not NULL) to code and the formatted message; returns code. */
int lm_fail(lm_error *err, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Prefixes an existing message: "prefix: old message". */
void lm_error_prefix(lm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends one formatted line to the log callback, if any. */
void lm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Overflow-checked product: false when a*b overflows size_t. */
static inline bool lm_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* 64-byte aligned, zeroed block of n floats (NULL on failure or overflow). Free with lm_free. */
float *lm_alloc_floats(size_t n);
void lm_free(void *p);

/* BLAS wrapper (the only place that includes cblas.h). Row-major.
 * C (M,N) = alpha * op(A) op(B) + beta * C, op = transpose when ta/tb. M == 1 uses sgemv. */
void lm_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* The same with plain loops (reference for tests). */
void lm_gemm_ref(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                 size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* y (M) = alpha * op(A) x + beta * y, A (rows, cols) row-major; op = transpose when ta. */
void lm_gemv(bool ta, size_t rows, size_t cols, float alpha, const float *A, const float *x,
             float beta, float *y);

/* Element-wise helpers over contiguous arrays. */
double lm_sumsq(const float *x, size_t n);
void lm_scale(float *x, size_t n, float a);
void lm_axpy(size_t n, float a, const float *x, float *y);

#endif
