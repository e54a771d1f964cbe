/* optim.c - optimizers: single loops over the flat parameter, gradient and moment blocks, each
 * split into contiguous ranges across the pool. The gradient norm sums per-range partials in
 * range order, so a run is repeatable for a given thread count. */
#include "train/train.h"

#include <math.h>

/* Ranges are multiples of 16 floats so no two threads share a cache line. */
static void range(size_t n, size_t part, size_t nparts, size_t *lo, size_t *hi)
{
    size_t blocks = (n + 15) / 16, b0, b1;
    lm_pool_range(blocks, part, nparts, &b0, &b1);
    *lo = b0 * 16 < n ? b0 * 16 : n;
    *hi = b1 * 16 < n ? b1 * 16 : n;
}

/* Below this many floats one thread is faster than waking the pool. */
#define PAR_MIN 65536

static size_t parts_for(size_t n)
{
    return n < PAR_MIN ? 1 : lm_pool_threads();
}

typedef struct norm_job {
    const float *g;
    size_t n;
    double part[LM_POOL_MAX];
} norm_job;

static void norm_part(void *ctx, size_t part, size_t nparts)
{
    norm_job *j = ctx;
    size_t lo, hi;
    range(j->n, part, nparts, &lo, &hi);
    j->part[part] = lm_sumsq(j->g + lo, hi - lo);
}

double lm_grad_norm(const float *g, size_t n)
{
    norm_job j = {.g = g, .n = n};
    size_t np = parts_for(n);
    lm_pool_run(np, norm_part, &j);
    double s = 0;
    for (size_t i = 0; i < np; i++)
        s += j.part[i];
    return sqrt(s);
}

typedef struct step_job {
    float *p, *g, *m, *v;
    size_t n;
    float lr, b1, b2, eps, wd, gscale;
    uint64_t t;
} step_job;

LM_HOT static void sgd_part(void *ctx, size_t part, size_t nparts)
{
    const step_job *j = ctx;
    size_t lo, hi;
    range(j->n, part, nparts, &lo, &hi);
    float *restrict p = j->p, *restrict g = j->g;
    float lr = j->lr;
#pragma omp simd
    for (size_t i = lo; i < hi; i++) {
        p[i] -= lr * g[i];
        g[i] = 0.0f;
    }
}

void lm_sgd_step(float *restrict p, float *restrict g, size_t n, float lr)
{
    step_job j = {.p = p, .g = g, .n = n, .lr = lr};
    lm_pool_run(parts_for(n), sgd_part, &j);
}

LM_HOT static void adam_part(void *ctx, size_t part, size_t nparts)
{
    const step_job *j = ctx;
    size_t lo, hi;
    range(j->n, part, nparts, &lo, &hi);
    float *restrict p = j->p, *restrict g = j->g, *restrict m = j->m, *restrict v = j->v;
    float lr = j->lr, b1 = j->b1, b2 = j->b2, eps = j->eps, gscale = j->gscale;
    float c1 = 1.0f / (1.0f - powf(b1, (float)j->t));
    float c2 = 1.0f / (1.0f - powf(b2, (float)j->t));
    float decay = 1.0f - lr * j->wd;
#pragma omp simd
    for (size_t i = lo; i < hi; i++) {
        float gi = gscale * g[i];
        g[i] = 0.0f;
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = p[i] * decay - lr * (mi * c1) / (sqrtf(vi * c2) + eps);
    }
}

void lm_adam_step(float *restrict p, float *restrict g, float *restrict m, float *restrict v,
                  size_t n, float lr, float b1, float b2, float eps, float wd, uint64_t t,
                  float gscale)
{
    step_job j = {.p = p, .g = g, .m = m, .v = v, .n = n, .lr = lr, .b1 = b1, .b2 = b2,
                  .eps = eps, .wd = wd, .gscale = gscale, .t = t};
    lm_pool_run(parts_for(n), adam_part, &j);
}
