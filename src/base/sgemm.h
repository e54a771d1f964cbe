/* sgemm.h - lstmlm's own float32 GEMM behind lm_gemm (base.h), internal to src/base.
 *
 * Debian 12's OpenBLAS does not recognise the newest x86 cores and falls back to its generic
 * SSE3 kernels (core "Prescott"), 4-6x slower than its AVX-512 ones. On such a machine with
 * AVX-512F, lm_gemm runs this kernel instead: op(B) (K, N) packed once per call into panels of
 * SG_NR columns (word (k, c) of a panel at k * w + c, w = SG_NR except in the last panel: the
 * columns left rounded up to 16, columns past N zero). op(A) is read where it is without ta
 * (row r, element k at r * lda + k); with ta, where the rows of a panel would be a stride of
 * lda apart in k, it is packed into panels of SG_MR rows, k by k (element (r, k) of panel i at
 * pa + i * SG_MR * K + k * SG_MR + r, rows past M zero). The kernel broadcasts a value per
 * row. A register tile of SG_MR x SG_NR sums (24 zmm accumulators) runs over SG_KC
 * values of k at a time, so that the B panel's slice stays in the L1 cache. */
#ifndef LM_SGEMM_H
#define LM_SGEMM_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>

#define SG_MR 8
#define SG_NR 48
#define SG_KC 128 /* values of k per block */
#define SG_MCP 32 /* row panels per row block */

typedef struct sg_job {
    size_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb;
    bool ta, tb;
    float *C;
    size_t ldc;
    float *pa;       /* packed A (with ta only) */
    float *pb;       /* packed B: panel j at pb + j * SG_NR * K */
    size_t mp, np;   /* row panels of A, column panels of B */
    bool split_rows; /* the compute parts split A's row panels (else B's) */
} sg_job;

/* lm_gemm's question: does this kernel run its products (base.h)? */
bool lm_sgemm_chosen(void);

#ifdef LM_X86_KERNELS
#define LM_SGEMM_X86 1
/* Matrix-vector products y = alpha op(A) x + beta y (beta 0: y is not read), A (rows, cols)
 * with row stride lda. Without ta, rows [r0, r1) of y = A x (a dot product per row); with ta,
 * entries [c0, c1) of y = A^T x (rows of A scaled by x and added). */
void lm_sgemv_rows_avx512(size_t r0, size_t r1, size_t cols, float alpha, const float *A,
                          size_t lda, const float *x, float beta, float *y);
void lm_sgemv_cols_avx512(size_t c0, size_t c1, size_t rows, float alpha, const float *A,
                          size_t lda, const float *x, float beta, float *y);
/* Packs A panels [lo, hi) (with ta) and B panels [lo, hi) of the job. */
void lm_sgemm_pack_a_avx512(const sg_job *j, size_t lo, size_t hi);
void lm_sgemm_pack_b_avx512(const sg_job *j, size_t lo, size_t hi);
/* C for row panels [ilo, ihi) x column panels [jlo, jhi), all of K. */
void lm_sgemm_tiles_avx512(const sg_job *j, size_t ilo, size_t ihi, size_t jlo, size_t jhi);
#endif

#endif
