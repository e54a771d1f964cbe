/* qgemv_avx512.c - the bf16 and q8 matrix-vector products for AVX-512F: weights widened to
 * float32 in registers (16 per instruction), multiplied by x with FMA. See qgemv.h.
 *
 * The AVX-512 BF16 dot product (vdpbf16ps) and VNNI (vpdpbusd) are not used: both need the
 * activations rounded to bf16 or int8 as well, and a batch-1 product is bound by the weight
 * stream, not by these instructions. */
#include "base/qgemv.h"

#ifdef LM_QGEMV_X86
#pragma GCC target("avx512f,avx2,fma,f16c")
#include <immintrin.h>

static inline __m512 bf16x16(const uint16_t *p)
{
    __m256i h = _mm256_loadu_si256((const __m256i *)p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
}

static inline __m512 i8x16(const int8_t *p)
{
    return _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)p)));
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

void lm_qgemv_q8_avx512(size_t r0, size_t r1, size_t cols, const int8_t *q, const uint16_t *d,
                        const float *x, float *y)
{
    size_t nb = lm_qmat_blocks(cols), full = cols / LM_Q8_BLOCK;
    for (size_t r = r0; r < r1; r++) {
        const int8_t *qr = q + r * cols;
        const uint16_t *dr = d + r * nb;
        __m512 acc[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        for (size_t b = 0; b < full; b++) {
            const int8_t *qb = qr + b * LM_Q8_BLOCK;
            const float *xb = x + b * LM_Q8_BLOCK;
            __m512 s0 = _mm512_mul_ps(i8x16(qb), _mm512_loadu_ps(xb));
            s0 = _mm512_fmadd_ps(i8x16(qb + 16), _mm512_loadu_ps(xb + 16), s0);
            acc[b & 1] = _mm512_fmadd_ps(_mm512_set1_ps(_cvtsh_ss(dr[b])), s0, acc[b & 1]);
        }
        float s = _mm512_reduce_add_ps(_mm512_add_ps(acc[0], acc[1]));
        if (full < nb) {
            float t = 0.0f;
            for (size_t j = full * LM_Q8_BLOCK; j < cols; j++)
                t += (float)qr[j] * x[j];
            s += _cvtsh_ss(dr[full]) * t;
        }
        y[r] += s;
    }
}
#endif
