/* qgemv_avx2.c - the bf16 and q8 matrix-vector products for AVX2 with FMA and F16C: bf16
 * weights widened to float32 in registers (8 per instruction) and multiplied by x with FMA;
 * int8 weights against int8 activations in integer arithmetic. See qgemv.h. */
#include "base/qgemv.h"

#ifdef LM_QGEMV_X86
#pragma GCC target("avx2,fma,f16c")
#include <immintrin.h>

static inline float hsum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* 8 bfloat16 -> 8 float32: the 16 bits become the upper half. */
static inline __m256 bf16x8(const uint16_t *p)
{
    __m128i h = _mm_loadu_si128((const __m128i *)p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
}

void lm_qgemv_bf16_avx2(size_t r0, size_t r1, size_t cols, const uint16_t *w, const float *x,
                        float *y)
{
    for (size_t r = r0; r < r1; r++) {
        const uint16_t *wr = w + r * cols;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        size_t j = 0;
        for (; j + 32 <= cols; j += 32) {
            a0 = _mm256_fmadd_ps(bf16x8(wr + j), _mm256_loadu_ps(x + j), a0);
            a1 = _mm256_fmadd_ps(bf16x8(wr + j + 8), _mm256_loadu_ps(x + j + 8), a1);
            a2 = _mm256_fmadd_ps(bf16x8(wr + j + 16), _mm256_loadu_ps(x + j + 16), a2);
            a3 = _mm256_fmadd_ps(bf16x8(wr + j + 24), _mm256_loadu_ps(x + j + 24), a3);
        }
        for (; j + 8 <= cols; j += 8)
            a0 = _mm256_fmadd_ps(bf16x8(wr + j), _mm256_loadu_ps(x + j), a0);
        float s = hsum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; j < cols; j++)
            s += lm_bf16_to_float(wr[j]) * x[j];
        y[r] += s;
    }
}

/* Blocks of 32: |q| times x with q's sign (ggml's trick, as maddubs multiplies unsigned by
 * signed bytes; |q|, |x| <= 127 keeps the pair sums below 2^15), pairs of pairs summed to 8
 * int32, converted and scaled by d e into the float accumulator. */
void lm_qgemv_q8_avx2(size_t r0, size_t r1, size_t cols, const int8_t *q, const uint16_t *d,
                      const int8_t *xq, const float *xe, float *y)
{
    size_t nb = lm_qmat_blocks(cols), full = cols / LM_Q8_BLOCK;
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t r = r0; r < r1; r++) {
        const int8_t *qr = q + r * cols;
        const uint16_t *dr = d + r * nb;
        /* Two accumulators (even and odd blocks) to overlap the FMA latency. */
        __m256 acc[2] = {_mm256_setzero_ps(), _mm256_setzero_ps()};
        for (size_t b = 0; b < full; b++) {
            __m256i w = _mm256_loadu_si256((const __m256i *)(qr + b * LM_Q8_BLOCK));
            __m256i v = _mm256_loadu_si256((const __m256i *)(xq + b * LM_Q8_BLOCK));
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(w, w), _mm256_sign_epi8(v, w));
            __m256 s = _mm256_cvtepi32_ps(_mm256_madd_epi16(p, ones));
            __m256 de = _mm256_set1_ps(_cvtsh_ss(dr[b]) * xe[b]);
            acc[b & 1] = _mm256_fmadd_ps(de, s, acc[b & 1]);
        }
        float s = hsum(_mm256_add_ps(acc[0], acc[1]));
        if (full < nb) {
            size_t j0 = full * LM_Q8_BLOCK;
            int32_t t = lm_q8_dot(qr + j0, xq + j0, cols - j0);
            s += (float)t * (_cvtsh_ss(dr[full]) * xe[full]);
        }
        y[r] += s;
    }
}
#endif
