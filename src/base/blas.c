/* blas.c - the only file that includes cblas.h: GEMM/GEMV wrappers and small kernels. */
#include "base/base.h"
#include "base/sgemm.h"

#include <cblas.h>
#include <string.h>

void lm_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        for (size_t i = 0; i < M; i++)
            for (size_t j = 0; j < N; j++)
                C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
        return;
    }
    if (M == 1 && !ta && lm_sgemm_chosen()) {
        /* tb: B is (N,K), y = B a; else B is (K,N), y = B^T a. */
        lm_sgemv(!tb, tb ? N : K, tb ? K : N, alpha, B, ldb, A, beta, C);
        return;
    }
    if (M == 1 && !ta) {
        /* One row: C (1,N) = A (1,K) op(B). y = op(B)^T a. Bandwidth bound: sgemv. */
        if (tb) /* op(B) = B^T, B is (N,K): y = B a */
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)N, (int)K, alpha, B, (int)ldb, A, 1,
                        beta, C, 1);
        else /* B is (K,N): y = B^T a */
            cblas_sgemv(CblasRowMajor, CblasTrans, (int)K, (int)N, alpha, B, (int)ldb, A, 1,
                        beta, C, 1);
        return;
    }
    if (lm_sgemm_chosen()) {
        lm_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)M, (int)N, (int)K, alpha, A, (int)lda, B, (int)ldb, beta, C, (int)ldc);
}

void lm_gemm_ref(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                 size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                float a = ta ? A[k * lda + i] : A[i * lda + k];
                float b = tb ? B[j * ldb + k] : B[k * ldb + j];
                s += (double)a * b;
            }
            C[i * ldc + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * C[i * ldc + j]));
        }
}

/* The training precision of the calling thread (lm_gemm_train_set). */
static _Thread_local int train_precision = LM_PRECISION_F32;

int lm_gemm_train_set(int precision)
{
    int old = train_precision;
    train_precision = precision;
    return old;
}

void lm_gemm_train(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                   size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (train_precision == LM_PRECISION_BF16)
        lm_bgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    else
        lm_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void lm_gemv(bool ta, size_t rows, size_t cols, float alpha, const float *A, const float *x,
             float beta, float *y)
{
    if (lm_sgemm_chosen()) {
        lm_sgemv(ta, rows, cols, alpha, A, cols, x, beta, y);
        return;
    }
    cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, (int)rows, (int)cols, alpha, A,
                (int)cols, x, 1, beta, y, 1);
}

/* 32 partial sums in double (four AVX-512 vectors), so that the additions do not wait on one
 * another: the gradient norm reads every gradient once per step. */
LM_HOT double lm_sumsq(const float *x, size_t n)
{
    double s[32] = {0};
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
#pragma omp simd
        for (size_t k = 0; k < 32; k++)
            s[k] += (double)x[i + k] * x[i + k];
    }
    double t = 0;
    for (; i < n; i++)
        t += (double)x[i] * x[i];
    for (size_t k = 0; k < 32; k++)
        t += s[k];
    return t;
}

void lm_scale(float *x, size_t n, float a)
{
    for (size_t i = 0; i < n; i++)
        x[i] *= a;
}

void lm_axpy(size_t n, float a, const float *x, float *y)
{
    cblas_saxpy((int)n, a, x, 1, y, 1);
}

/* OpenBLAS extensions, declared here to avoid depending on openblas_config.h details. */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

const char *lm_blas_core_name(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

void lm_blas_set_threads(int n)
{
    if (n > 0) {
        openblas_set_num_threads(n);
        lm_pool_set_threads((size_t)n);
    }
}

const char *lm_kernel_name(void)
{
    return lm_pgemm_kernel_name();
}

size_t lm_threads(void)
{
    return lm_pool_threads();
}
