/* sgemm_avx512.c - packing and the register-tiled micro-kernel of lstmlm's float32 GEMM for
 * AVX-512F (see sgemm.h). */
#include "base/sgemm.h"

#ifdef LM_SGEMM_X86
#pragma GCC target("avx512f,avx2,fma")
#include "base/simd512.h"

#include <immintrin.h>
#include <string.h>

static inline size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}



/* ---- packing ------------------------------------------------------------------------------ */

/* Rows of A (with ta) or of B (without tb) KB at a time across all panels of the range, so that
 * each source line is read once while it is in the L1 cache. */
#define KB 16

/* op(A) = A^T, A (K, M): row k of A gives the k-th SG_MR values of each panel. */
void lm_sgemm_pack_a_avx512(const sg_job *j, size_t lo, size_t hi)
{
    size_t K = j->K, lda = j->lda, M = j->M;
    for (size_t k0 = 0; k0 < K; k0 += KB) {
        size_t k1 = min_sz(k0 + KB, K);
        for (size_t i = lo; i < hi; i += 2) {
            size_t r0 = i * SG_MR, rows = min_sz(2 * SG_MR, M - r0);
            bool two = i + 1 < hi;
            __mmask16 m = lm_lanes16(two ? rows : min_sz(SG_MR, rows));
            float *d0 = j->pa + i * SG_MR * K, *d1 = d0 + SG_MR * K;
            for (size_t k = k0; k < k1; k++) {
                __m512 x = _mm512_maskz_loadu_ps(m, j->A + k * lda + r0);
                _mm256_storeu_ps(d0 + k * SG_MR, _mm512_castps512_ps256(x));
                if (two)
                    _mm256_storeu_ps(d1 + k * SG_MR, _mm256_castpd_ps(_mm512_extractf64x4_pd(
                                                         _mm512_castps_pd(x), 1)));
            }
        }
    }
}

void lm_sgemm_pack_b_avx512(const sg_job *j, size_t lo, size_t hi)
{
    size_t K = j->K, ldb = j->ldb;
    if (!j->tb) {
        for (size_t k0 = 0; k0 < K; k0 += KB) {
            size_t k1 = min_sz(k0 + KB, K);
            for (size_t jp = lo; jp < hi; jp++) {
                float *dst = j->pb + jp * SG_NR * K;
                size_t c0 = jp * SG_NR, nc = min_sz(SG_NR, j->N - c0), w = (nc + 15) & ~(size_t)15;
                for (size_t k = k0; k < k1; k++) {
                    const float *x = j->B + k * ldb + c0;
                    for (size_t v = 0; v < w; v += 16)
                        _mm512_storeu_ps(dst + k * w + v,
                                         _mm512_maskz_loadu_ps(lm_lanes16(nc - v), x + v));
                }
            }
        }
        return;
    }
    for (size_t jp = lo; jp < hi; jp++) {
        float *dst = j->pb + jp * SG_NR * K;
        size_t c0 = jp * SG_NR, nc = min_sz(SG_NR, j->N - c0), w = (nc + 15) & ~(size_t)15;
        /* op(B) = B^T, B (N, K): column c of the panel is row c0 + c of B, contiguous in k;
         * 16 columns x 16 values of k at a time, transposed in registers. */
        for (size_t v = 0; v < w; v += 16) {
            size_t cols = min_sz(16, nc - v);
            const float *src = j->B + (c0 + v) * ldb;
            for (size_t k = 0; k < K; k += 16) {
                __m512i r[16];
                size_t n = min_sz(16, K - k);
                __mmask16 m = lm_lanes16(n);
#pragma GCC unroll 16
                for (size_t c = 0; c < 16; c++)
                    r[c] = c < cols ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, src + c * ldb + k))
                                    : _mm512_setzero_si512();
                lm_transpose16(r);
                float *d = dst + k * w + v;
#pragma GCC unroll 16
                for (size_t q = 0; q < 16; q++)
                    if (q < n)
                        _mm512_storeu_ps(d + q * w, _mm512_castsi512_ps(r[q]));
            }
        }
    }
}

/* ---- the micro-kernel --------------------------------------------------------------------- */

/* C (mr, nc) = alpha * A-rows B-panel over kc values + beta C (beta 0: C is not read). a: row
 * r's value k at r * rs + k * ks; b: the B panel's (k, c) at k * w + c, nv = w / 16 vectors. */
static inline __attribute__((always_inline)) void
tile(const int mr, const int nv, size_t kc, const float *a, size_t rs, size_t ks, const float *b,
     size_t w, float *C, size_t ldc, size_t nc, float alpha, float beta)
{
    __m512 acc[SG_MR][3];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    const float *ar[SG_MR];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        ar[r] = a + (size_t)r * rs;
    for (size_t k = 0; k < kc; k++) {
        __m512 bv[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            bv[v] = _mm512_loadu_ps(b + k * w + 16 * v);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m512 x = _mm512_set1_ps(ar[r][k * ks]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_fmadd_ps(x, bv[v], acc[r][v]);
        }
    }
    __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++) {
        float *c = C + (size_t)r * ldc;
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++) {
            __mmask16 m = lm_lanes16(nc - 16 * (size_t)v);
            __m512 x = _mm512_mul_ps(acc[r][v], al);
            if (beta != 0.0f)
                x = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, c + 16 * v), be, x);
            _mm512_mask_storeu_ps(c + 16 * v, m, x);
        }
    }
}

