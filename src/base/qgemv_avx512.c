/* qgemv_avx512.c - the bf16 and q8 matrix-vector products for AVX-512F: weights widened to
 * float32 in registers (16 per instruction), multiplied by x with FMA. See qgemv.h.
 * int8 weights against int8 activations with VNNI (vpdpbusd).
 *
 * The AVX-512 BF16 dot product (vdpbf16ps) is not used: it needs the activations rounded to
 * bf16 as well, and widening bf16 is a shift, so the bf16 product is bound by the weight
 * stream, not by its arithmetic. */
#include "base/qgemv.h"

#ifdef LM_QGEMV_X86
#pragma GCC target("avx512f,avx2,fma,f16c")
#include <immintrin.h>
#include <string.h>

#ifndef QG_PF /* bytes */
#define QG_PF 2048
#endif

static inline __m512 bf16x16(const uint16_t *p)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

void lm_qgemv_bf16_avx512(size_t r0, size_t r1, size_t cols, const uint16_t *w, const float *x,
                          float *y)
{
    for (size_t r = r0; r < r1; r++) {
        const uint16_t *wr = w + r * cols;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        size_t j = 0;
        for (; j + 64 <= cols; j += 64) {
            a0 = _mm512_fmadd_ps(bf16x16(wr + j), _mm512_loadu_ps(x + j), a0);
            a1 = _mm512_fmadd_ps(bf16x16(wr + j + 16), _mm512_loadu_ps(x + j + 16), a1);
            a2 = _mm512_fmadd_ps(bf16x16(wr + j + 32), _mm512_loadu_ps(x + j + 32), a2);
            a3 = _mm512_fmadd_ps(bf16x16(wr + j + 48), _mm512_loadu_ps(x + j + 48), a3);
        }
        for (; j + 16 <= cols; j += 16)
            a0 = _mm512_fmadd_ps(bf16x16(wr + j), _mm512_loadu_ps(x + j), a0);
        float s = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
        for (; j < cols; j++)
            s += lm_bf16_to_float(wr[j]) * x[j];
        y[r] += s;
    }
}

/* The packed layout (lm_qmat pk) for 16 rows at once: each 64-byte vector holds two columns'
 * weights of the 16 rows, one 32-bit lane per row; a shift widens the even column's, a mask
 * the odd column's, and two FMAs with the two activations broadcast add them to the 16 rows'
 * sums: no widening shuffle and no horizontal sum per row. Four accumulators (two per
 * column parity) hide the FMA latency. The products are the row-major kernel's; only the
 * order of the sums differs. */
void lm_qgemv_bf16_avx512x16(size_t g0, size_t g1, size_t rows, size_t cols, const uint8_t *pk,
                             const float *x, float *y)
{
    size_t P = (cols + 1) / 2, full = cols / 2;
    const __m512i hi = _mm512_set1_epi32((int)0xffff0000u);
    for (size_t g = g0; g < g1; g++) {
        const uint8_t *w = pk + g * P * 64;
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        size_t p = 0;
        for (; p + 2 <= full; p += 2) {
            /* Software prefetch QG_PF bytes ahead (into the next groups, which follow this
             * one): bench/quant.sh measured the transformer's bf16 step 8% faster with it on
             * an Intel Xeon with the weights in the last-level cache. */
            _mm_prefetch((const char *)(w + p * 64 + QG_PF), _MM_HINT_T0);
            _mm_prefetch((const char *)(w + p * 64 + QG_PF + 64), _MM_HINT_T0);
            __m512i v0 = _mm512_load_si512(w + p * 64), v1 = _mm512_load_si512(w + p * 64 + 64);
            a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)),
                                 _mm512_set1_ps(x[2 * p]), a0);
            a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v0, hi)),
                                 _mm512_set1_ps(x[2 * p + 1]), a1);
            a2 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)),
                                 _mm512_set1_ps(x[2 * p + 2]), a2);
            a3 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v1, hi)),
                                 _mm512_set1_ps(x[2 * p + 3]), a3);
        }
        for (; p < P; p++) {
            __m512i v0 = _mm512_load_si512(w + p * 64);
            a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)),
                                 _mm512_set1_ps(x[2 * p]), a0);
            if (2 * p + 1 < cols)
                a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v0, hi)),
                                     _mm512_set1_ps(x[2 * p + 1]), a1);
        }
        size_t r0 = 16 * g, n = rows - r0 < 16 ? rows - r0 : 16;
        __mmask16 m = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
        __m512 s = _mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3));
        _mm512_mask_storeu_ps(y + r0, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + r0), s));
    }
}

