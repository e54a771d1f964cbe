/* layernorm.c - LayerNorm over the last dimension, shared by RWKV and the transformer. */
#include "nn/nn.h"

#include <math.h>

void lm_layernorm_forward(size_t N, size_t d, const float *restrict x, const float *restrict w,
                          const float *restrict b, float *restrict y, float *restrict mean,
                          float *restrict rstd)
{
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * d;
        double s = 0;
        for (size_t j = 0; j < d; j++)
            s += xr[j];
        double m = s / (double)d, v = 0;
        for (size_t j = 0; j < d; j++)
            v += ((double)xr[j] - m) * ((double)xr[j] - m);
        float mf = (float)m, rf = (float)(1.0 / sqrt(v / (double)d + LM_LN_EPS));
        float *yr = y + r * d;
#pragma omp simd
        for (size_t j = 0; j < d; j++)
            yr[j] = (xr[j] - mf) * rf * w[j] + b[j];
        if (mean) {
            mean[r] = mf;
            rstd[r] = rf;
        }
    }
}

void lm_layernorm_backward(size_t N, size_t d, const float *restrict x, const float *restrict w,
                           const float *restrict mean, const float *restrict rstd,
                           const float *restrict dy, float *restrict dx, float *restrict dw,
                           float *restrict db)
{
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * d, *dr = dy + r * d;
        float m = mean[r], s = rstd[r];
        double s1 = 0, s2 = 0;
        for (size_t j = 0; j < d; j++) {
            float xh = (xr[j] - m) * s, dxh = dr[j] * w[j];
            s1 += dxh;
            s2 += (double)dxh * xh;
            dw[j] += dr[j] * xh;
            db[j] += dr[j];
        }
        float m1 = (float)(s1 / (double)d), m2 = (float)(s2 / (double)d);
        float *o = dx + r * d;
#pragma omp simd
        for (size_t j = 0; j < d; j++) {
            float xh = (xr[j] - m) * s;
            o[j] += s * (dr[j] * w[j] - m1 - xh * m2);
        }
    }
}
