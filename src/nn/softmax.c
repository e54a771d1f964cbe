/* softmax.c - linear head with softmax cross-entropy in row chunks, and dropout. */
#include "nn/nn.h"

#include "base/fastmath.h"

#include <math.h>
#include <string.h>

/* One row of logits z (bias not yet added): adds b, and returns -log p(t). With grad, z becomes
 * the logit gradient scale * (softmax(z) - 1_t). Three passes over a row that stays in cache:
 * bias and max, exp and sum, scale. */
LM_HOT static double row_ce(float *restrict z, const float *restrict b, size_t V, int32_t t,
                            bool grad, float scale)
{
    float mx = -INFINITY;
    if (b) {
#pragma omp simd reduction(max : mx)
        for (size_t j = 0; j < V; j++) {
            float v = z[j] + b[j];
            z[j] = v;
            mx = v > mx ? v : mx;
        }
    } else {
#pragma omp simd reduction(max : mx)
        for (size_t j = 0; j < V; j++)
            mx = z[j] > mx ? z[j] : mx;
    }
    float zt = z[t];
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < V; j++) {
        float e = lm_expf(z[j] - mx);
        z[j] = e;
        sum += e;
    }
    /* A probability that underflowed in float would make nll infinite: use the log-domain
     * value, which is exact. */
    double nll = (double)mx + log((double)sum) - zt;
    if (grad) {
        float k = scale / sum;
#pragma omp simd
        for (size_t j = 0; j < V; j++)
            z[j] *= k;
        z[t] -= scale;
    }
    return nll;
}

double lm_softmax_ce_row(float *z, const float *b, size_t V, int32_t t, bool grad, float scale)
{
    return row_ce(z, b, V, t, grad, scale);
}

/* The exponentials in float (lm_expf: relative error below 2e-7; terms below e^-87 of the
 * largest, -inf included, count as e^-87, which no sum of fewer than 10^30 of them can
 * notice), summed in double. Vectorized: this is most of what generation does besides the
 * weights' products. */
LM_HOT double lm_logsumexp(const float *x, size_t n)
{
    float mx = -INFINITY;
#pragma omp simd reduction(max : mx)
    for (size_t j = 0; j < n; j++)
        mx = x[j] > mx ? x[j] : mx;
    if (mx == -INFINITY)
        return -INFINITY;
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < n; j++)
        sum += (double)lm_expf(x[j] - mx); /* a NaN stays NaN */
    return mx + log(sum);
}

double lm_log_softmax(const float *logits, size_t V, float *logp)
{
    double lz = lm_logsumexp(logits, V);
    for (size_t j = 0; j < V; j++)
        logp[j] = (float)(logits[j] - lz);
    return lz;
}

/* The rows of one chunk, split across the pool; each part sums its own loss. */
typedef struct ce_job {
    float *Z;
    const float *b;
    const int32_t *y;
    size_t R, V;
    bool grad;
    float scale;
    float *db;
    float *rows;
    lm_ce_acc part[LM_POOL_MAX];
} ce_job;

static void ce_rows(void *ctx, size_t part, size_t nparts)
{
    ce_job *j = ctx;
    size_t lo, hi;
    lm_pool_range(j->R, part, nparts, &lo, &hi);
    lm_ce_acc a = {0};
    for (size_t r = lo; r < hi; r++) {
        int32_t t = j->y[r];
        double nll = row_ce(j->Z + r * j->V, j->b, j->V, t, j->grad, j->scale);
        if (j->rows)
            j->rows[r] = (float)nll;
        a.nll += nll;
        a.n++;
        if (t != LM_TOK_UNK)
            a.nll_known += nll;
        else
            a.n_unk++;
    }
    j->part[part] = a;
}

/* db += column sums of Z, the columns split across the pool. */
LM_HOT static void ce_bias_grad(void *ctx, size_t part, size_t nparts)
{
    ce_job *j = ctx;
    size_t lo, hi;
    lm_pool_range(j->V, part, nparts, &lo, &hi);
    float *restrict db = j->db;
    for (size_t r = 0; r < j->R; r++) {
        const float *restrict z = j->Z + r * j->V;
#pragma omp simd
        for (size_t c = lo; c < hi; c++)
            db[c] += z[c];
    }
}

void lm_softmax_ce(size_t N, size_t O, size_t V, const float *X, const float *W, const float *b,
                   const int32_t *y, float *scratch, size_t chunk, lm_ce_acc *acc, float scale,
                   float *dX, float *dW, float *db)
{
    size_t parts = lm_pool_threads();
    for (size_t r0 = 0; r0 < N; r0 += chunk) {
        size_t R = N - r0 < chunk ? N - r0 : chunk;
        float *Z = scratch;
        lm_gemm_train(false, true, R, V, O, 1.0f, X + r0 * O, O, W, O, 0.0f, Z, V);
        ce_job j = {.Z = Z, .b = b, .y = y + r0, .R = R, .V = V, .grad = dX != NULL,
                    .scale = scale, .db = db, .rows = acc->rows ? acc->rows + r0 : NULL};
        size_t n = parts < R ? parts : R;
        lm_pool_run(n, ce_rows, &j);
        for (size_t i = 0; i < n; i++) {
            acc->nll += j.part[i].nll;
            acc->nll_known += j.part[i].nll_known;
            acc->n += j.part[i].n;
            acc->n_unk += j.part[i].n_unk;
        }
        if (!dX)
            continue;
        /* dW (V, O) += dZ^T (V, R) X (R, O); db += column sums; dX = dZ W. */
        lm_gemm_train(true, false, V, O, R, 1.0f, Z, V, X + r0 * O, O, 1.0f, dW, O);
        lm_pool_run(parts, ce_bias_grad, &j);
        lm_gemm_train(false, false, R, O, V, 1.0f, Z, V, W, O, 0.0f, dX + r0 * O, O);
    }
}

void lm_dropout_mask(float *mask, size_t n, float p, lm_rng *rng)
{
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++)
        mask[i] = lm_rng_uniform(rng) >= p ? keep : 0.0f;
}

void lm_locked_mask(float *mask, size_t T, size_t B, size_t d, float p, lm_rng *rng)
{
    lm_dropout_mask(mask, B * d, p, rng);
    for (size_t t = 1; t < T; t++)
        memcpy(mask + t * B * d, mask, B * d * sizeof(float));
}

void lm_mul(float *y, const float *x, const float *m, size_t n)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++)
        y[i] = x[i] * m[i];
}