/* AVX-512 VNNI: vpdpbusd multiplies 64 unsigned by 64 signed bytes and adds each group of four
 * products to one of 16 int32 lanes; |q| and x with q's sign make the unsigned/signed pair.
 * One 64-byte load holds two blocks: lanes 0-7 sum block b, lanes 8-15 block b + 1, so their
 * scale vector is (d e)[b] x 8, (d e)[b + 1] x 8, permuted out of 16 block scales at once. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
void lm_qgemv_q8_vnni(size_t r0, size_t r1, size_t cols, const int8_t *q, const uint16_t *d,
                      const int8_t *xq, const float *xe, float *y)
{
    size_t nb = lm_qmat_blocks(cols), full = cols / LM_Q8_BLOCK;
    __m512i pick[8];
    for (int k = 0; k < 8; k++)
        pick[k] = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_set1_epi32(2 * k)),
                                     _mm256_set1_epi32(2 * k + 1), 1);
    const __m512i zero = _mm512_setzero_si512();
    for (size_t r = r0; r < r1; r++) {
        const int8_t *qr = q + r * cols;
        const uint16_t *dr = d + r * nb;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
        size_t b = 0;
        for (; b + 16 <= full; b += 16) {
            __m512 sc = _mm512_mul_ps(
                _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(dr + b))),
                _mm512_loadu_ps(xe + b));
            for (int k = 0; k < 8; k += 2) {
                const int8_t *qb = qr + (b + 2 * k) * LM_Q8_BLOCK;
                const int8_t *xb = xq + (b + 2 * k) * LM_Q8_BLOCK;
                __m512i w0 = _mm512_loadu_si512(qb), w1 = _mm512_loadu_si512(qb + 64);
                __m512i v0 = _mm512_loadu_si512(xb), v1 = _mm512_loadu_si512(xb + 64);
                v0 = _mm512_mask_sub_epi8(v0, _mm512_movepi8_mask(w0), zero, v0);
                v1 = _mm512_mask_sub_epi8(v1, _mm512_movepi8_mask(w1), zero, v1);
                __m512i s0 = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(w0), v0);
                __m512i s1 = _mm512_dpbusd_epi32(zero, _mm512_abs_epi8(w1), v1);
                acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0),
                                       _mm512_permutexvar_ps(pick[k], sc), acc0);
                acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1),
                                       _mm512_permutexvar_ps(pick[k + 1], sc), acc1);
            }
        }
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc0, acc1));
        /* The whole blocks after the last group of 16, one 32-byte product each. */
        for (; b < full; b++) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(qr + b * LM_Q8_BLOCK));
            __m256i v = _mm256_loadu_si256((const __m256i *)(xq + b * LM_Q8_BLOCK));
            v = _mm256_mask_sub_epi8(v, _mm256_movepi8_mask(w), _mm256_setzero_si256(), v);
            __m256i t = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(w), v);
            __m128i h = _mm_add_epi32(_mm256_castsi256_si128(t), _mm256_extracti128_si256(t, 1));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0x4e));
            h = _mm_add_epi32(h, _mm_shuffle_epi32(h, 0xb1));
            s += (float)_mm_cvtsi128_si32(h) * (_cvtsh_ss(dr[b]) * xe[b]);
        }
        if (full < nb) {
            size_t j0 = full * LM_Q8_BLOCK;
            int32_t t = lm_q8_dot(qr + j0, xq + j0, cols - j0);
            s += (float)t * (_cvtsh_ss(dr[full]) * xe[full]);
        }
        y[r] += s;
    }
}
/* The packed layout (lm_qmat pk): for 16 rows at once, block by block, vpdpbusd multiplies the
 * 64 unsigned bytes w + 128 (4 consecutive weights of each of the 16 rows) by 4 activations
 * broadcast to every lane and adds each row's four products to its lane: 8 instructions sum a
 * block for 16 rows, and the +128 adds 128 x the block's sum of x, subtracted up front. Then
 * one conversion and one multiply-add scale the 16 sums. */
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c"))) static inline __m512i
quad(const int8_t *p)
{
    int32_t v;
    memcpy(&v, p, sizeof v);
    return _mm512_set1_epi32(v);
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni,avx2,fma,f16c")))
void lm_qgemv_q8_vnni16(size_t g0, size_t g1, size_t rows, size_t cols, const uint8_t *pk,
                        const uint16_t *pd, const int8_t *xq, const float *xe, const int32_t *xs,
                        float *y)
{
    size_t nb = lm_qmat_blocks(cols);
    for (size_t g = g0; g < g1; g++) {
        const uint8_t *w = pk + g * nb * 512;
        const uint16_t *d = pd + g * nb * 16;
        __m512 acc0 = _mm512_setzero_ps(), acc1 = acc0;
        size_t b = 0;
        for (; b + 2 <= nb; b += 2) {
            const int8_t *x0 = xq + b * LM_Q8_BLOCK, *x1 = x0 + LM_Q8_BLOCK;
            __m512i s0 = _mm512_set1_epi32(-xs[b]), s1 = _mm512_set1_epi32(-xs[b + 1]);
            const uint8_t *w0 = w + b * 512, *w1 = w0 + 512;
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++) {
                s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(w0 + 64 * t),
                                         quad(x0 + 4 * t));
                s1 = _mm512_dpbusd_epi32(s1, _mm512_loadu_si512(w1 + 64 * t),
                                         quad(x1 + 4 * t));
            }
            __m512 d0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d + b * 16)));
            __m512 d1 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d + b * 16 + 16)));
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(d0, _mm512_set1_ps(xe[b])),
                                   acc0);
            acc1 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s1),
                                   _mm512_mul_ps(d1, _mm512_set1_ps(xe[b + 1])), acc1);
        }
        for (; b < nb; b++) {
            const int8_t *x0 = xq + b * LM_Q8_BLOCK;
            __m512i s0 = _mm512_set1_epi32(-xs[b]);
#pragma GCC unroll 8
            for (int t = 0; t < 8; t++)
                s0 = _mm512_dpbusd_epi32(s0, _mm512_loadu_si512(w + b * 512 + 64 * t),
                                         quad(x0 + 4 * t));
            __m512 d0 = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(d + b * 16)));
            acc0 = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s0), _mm512_mul_ps(d0, _mm512_set1_ps(xe[b])),
                                   acc0);
        }
        size_t r0 = 16 * g, n = rows - r0 < 16 ? rows - r0 : 16;
        __mmask16 m = (__mmask16)(n >= 16 ? 0xffffu : (1u << n) - 1u);
        __m512 v = _mm512_add_ps(_mm512_maskz_loadu_ps(m, y + r0), _mm512_add_ps(acc0, acc1));
        _mm512_mask_storeu_ps(y + r0, m, v);
    }
}
#endif
