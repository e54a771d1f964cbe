/* softmax.c - linear head with softmax cross-entropy in row chunks, and dropout. */
#include "nn/nn.h"

#include "base/fastmath.h"

#include <math.h>
#include <string.h>

/* Softmax of one row in place; returns log Z (with the max folded in). */
static double row_softmax(float *restrict z, size_t V)
{
    float mx = z[0];
#pragma omp simd reduction(max : mx)
    for (size_t j = 1; j < V; j++)
        mx = z[j] > mx ? z[j] : mx;
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < V; j++) {
        float e = lm_expf(z[j] - mx);
        z[j] = e;
        sum += e;
    }
    float inv = 1.0f / sum;
#pragma omp simd
    for (size_t j = 0; j < V; j++)
        z[j] *= inv;
    return (double)mx + log((double)sum);
}

double lm_log_softmax(const float *logits, size_t V, float *logp)
{
    float mx = logits[0];
    for (size_t j = 1; j < V; j++)
        mx = logits[j] > mx ? logits[j] : mx;
    double sum = 0;
    for (size_t j = 0; j < V; j++)
        sum += exp((double)logits[j] - mx);
    double lz = mx + log(sum);
    for (size_t j = 0; j < V; j++)
        logp[j] = (float)(logits[j] - lz);
    return lz;
}

void lm_softmax_ce(size_t N, size_t O, size_t V, const float *X, const float *W, const float *b,
                   const int32_t *y, float *scratch, size_t chunk, lm_ce_acc *acc, float scale,
                   float *dX, float *dW, float *db)
{
    for (size_t r0 = 0; r0 < N; r0 += chunk) {
        size_t R = N - r0 < chunk ? N - r0 : chunk;
        float *Z = scratch;
        for (size_t r = 0; r < R; r++)
            memcpy(Z + r * V, b, V * sizeof(float));
        lm_gemm(false, true, R, V, O, 1.0f, X + r0 * O, O, W, O, 1.0f, Z, V);
        for (size_t r = 0; r < R; r++) {
            float *z = Z + r * V;
            int32_t t = y[r0 + r];
            float zt = z[t];
            double lz = row_softmax(z, V);
            double nll = lz - zt;
            /* A probability that underflowed in float would make nll infinite: use the
             * log-domain value, which is exact. */
            acc->nll += nll;
            acc->n++;
            if (t != LM_TOK_UNK)
                acc->nll_known += nll;
            else
                acc->n_unk++;
            if (dX) {
                z[t] -= 1.0f;
#pragma omp simd
                for (size_t j = 0; j < V; j++)
                    z[j] *= scale;
            }
        }
        if (!dX)
            continue;
        /* dW (V, O) += dZ^T (V, R) X (R, O); db += column sums; dX = dZ W. */
        lm_gemm(true, false, V, O, R, 1.0f, Z, V, X + r0 * O, O, 1.0f, dW, O);
        for (size_t r = 0; r < R; r++) {
            const float *z = Z + r * V;
#pragma omp simd
            for (size_t j = 0; j < V; j++)
                db[j] += z[j];
        }
        lm_gemm(false, false, R, O, V, 1.0f, Z, V, W, O, 0.0f, dX + r0 * O, O);
    }
}

void lm_dropout_mask(float *mask, size_t n, float p, lm_rng *rng)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        mask[i] = lm_rng_uniform(rng) >= p ? keep : 0.0f;
}

void lm_mul(float *y, const float *x, const float *m, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * m[i];
}
