/* attention_avx512.c - the cached attention of one query (attention.h's lm_attn_cached) for
 * AVX-512F, for head widths that are multiples of 16 up to 128.
 *
 * Head by head: the query's hd floats stay in registers while each slot's key is multiplied
 * into one vector and summed across its lanes (the portable loop spilled each dot product to
 * the stack and added its 16 lanes one by one); the weighted values are summed in registers
 * over all slots, then stored once. */
#include "nn/attention.h"

#ifdef LM_X86_KERNELS
#pragma GCC target("avx512f,avx2,fma")
#include "base/fastmath.h"

#include <immintrin.h>
#include <math.h>

#define MAXV 8 /* vectors of 16 floats per head: hd <= 128 */

/* One head: query qh and keys/values at kh, vh (slot stride S), m slots, nv vectors per head;
 * inlined with nv a constant, so the query and the sums stay in registers. */
static inline __attribute__((always_inline)) void one_head(size_t nv, size_t S, size_t m,
                                                           float scale, const float *qh,
                                                           const float *kh, const float *vh,
                                                           float *sc, float *out)
{
    __m512 q[MAXV], o[MAXV];
#pragma GCC unroll 8
    for (size_t c = 0; c < nv; c++) {
        q[c] = _mm512_loadu_ps(qh + 16 * c);
        o[c] = _mm512_setzero_ps();
    }
    float mx = -INFINITY;
    for (size_t j = 0; j < m; j++, kh += S) {
        __m512 s = _mm512_mul_ps(q[0], _mm512_loadu_ps(kh));
#pragma GCC unroll 8
        for (size_t c = 1; c < nv; c++)
            s = _mm512_fmadd_ps(q[c], _mm512_loadu_ps(kh + 16 * c), s);
        sc[j] = _mm512_reduce_add_ps(s) * scale;
        mx = sc[j] > mx ? sc[j] : mx;
    }
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < m; j++) {
        sc[j] = lm_expf(sc[j] - mx);
        sum += sc[j];
    }
    for (size_t j = 0; j < m; j++, vh += S) {
        __m512 p = _mm512_set1_ps(sc[j]);
#pragma GCC unroll 8
        for (size_t c = 0; c < nv; c++)
            o[c] = _mm512_fmadd_ps(p, _mm512_loadu_ps(vh + 16 * c), o[c]);
    }
    __m512 inv = _mm512_set1_ps(1.0f / sum);
#pragma GCC unroll 8
    for (size_t c = 0; c < nv; c++)
        _mm512_storeu_ps(out + 16 * c, _mm512_mul_ps(o[c], inv));
}

void lm_attn_cached_avx512(size_t D, size_t H, size_t S, size_t n, const float *qkv,
                           const float *kv, float *sc, float *att, size_t h0, size_t h1)
{
    size_t hd = D / H, m = n + 1;
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t h = h0; h < h1; h++) {
        const float *qh = qkv + h * hd, *kh = kv + h * hd, *vh = kv + D + h * hd;
        float *out = att + h * hd, *sch = sc + h * m;
        switch (hd / 16) { /* hd is 16, 32, ... or 128 (attention.c) */
        case 1: one_head(1, S, m, scale, qh, kh, vh, sch, out); break;
        case 2: one_head(2, S, m, scale, qh, kh, vh, sch, out); break;
        case 3: one_head(3, S, m, scale, qh, kh, vh, sch, out); break;
        case 4: one_head(4, S, m, scale, qh, kh, vh, sch, out); break;
        case 5: one_head(5, S, m, scale, qh, kh, vh, sch, out); break;
        case 6: one_head(6, S, m, scale, qh, kh, vh, sch, out); break;
        case 7: one_head(7, S, m, scale, qh, kh, vh, sch, out); break;
        default: one_head(8, S, m, scale, qh, kh, vh, sch, out); break;
        }
    }
}
#endif
