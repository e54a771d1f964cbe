/* adaptive.c - the adaptive softmax head (Grave et al. 2017) in row chunks: the head over the
 * shortlist and the cluster logits for every row, then each tail cluster over the rows whose
 * targets fall in it, gathered into contiguous blocks so that every product is one GEMM. */
#include "nn/nn.h"

#include <math.h>
#include <string.h>

static size_t head_size(const lm_adaptive *a)
{
    return a->cut[0] + a->K;
}

/* The widest cluster and the widest tail projection. */
static void widest(const lm_adaptive *a, size_t *osz, size_t *dim)
{
    *osz = 0;
    *dim = 0;
    for (size_t i = 0; i < a->K; i++) {
        size_t o = a->cut[i + 1] - a->cut[i];
        *osz = o > *osz ? o : *osz;
        *dim = a->dim[i] > *dim ? a->dim[i] : *dim;
    }
}

/* Per row of a chunk: the logits (head or cluster, whichever is wider), the gathered input (D,
 * reused for its gradient), the projection and its gradient (d_max each). */
size_t lm_adaptive_row_floats(const lm_adaptive *a)
{
    size_t osz, dim, H = head_size(a);
    widest(a, &osz, &dim);
    return (H > osz ? H : osz) + a->D + 2 * dim;
}

/* The cluster of id y (-1 for the shortlist). */
static int cluster_of(const lm_adaptive *a, int32_t y)
{
    if ((size_t)y < a->cut[0])
        return -1;
    size_t i = 0;
    while ((size_t)y >= a->cut[i + 1])
        i++;
    return (int)i;
}

/* Rows of logits Z (R, V) split across the pool: the head rows (targets from y: the shortlist
 * id or the cluster's logit; <unk> targets counted apart) or one cluster's gathered rows
 * (targets y[rows[r]] - lo). Each row's -log p goes to out[r] (head) or is added to
 * out[rows[r]] (cluster) when out is not NULL. */
typedef struct ad_job {
    const lm_adaptive *a;
    float *Z;
    const float *b;
    const int32_t *y, *rows;
    size_t R, V, lo;
    bool grad, head;
    float scale;
    float *out;
    float *db; /* head: db += column sums of Z (the bias gradient) */
    lm_ce_acc part[LM_POOL_MAX];
} ad_job;

static void ad_rows(void *ctx, size_t part, size_t nparts)
{
    ad_job *j = ctx;
    size_t lo, hi;
    lm_pool_range(j->R, part, nparts, &lo, &hi);
    lm_ce_acc acc = {0};
    for (size_t r = lo; r < hi; r++) {
        int32_t y = j->head ? j->y[r] : j->y[j->rows[r]], t;
        if (j->head) {
            int c = cluster_of(j->a, y);
            t = c < 0 ? y : (int32_t)(j->a->cut[0] + (size_t)c);
        } else
            t = (int32_t)((size_t)y - j->lo);
        double nll = lm_softmax_ce_row(j->Z + r * j->V, j->b, j->V, t, j->grad, j->scale);
        acc.nll += nll;
        if (j->head) {
            acc.n++;
            if (y != LM_TOK_UNK)
                acc.nll_known += nll;
            else
                acc.n_unk++;
            if (j->out)
                j->out[r] = (float)nll;
        } else {
            acc.nll_known += nll;
            if (j->out)
                j->out[j->rows[r]] += (float)nll;
        }
    }
    j->part[part] = acc;
}

static void ad_bias_grad(void *ctx, size_t part, size_t nparts)
{
    ad_job *j = ctx;
    size_t lo, hi;
    lm_pool_range(j->V, part, nparts, &lo, &hi);
    for (size_t r = 0; r < j->R; r++) {
        const float *z = j->Z + r * j->V;
        for (size_t c = lo; c < hi; c++)
            j->db[c] += z[c];
    }
}

/* Runs the job over its rows and adds the parts to acc (the rows' count only for the head). */
static void run_rows(ad_job *j, lm_ce_acc *acc)
{
    size_t parts = lm_pool_threads(), n = parts < j->R ? parts : j->R;
    if (!n)
        return;
    lm_pool_run(n, ad_rows, j);
    for (size_t i = 0; i < n; i++) {
        acc->nll += j->part[i].nll;
        acc->nll_known += j->part[i].nll_known;
        acc->n += j->part[i].n;
        acc->n_unk += j->part[i].n_unk;
    }
}

