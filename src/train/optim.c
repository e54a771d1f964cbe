/* optim.c - optimizers: single loops over the flat parameter, gradient and moment blocks. */
#include "train/train.h"

#include <math.h>

double lm_grad_norm(const float *g, size_t n)
{
    return sqrt(lm_sumsq(g, n));
}

void lm_sgd_step(float *restrict p, float *restrict g, size_t n, float lr)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        p[i] -= lr * g[i];
        g[i] = 0.0f;
    }
}

void lm_adam_step(float *restrict p, float *restrict g, float *restrict m,
                  float *restrict v, size_t n, float lr, float b1, float b2, float eps, float wd,
                  uint64_t t, float gscale)
{
    float c1 = 1.0f / (1.0f - powf(b1, (float)t));
    float c2 = 1.0f / (1.0f - powf(b2, (float)t));
    float decay = 1.0f - lr * wd;
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float gi = gscale * g[i];
        g[i] = 0.0f;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - lr * (mi * c1) / (sqrtf(vi * c2) + eps);
    }
}
