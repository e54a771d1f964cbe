/* bgemm_avx512.c - packing and the register-tiled micro-kernel of lm_bgemm for AVX-512 BF16
 * (vdpbf16ps: per float32 lane, two bf16 products added to the sum). See bgemm.h.
 *
 * Rounding is done with integer operations exactly as lm_float_to_bf16 (add 0x7fff plus the
 * lowest kept bit, keep the high half), not with vcvtneps2bf16, which would also flush
 * denormals; the packed operands are therefore those of lm_bgemm_ref bit for bit. */
#include "base/bgemm.h"

#ifdef LM_BGEMM_X86
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512bf16,avx2,fma")
#include "base/simd512.h"

#include <immintrin.h>
#include <string.h>

static inline size_t min_sz(size_t a, size_t b)
{
    return a < b ? a : b;
}


/* The float32 bits of x with the bf16 rounded to nearest even in the high half. */
static inline __m512i round_hi(__m512 x)
{
    __m512i u = _mm512_castps_si512(x);
    __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
    return _mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7fff)));
}

/* Words whose low half is lo's bf16 and high half hi's (both from round_hi). */
static inline __m512i join(__m512i lo, __m512i hi)
{
    return _mm512_or_si512(_mm512_srli_epi32(lo, 16),
                           _mm512_and_si512(hi, _mm512_set1_epi32((int)0xffff0000u)));
}

/* n consecutive floats of x (n <= 32; the rest read as zero) as 16 words of consecutive
 * pairs. */
static inline __m512i pairs32(const float *x, size_t n)
{
    __m512i a = round_hi(_mm512_maskz_loadu_ps(lm_lanes16(n), x));
    __m512i b = round_hi(_mm512_maskz_loadu_ps(n > 16 ? lm_lanes16(n - 16) : 0, x + 16));
    /* 16-bit word w of the result is the high half of float w of a:b... of pair w / 2: the
     * high halves are the odd 16-bit words 1, 3, ..., 63 of the concatenation a:b. */
    const __m512i odd =
        _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27,
                         25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_permutex2var_epi16(a, odd, b);
}