void lm_adaptive_ce(const lm_adaptive *a, size_t N, const float *X, const int32_t *y,
                    float *scratch, int32_t *rows, size_t chunk, lm_ce_acc *acc, float scale,
                    float *dX, const lm_adaptive_grads *g)
{
    LM_ASSERT(a->K >= 1 && a->K <= LM_ADAPTIVE_MAX && a->cut[a->K] == a->V);
    size_t D = a->D, H = head_size(a), osz, dim;
    widest(a, &osz, &dim);
    size_t zw = H > osz ? H : osz;
    bool grad = dX != NULL;
    for (size_t r0 = 0; r0 < N; r0 += chunk) {
        size_t R = N - r0 < chunk ? N - r0 : chunk;
        const float *Xc = X + r0 * D;
        const int32_t *yc = y + r0;
        float *Z = scratch, *Xg = Z + R * zw, *P = Xg + R * D, *dP = P + R * dim;
        float *dXc = grad ? dX + r0 * D : NULL;
        /* The head over every row. */
        lm_gemm_train(false, true, R, H, D, 1.0f, Xc, D, a->W, D, 0.0f, Z, H);
        ad_job j = {.a = a, .Z = Z, .b = a->b, .y = yc, .R = R, .V = H, .grad = grad,
                    .head = true, .scale = scale, .out = acc->rows ? acc->rows + r0 : NULL,
                    .db = grad ? g->b : NULL};
        run_rows(&j, acc);
        if (grad) {
            /* dW (H, D) += dZ^T X; db += column sums; dX = dZ W. */
            lm_gemm_train(true, false, H, D, R, 1.0f, Z, H, Xc, D, 1.0f, g->W, D);
            lm_pool_run(lm_pool_threads(), ad_bias_grad, &j);
            lm_gemm_train(false, false, R, D, H, 1.0f, Z, H, a->W, D, 0.0f, dXc, D);
        }
        /* Each tail cluster over the rows whose targets fall in it. */
        for (size_t i = 0; i < a->K; i++) {
            size_t lo = a->cut[i], hi = a->cut[i + 1], O = hi - lo, d = a->dim[i], m = 0;
            for (size_t r = 0; r < R; r++)
                if ((size_t)yc[r] >= lo && (size_t)yc[r] < hi)
                    rows[m++] = (int32_t)r;
            if (!m)
                continue;
            for (size_t k = 0; k < m; k++)
                memcpy(Xg + k * D, Xc + (size_t)rows[k] * D, D * sizeof(float));
            /* P (m, d) = Xg proj^T; Z (m, O) = P out^T. */
            lm_gemm_train(false, true, m, d, D, 1.0f, Xg, D, a->proj[i], D, 0.0f, P, d);
            lm_gemm_train(false, true, m, O, d, 1.0f, P, d, a->out[i], d, 0.0f, Z, O);
            ad_job t = {.a = a, .Z = Z, .y = yc, .rows = rows, .R = m, .V = O, .lo = lo,
                        .grad = grad, .scale = scale, .out = j.out};
            run_rows(&t, acc);
            if (!grad)
                continue;
            /* d out (O, d) += dZ^T P; dP = dZ out; d proj (d, D) += dP^T Xg; dXg = dP proj,
             * added to the rows it came from. */
            lm_gemm_train(true, false, O, d, m, 1.0f, Z, O, P, d, 1.0f, g->out[i], d);
            lm_gemm_train(false, false, m, d, O, 1.0f, Z, O, a->out[i], d, 0.0f, dP, d);
            lm_gemm_train(true, false, d, D, m, 1.0f, dP, d, Xg, D, 1.0f, g->proj[i], D);
            lm_gemm_train(false, false, m, D, d, 1.0f, dP, d, a->proj[i], D, 0.0f, Xg, D);
            for (size_t k = 0; k < m; k++)
                lm_axpy(D, 1.0f, Xg + k * D, dXc + (size_t)rows[k] * D);
        }
    }
}

void lm_adaptive_normalize(const lm_adaptive *a, const float *z, float *logp)
{
    size_t c0 = a->cut[0];
    double lz = lm_logsumexp(z, head_size(a));
    for (size_t j = 0; j < c0; j++)
        logp[j] = (float)(z[j] - lz);
    for (size_t i = 0; i < a->K; i++) {
        float *row = logp + a->cut[i];
        size_t O = a->cut[i + 1] - a->cut[i];
        /* log p(cluster) - log Z(cluster), in double. */
        double shift = (double)z[c0 + i] - lz - lm_logsumexp(row, O);
        for (size_t j = 0; j < O; j++)
            row[j] = (float)(row[j] + shift);
    }
}

void lm_adaptive_logprobs(const lm_adaptive *a, const float *x, float *scratch, float *logp)
{
    size_t D = a->D, H = head_size(a);
    float *z = scratch, *p = scratch + H;
    memcpy(z, a->b, H * sizeof(float));
    lm_gemv(false, H, D, 1.0f, a->W, x, 1.0f, z);
    for (size_t i = 0; i < a->K; i++) {
        size_t O = a->cut[i + 1] - a->cut[i], d = a->dim[i];
        lm_gemv(false, d, D, 1.0f, a->proj[i], x, 0.0f, p);
        lm_gemv(false, O, d, 1.0f, a->out[i], p, 0.0f, logp + a->cut[i]);
    }
    lm_adaptive_normalize(a, z, logp);
}
