/* bgemm.h - the packed operands and the instruction-set variant behind lm_bgemm (base.h),
 * internal to src/base.
 *
 * op(A) (M, K) and op(B) (K, N) are rounded to bf16 and packed once per call, K whole, as
 * 32-bit words that each hold one K-pair (k, k+1) of one row or column, element k in the low
 * half (the operand order of vdpbf16ps, which multiplies pairs and adds both products to one
 * float32 lane). A K-tail pair (K odd) has a zero high half.
 *   A: panels of BG_MR rows (rows past M zero). Word (r, p) of a panel is at r * rs + p * ps:
 *      without ta the rows of A are contiguous in k, so a panel is row by row (rs = KP,
 *      ps = 1); with ta the pairs are (A[k][i], A[k+1][i]) and a panel is pair by pair
 *      (rs = 1, ps = BG_MR). The micro-kernel broadcasts a word per row through either stride.
 *   B: panels of BG_NR columns, pair by pair: word (p, c) at p * w + c, w = BG_NR except in the
 *      last panel (the columns left, rounded up to 16); columns past N zero.
 * KP = (K + 1) / 2 pairs. A register tile of BG_MR x BG_NR sums (24 zmm accumulators) runs
 * over BG_KCP pairs at a time so that the B panel's slice stays in the L1 cache. */
#ifndef LM_BGEMM_H
#define LM_BGEMM_H

#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BG_MR 8
#define BG_NR 48
#define BG_KCP 128 /* pairs per K block */
#define BG_MCP 32  /* A panels per row block (BG_MCP * BG_MR * BG_KCP words in the L2 cache) */

typedef struct bg_job {
    bool ta, tb;
    size_t M, N, K, KP;
    float alpha, beta;
    const float *A, *B;
    size_t lda, ldb;
    float *C;
    size_t ldc;
    uint32_t *pa, *pb; /* packed panels: A panel i at pa + i * BG_MR * KP, B panel j likewise */
    size_t mp, np;     /* panels of A and of B */
    bool split_rows;   /* the compute parts split A's panels (else B's) */
    /* B is a bf16 matrix packed by groups of 16 rows (qgemv.h's pk), taken as it is: panel j is
     * groups 3j..3j+2, each 16 columns wide (word (p, c) of a group at p * 16 + c) and KP * 16
     * words after the one before; rows past the matrix are zero. */
    bool grouped;
} bg_job;

/* Y (n, rows) += X (n, cols) W^T for a bf16 matrix W already packed by groups of 16 rows
 * (lm_qmat's pk), X rounded to bf16 as lm_bgemm rounds its operands; false (and nothing done)
 * where the AVX-512 BF16 kernel is not in use or its buffer cannot grow. */
bool lm_bgemm_grouped(size_t n, const float *X, const uint32_t *pk, size_t rows, size_t cols,
                      float *Y);
/* Whether this CPU's bf16 dot products outrun its float32 FMAs (AMD's Zen 4 and 5 issue
 * vdpbf16ps at the FMA's rate, twice its arithmetic; Intel's cores without AMX at half), so
 * that a product over many rows is faster in bf16 than decoded to float32. */
bool lm_bgemm_fast(void);

#ifdef LM_X86_KERNELS
#define LM_BGEMM_X86 1
/* Packs A panels [lo, hi) and B panels [lo, hi) of the job. */
void lm_bgemm_pack_a_avx512(const bg_job *j, size_t lo, size_t hi);
void lm_bgemm_pack_b_avx512(const bg_job *j, size_t lo, size_t hi);
/* C for A panels [ilo, ihi) x B panels [jlo, jhi), all of K. */
void lm_bgemm_tiles_avx512(const bg_job *j, size_t ilo, size_t ihi, size_t jlo, size_t jhi);
#endif

#endif