/* The tile for mr rows (1..8) and nv vectors (1..3), each case compiled with its own
 * registers, for rows of A read in place (ks 1, rows rs apart) or packed (rs 1, ks SG_MR). */
static void tile_any(int mr, int nv, size_t kc, const float *a, size_t rs, size_t ks,
                     const float *b, size_t w, float *C, size_t ldc, size_t nc, float alpha,
                     float beta)
{
#define SG_CASE(m, n)                                                                              \
    case (m)*4 + (n):                                                                              \
        if (ks == 1)                                                                               \
            tile(m, n, kc, a, rs, 1, b, w, C, ldc, nc, alpha, beta);                               \
        else                                                                                       \
            tile(m, n, kc, a, 1, SG_MR, b, w, C, ldc, nc, alpha, beta);                            \
        return;
#define SG_ROW(m) SG_CASE(m, 1) SG_CASE(m, 2) SG_CASE(m, 3)
    switch (mr * 4 + nv) {
        SG_ROW(1)
        SG_ROW(2)
        SG_ROW(3)
        SG_ROW(4)
        SG_ROW(5)
        SG_ROW(6)
        SG_ROW(7)
        SG_ROW(8)
    default:
        break;
    }
#undef SG_ROW
#undef SG_CASE
}

/* Blocks of the C part that stay in the L2 cache while K runs through: SG_MCP row panels by
 * NCP column panels. */
#define NCP 8

void lm_sgemm_tiles_avx512(const sg_job *j, size_t ilo, size_t ihi, size_t jlo, size_t jhi)
{
    size_t K = j->K, M = j->M, N = j->N, ldc = j->ldc;
    size_t rs = j->ta ? 1 : j->lda, ks = j->ta ? SG_MR : 1;
    for (size_t jb = jlo; jb < jhi; jb += NCP) {
        size_t je = min_sz(jb + NCP, jhi);
        for (size_t ib = ilo; ib < ihi; ib += SG_MCP) {
            size_t ie = min_sz(ib + SG_MCP, ihi);
            for (size_t k0 = 0; k0 < K; k0 += SG_KC) {
                size_t kc = min_sz(SG_KC, K - k0);
                float beta = k0 == 0 ? j->beta : 1.0f;
                for (size_t jp = jb; jp < je; jp++) {
                    size_t c0 = jp * SG_NR, nc = min_sz(SG_NR, N - c0);
                    size_t w = (nc + 15) & ~(size_t)15;
                    const float *b = j->pb + jp * SG_NR * K + k0 * w;
                    for (size_t ip = ib; ip < ie; ip++) {
                        size_t r0 = ip * SG_MR;
                        const float *a =
                            j->ta ? j->pa + ip * SG_MR * K + k0 * SG_MR : j->A + r0 * j->lda + k0;
                        tile_any((int)min_sz(SG_MR, M - r0), (int)(w / 16), kc, a, rs, ks, b, w,
                                 j->C + r0 * ldc + c0, ldc, nc, j->alpha, beta);
                    }
                }
            }
        }
    }
}
/* ---- matrix-vector products --------------------------------------------------------------- */

void lm_sgemv_rows_avx512(size_t r0, size_t r1, size_t cols, float alpha, const float *A,
                          size_t lda, const float *x, float beta, float *y)
{
    for (size_t r = r0; r < r1; r++) {
        const float *a = A + r * lda;
        __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
        size_t j = 0;
        for (; j + 64 <= cols; j += 64) {
            s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j), _mm512_loadu_ps(x + j), s0);
            s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 16), _mm512_loadu_ps(x + j + 16), s1);
            s2 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 32), _mm512_loadu_ps(x + j + 32), s2);
            s3 = _mm512_fmadd_ps(_mm512_loadu_ps(a + j + 48), _mm512_loadu_ps(x + j + 48), s3);
        }
        for (; j < cols; j += 16) {
            __mmask16 m = lm_lanes16(cols - j);
            s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + j), _mm512_maskz_loadu_ps(m, x + j),
                                 s0);
        }
        float v = alpha * _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1),
                                                             _mm512_add_ps(s2, s3)));
        y[r] = beta == 0.0f ? v : v + beta * y[r];
    }
}

void lm_sgemv_cols_avx512(size_t c0, size_t c1, size_t rows, float alpha, const float *A,
                          size_t lda, const float *x, float beta, float *y)
{
    /* 64 entries of y at a time in registers, over all rows. */
    for (size_t c = c0; c < c1; c += 64) {
        size_t n = min_sz(64, c1 - c);
        __mmask16 m[4];
        __m512 s[4];
        for (int v = 0; v < 4; v++) {
            m[v] = 16 * (size_t)v < n ? lm_lanes16(n - 16 * (size_t)v) : 0;
            s[v] = _mm512_setzero_ps();
        }
        for (size_t k = 0; k < rows; k++) {
            const float *a = A + k * lda + c;
            __m512 xk = _mm512_set1_ps(x[k]);
#pragma GCC unroll 4
            for (int v = 0; v < 4; v++)
                s[v] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[v], a + 16 * v), xk, s[v]);
        }
        __m512 al = _mm512_set1_ps(alpha), be = _mm512_set1_ps(beta);
        for (int v = 0; v < 4; v++) {
            __m512 r = _mm512_mul_ps(s[v], al);
            if (beta != 0.0f)
                r = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m[v], y + c + 16 * v), be, r);
            _mm512_mask_storeu_ps(y + c + 16 * v, m[v], r);
        }
    }
}
#endif
