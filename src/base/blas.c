/* blas.c - the only file that includes cblas.h: GEMM/GEMV wrappers and small kernels. */
#include "base/base.h"
#include "base/sgemm.h"

#include <cblas.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* OpenBLAS extensions, declared here to avoid depending on openblas_config.h details. */
extern char *openblas_get_corename(void);
extern void openblas_set_num_threads(int);
extern int openblas_get_num_threads(void);

/* Who threads the products OpenBLAS computes. By default lstmlm does: OpenBLAS runs one thread
 * and lm_gemm / lm_gemv split the larger dimension of the result over lstmlm's pool, so the
 * process has one set of threads. When OpenBLAS threads its own calls, its workers spin
 * between products while the pool's workers run the recurrent and element-wise work beside
 * them: three threads on two cores. LSTMLM_GEMM=openblas-threads restores OpenBLAS's
 * threading (for comparison; bench/README.md has the figures). */
static bool own_threads;
static pthread_once_t own_threads_once = PTHREAD_ONCE_INIT;
static void own_threads_init(void)
{
    const char *v = getenv("LSTMLM_GEMM");
    own_threads = !(v && !strcmp(v, "openblas-threads"));
    if (own_threads)
        openblas_set_num_threads(1);
}

static bool blas_own_threads(void)
{
    pthread_once(&own_threads_once, own_threads_init);
    return own_threads;
}

bool lm_blas_split(void)
{
    return blas_own_threads() && lm_pool_threads() > 1;
}

typedef struct gemm_job {
    bool ta, tb;
    size_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb, ldc;
    float *C;
} gemm_job;

/* Part of C by rows when it has at least as many rows as columns, else by columns: each part
 * packs the whole of the other, smaller operand. */
static void gemm_part(void *ctx, size_t part, size_t nparts)
{
    const gemm_job *j = ctx;
    size_t lo, hi;
    CBLAS_TRANSPOSE ta = j->ta ? CblasTrans : CblasNoTrans, tb = j->tb ? CblasTrans : CblasNoTrans;
    if (j->M >= j->N) {
        if (lm_pool_range16(j->M, part, nparts, &lo, &hi))
            cblas_sgemm(CblasRowMajor, ta, tb, (int)(hi - lo), (int)j->N, (int)j->K, j->alpha,
                        j->ta ? j->A + lo : j->A + lo * j->lda, (int)j->lda, j->B, (int)j->ldb,
                        j->beta, j->C + lo * j->ldc, (int)j->ldc);
    } else if (lm_pool_range16(j->N, part, nparts, &lo, &hi)) {
        cblas_sgemm(CblasRowMajor, ta, tb, (int)j->M, (int)(hi - lo), (int)j->K, j->alpha, j->A,
                    (int)j->lda, j->tb ? j->B + lo * j->ldb : j->B + lo, (int)j->ldb, j->beta,
                    j->C + lo, (int)j->ldc);
    }
}

/* y = alpha op(A) x + beta y, A (rows, cols) row-major: a part of y's entries. */
static void gemv_part(void *ctx, size_t part, size_t nparts)
{
    const lm_gemv_job *j = ctx;
    size_t lo, hi;
    if (!lm_pool_range16(j->ta ? j->cols : j->rows, part, nparts, &lo, &hi))
        return;
    if (j->ta)
        cblas_sgemv(CblasRowMajor, CblasTrans, (int)j->rows, (int)(hi - lo), j->alpha, j->A + lo,
                    (int)j->lda, j->x, 1, j->beta, j->y + lo, 1);
    else
        cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)(hi - lo), (int)j->cols, j->alpha,
                    j->A + lo * j->lda, (int)j->lda, j->x, 1, j->beta, j->y + lo, 1);
}

static void blas_gemv(bool ta, size_t rows, size_t cols, float alpha, const float *A, size_t lda,
                      const float *x, float beta, float *y)
{
    if (lm_blas_split() && (double)rows * cols >= LM_POOL_MIN_GEMV) {
        lm_gemv_job j = {ta, rows, cols, lda, alpha, beta, A, x, y};
        lm_pool_run(lm_pool_threads(), gemv_part, &j);
        return;
    }
    cblas_sgemv(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, (int)rows, (int)cols, alpha, A,
                (int)lda, x, 1, beta, y, 1);
}

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
            blas_gemv(false, N, K, alpha, B, ldb, A, beta, C);
        else /* B is (K,N): y = B^T a */
            blas_gemv(true, K, N, alpha, B, ldb, A, beta, C);
        return;
    }
    if (lm_sgemm_chosen()) {
        lm_sgemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    if (lm_blas_split() && (double)M * N * K >= LM_POOL_MIN_MACS) {
        gemm_job j = {ta, tb, M, N, K, alpha, beta, A, B, lda, ldb, ldc, C};
        lm_pool_run(lm_pool_threads(), gemm_part, &j);
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
    blas_gemv(ta, rows, cols, alpha, A, cols, x, beta, y);
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

const char *lm_blas_core_name(void)
{
    const char *s = openblas_get_corename();
    return s ? s : "unknown";
}

void lm_blas_set_threads(int n)
{
    if (n > 0) {
        openblas_set_num_threads(blas_own_threads() ? 1 : n);
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