/* pairs32 of 32 floats. */
static inline __m512i pairs32_full(const float *x)
{
    __m512i a = round_hi(_mm512_loadu_ps(x)), b = round_hi(_mm512_loadu_ps(x + 16));
    const __m512i odd =
        _mm512_set_epi16(63, 61, 59, 57, 55, 53, 51, 49, 47, 45, 43, 41, 39, 37, 35, 33, 31, 29, 27,
                         25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_permutex2var_epi16(a, odd, b);
}

/* ---- packing ------------------------------------------------------------------------------ */

/* The operands whose pairs come from two rows of the source (A with ta, B without tb) are
 * packed PB pairs (2 PB source rows) at a time across all panels of the range, so that each
 * source line is read once while it is in the L1 cache. */
#define PB 8

/* op(A) = A^T, A (K, M): rows k and k+1 of A give pair p of the panel, 8 rows wide; two
 * panels (16 floats of a row) at a time. */
static void pack_a_t(const bg_job *j, size_t lo, size_t hi)
{
    size_t K = j->K, KP = j->KP, lda = j->lda, M = j->M;
    for (size_t p0 = 0; p0 < KP; p0 += PB) {
        size_t p1 = min_sz(p0 + PB, KP);
        for (size_t i = lo; i < hi; i += 2) {
            size_t r0 = i * BG_MR, rows = min_sz(2 * BG_MR, M - r0);
            bool two = i + 1 < hi;
            __mmask16 m = lm_lanes16(two ? rows : min_sz(BG_MR, rows));
            uint32_t *d0 = j->pa + i * BG_MR * KP, *d1 = d0 + BG_MR * KP;
            for (size_t p = p0; p < p1; p++) {
                const float *x = j->A + 2 * p * lda + r0;
                __m512i a = round_hi(_mm512_maskz_loadu_ps(m, x));
                __m512i b = 2 * p + 1 < K ? round_hi(_mm512_maskz_loadu_ps(m, x + lda))
                                          : _mm512_setzero_si512();
                __m512i w = join(a, b);
                _mm256_storeu_si256((__m256i *)(d0 + p * BG_MR), _mm512_castsi512_si256(w));
                if (two)
                    _mm256_storeu_si256((__m256i *)(d1 + p * BG_MR),
                                        _mm512_extracti64x4_epi64(w, 1));
            }
        }
    }
}

void lm_bgemm_pack_a_avx512(const bg_job *j, size_t lo, size_t hi)
{
    size_t K = j->K, KP = j->KP, lda = j->lda;
    if (j->ta) {
        pack_a_t(j, lo, hi);
        return;
    }
    for (size_t i = lo; i < hi; i++) {
        uint32_t *dst = j->pa + i * BG_MR * KP;
        size_t r0 = i * BG_MR, rows = min_sz(BG_MR, j->M - r0);
        /* Rows of A are contiguous in k: each row of the panel packs on its own. */
        for (size_t r = 0; r < BG_MR; r++) {
            uint32_t *d = dst + r * KP;
            if (r >= rows) {
                memset(d, 0, KP * sizeof *d);
                continue;
            }
            const float *src = j->A + (r0 + r) * lda;
            for (size_t p = 0; p < KP; p += 16)
                _mm512_mask_storeu_epi32(d + p, lm_lanes16(KP - p),
                                         pairs32(src + 2 * p, min_sz(32, K - 2 * p)));
        }
    }
}


void lm_bgemm_pack_b_avx512(const bg_job *j, size_t lo, size_t hi)
{
    size_t K = j->K, KP = j->KP, ldb = j->ldb;
    /* Rows k and k+1 of B give pair p of the panel's columns. */
    for (size_t p0 = 0; !j->tb && p0 < KP; p0 += PB) {
        size_t p1 = min_sz(p0 + PB, KP);
        for (size_t jp = lo; jp < hi; jp++) {
            uint32_t *dst = j->pb + jp * BG_NR * KP;
            size_t c0 = jp * BG_NR, nc = min_sz(BG_NR, j->N - c0), w = (nc + 15) & ~(size_t)15;
            for (size_t p = p0; p < p1; p++) {
                const float *x = j->B + 2 * p * ldb + c0;
                bool odd = 2 * p + 1 < K;
                for (size_t v = 0; v < w; v += 16) {
                    __mmask16 m = lm_lanes16(nc - v);
                    __m512i a = round_hi(_mm512_maskz_loadu_ps(m, x + v));
                    __m512i b = odd ? round_hi(_mm512_maskz_loadu_ps(m, x + ldb + v))
                                    : _mm512_setzero_si512();
                    _mm512_storeu_si512(dst + p * w + v, join(a, b));
                }
            }
        }
    }
    for (size_t jp = lo; jp < hi; jp++) {
        uint32_t *dst = j->pb + jp * BG_NR * KP;
        size_t c0 = jp * BG_NR, nc = min_sz(BG_NR, j->N - c0), w = (nc + 15) & ~(size_t)15;
        if (!j->tb)
            continue; /* packed below, across the panels */
        /* op(B) = B^T, B (N, K): column c of the panel is row c0 + c of B, contiguous in k;
         * 16 columns x 16 pairs at a time, transposed in registers. */
        for (size_t v = 0; v < w; v += 16) {
            size_t cols = min_sz(16, nc - v);
            const float *src = j->B + (c0 + v) * ldb;
            for (size_t p = 0; p < KP; p += 16) {
                __m512i r[16];
                size_t n = min_sz(32, K - 2 * p);
                if (cols == 16 && n == 32) {
#pragma GCC unroll 16
                    for (size_t c = 0; c < 16; c++)
                        r[c] = pairs32_full(src + c * ldb + 2 * p);
                } else {
#pragma GCC unroll 16
                    for (size_t c = 0; c < 16; c++)
                        r[c] =
                            c < cols ? pairs32(src + c * ldb + 2 * p, n) : _mm512_setzero_si512();
                }
                lm_transpose16(r);
                uint32_t *d = dst + p * w + v;
                if (KP - p >= 16) {
#pragma GCC unroll 16
                    for (size_t q = 0; q < 16; q++)
                        _mm512_storeu_si512(d + q * w, r[q]);
                } else {
#pragma GCC unroll 16
                    for (size_t q = 0; q < 16; q++)
                        if (q < KP - p)
                            _mm512_storeu_si512(d + q * w, r[q]);
                }
            }
        }
    }
}

/* ---- the micro-kernel --------------------------------------------------------------------- */

/* C (mr, nc) = alpha * A-panel B-panel over kp pairs + beta C (beta 0: C is not read). a: the
 * panel's words at r * rs + p * ps; b: the B panel's nv vectors of 16 words for pair p at
 * p * w + v * vs (vs = 16 in a panel of lm_bgemm's, KP * 16 in a grouped one). */
static inline __attribute__((always_inline)) void tile(const int mr, const int nv, size_t kp,
                                                       const uint32_t *a, size_t rs, size_t ps,
                                                       const uint32_t *b, size_t w, size_t vs,
                                                       float *C, size_t ldc, size_t nc, float alpha,
                                                       float beta)
{
    __m512 acc[BG_MR][3];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            acc[r][v] = _mm512_setzero_ps();
    const uint32_t *ar[BG_MR];
#pragma GCC unroll 8
    for (int r = 0; r < mr; r++)
        ar[r] = a + (size_t)r * rs;
    for (size_t p = 0; p < kp; p++) {
        __m512bh bv[3];
#pragma GCC unroll 3
        for (int v = 0; v < nv; v++)
            bv[v] = (__m512bh)_mm512_loadu_si512(b + p * w + vs * v);
#pragma GCC unroll 8
        for (int r = 0; r < mr; r++) {
            __m512bh x = (__m512bh)_mm512_set1_epi32((int)ar[r][p * ps]);
#pragma GCC unroll 3
            for (int v = 0; v < nv; v++)
                acc[r][v] = _mm512_dpbf16_ps(acc[r][v], x, bv[v]);
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
 * registers. */
static void tile_any(int mr, int nv, size_t kp, const uint32_t *a, size_t rs, size_t ps,
                     const uint32_t *b, size_t w, size_t vs, float *C, size_t ldc, size_t nc,
                     float alpha, float beta)
{
#define BG_CASE(m, n)                                                                              \
    case (m) * 4 + (n):                                                                            \
        tile(m, n, kp, a, rs, ps, b, w, vs, C, ldc, nc, alpha, beta);                              \
        return;
#define BG_ROW(m) BG_CASE(m, 1) BG_CASE(m, 2) BG_CASE(m, 3)
    switch (mr * 4 + nv) {
        BG_ROW(1)
        BG_ROW(2)
        BG_ROW(3)
        BG_ROW(4)
        BG_ROW(5)
        BG_ROW(6)
        BG_ROW(7)
        BG_ROW(8)
    default:
        break;
    }
#undef BG_ROW
#undef BG_CASE
}

/* Blocks of the C part that stay in the L2 cache while K runs through: BG_MCP A panels by
 * NCP B panels. */
#define NCP 8

void lm_bgemm_tiles_avx512(const bg_job *j, size_t ilo, size_t ihi, size_t jlo, size_t jhi)
{
    size_t KP = j->KP, M = j->M, N = j->N, ldc = j->ldc;
    size_t rs = j->ta ? 1 : KP, ps = j->ta ? BG_MR : 1;
    for (size_t jb = jlo; jb < jhi; jb += NCP) {
        size_t je = min_sz(jb + NCP, jhi);
        for (size_t ib = ilo; ib < ihi; ib += BG_MCP) {
            size_t ie = min_sz(ib + BG_MCP, ihi);
            for (size_t p0 = 0; p0 < KP; p0 += BG_KCP) {
                size_t kp = min_sz(BG_KCP, KP - p0);
                float beta = p0 == 0 ? j->beta : 1.0f;
                for (size_t jp = jb; jp < je; jp++) {
                    size_t c0 = jp * BG_NR, nc = min_sz(BG_NR, N - c0);
                    size_t nv = (nc + 15) / 16, w = j->grouped ? 16 : 16 * nv;
                    size_t vs = j->grouped ? 16 * KP : 16;
                    const uint32_t *b = j->pb + jp * BG_NR * KP + p0 * w;
                    for (size_t ip = ib; ip < ie; ip++) {
                        size_t r0 = ip * BG_MR;
                        const uint32_t *a = j->pa + ip * BG_MR * KP + p0 * ps;
                        tile_any((int)min_sz(BG_MR, M - r0), (int)nv, kp, a, rs, ps, b, w, vs,
                                 j->C + r0 * ldc + c0, ldc, nc, j->alpha, beta);
                    }
                }
            }
        }
    }
}
#endif
