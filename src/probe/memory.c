/* memory.c - context-usage probes (Khandelwal et al. 2018): the loss of the same targets when
 * a model sees only the last k tokens, or a context whose far part is shuffled.
 *
 * Every condition is scored in batches of targets fed as parallel streams through the model's
 * batched scoring (a neural model runs its window forward over all streams, recurrent models
 * in chunks of LM_PROBE_CHUNK steps with the state carried, a windowed model in one window,
 * and only the last step goes through the head). Any model kind can be probed. */
#include "probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void lm_context_opts_init(lm_context_opts *o)
{
    static const size_t ks[] = {1, 2, 5, 10, 20, 50, 100, 200, 500};
    static const size_t ms[] = {1, 2, 5, 10, 20, 50, 100, 200};
    memset(o, 0, sizeof *o);
    o->n_ks = sizeof ks / sizeof ks[0];
    memcpy(o->ks, ks, sizeof ks);
    o->n_ms = sizeof ms / sizeof ms[0];
    memcpy(o->ms, ms, sizeof ms);
    o->shuffle_context = 0;
    o->targets = 500;
    o->batch = 64;
    o->seed = 1;
    o->tolerance = 0.01;
}

size_t lm_context_effective(const size_t *ks, const double *loss, size_t n, double tol)
{
    for (size_t i = 0; i < n; i++) {
        double best = loss[i];
        for (size_t j = i + 1; j < n; j++)
            best = loss[j] < best ? loss[j] : best;
        if (loss[i] - best <= tol * fabs(best))
            return ks[i];
    }
    return n ? ks[n - 1] : 0;
}

static int check_list(const size_t *v, size_t n, size_t min_n, const char *what, lm_error *err)
{
    if (n < min_n || n > LM_PROBE_MAX_POINTS)
        return lm_fail(err, LM_EINVAL, "%s: %zu values, between %zu and %d allowed", what, n,
                       min_n, LM_PROBE_MAX_POINTS);
    for (size_t i = 0; i < n; i++)
        if (v[i] == 0 || (i > 0 && v[i] <= v[i - 1]))
            return lm_fail(err, LM_EINVAL, "%s must be positive and increasing", what);
    return LM_OK;
}
/* One probe run: the targets, the buffers of a batch and the progress count. */
typedef struct probe {
    const lm_model *m;
    const lm_context_opts *o;
    const int32_t *ids;
    const size_t *pos;         /* nt target positions */
    size_t nt, B, fed_max, Tc; /* batch, longest context fed, tokens per scoring window */
    int32_t *row, *bids;       /* a context being built; (fed_max + 1) * B scratch */
    float *lp;                 /* (fed_max + 1) * B scratch */
    lm_rng rng;
    size_t done, total;
} probe;

/* The mean -log p of the targets when each sees the k tokens before it, the first `far` of
 * them shuffled among themselves, and the model is fed the last len of them (each from a fresh
 * state, batches of B streams, only the last step scored). */
static int point(probe *p, size_t k, size_t far, size_t len, double *mean, lm_error *err)
{
    double sum = 0;
    for (size_t b0 = 0; b0 < p->nt; b0 += p->B) {
        size_t nb = p->nt - b0 < p->B ? p->nt - b0 : p->B;
        for (size_t b = 0; b < nb; b++) {
            size_t t = p->pos[b0 + b];
            memcpy(p->row, p->ids + t - k, k * sizeof(int32_t));
            for (size_t a = far; a > 1; a--) {
                size_t j = (size_t)(lm_rng_next(&p->rng) % a);
                int32_t tmp = p->row[a - 1];
                p->row[a - 1] = p->row[j];
                p->row[j] = tmp;
            }
            for (size_t i = 0; i < len; i++)
                p->bids[i * nb + b] = p->row[k - len + i];
            p->bids[len * nb + b] = p->ids[t];
        }
        int rc = lm_kind_score(p->m, p->bids, len + 1, nb, p->Tc, len, p->lp, err);
        if (rc)
            return rc;
        for (size_t b = 0; b < nb; b++)
            sum -= (double)p->lp[len * nb + b];
        if (p->o->progress)
            p->o->progress(p->o->progress_ud, ++p->done, p->total);
    }
    *mean = sum / (double)p->nt;
    return LM_OK;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

int lm_context_probe(const lm_model *m, const int32_t *ids, size_t n, const lm_context_opts *o,
                     lm_context_result *res, lm_error *err)
{
    int rc;
    if ((rc = check_list(o->ks, o->n_ks, 1, "context lengths", err)) ||
        (rc = check_list(o->ms, o->n_ms, 0, "shuffle distances", err)))
        return rc;
    if (o->targets == 0 || o->batch == 0)
        return lm_fail(err, LM_EINVAL, "targets and batch must be positive");
    if (!(o->tolerance >= 0))
        return lm_fail(err, LM_EINVAL, "tolerance must be >= 0");
    size_t kmax = o->ks[o->n_ks - 1];
    size_t K = o->shuffle_context ? o->shuffle_context : kmax;
    size_t need = o->n_ms && K > kmax ? K : kmax;
    if (n <= need)
        return lm_fail(err, LM_EINVAL,
                       "the text has %zu tokens; the probe needs more than the largest context "
                       "(%zu)", n, need);
    size_t V = lm_vocab_size(lm_model_vocab(m));
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V)
            return lm_fail(err, LM_EMISMATCH, "token id %d outside the model's vocabulary",
                           (int)ids[i]);
    memset(res, 0, sizeof *res);
    size_t W = lm_model_context(m);
    size_t fed_max = W && W < need ? W : need;
    size_t Tc = W ? fed_max : (fed_max < LM_PROBE_CHUNK ? fed_max : LM_PROBE_CHUNK);
    size_t B = o->batch;
    /* Targets: a uniform sample without replacement of the positions after `need`, sorted. */
    size_t span = n - need, nt = o->targets < span ? o->targets : span;
    size_t *pos = malloc(span * sizeof *pos);
    probe p = {.m = m, .o = o, .ids = ids, .pos = pos, .nt = nt, .B = B, .fed_max = fed_max,
               .Tc = Tc};
    p.row = malloc((K > need ? K : need) * sizeof *p.row);
    p.bids = malloc((fed_max + 1) * B * sizeof *p.bids);
    p.lp = malloc((fed_max + 1) * B * sizeof *p.lp);
    if (!pos || !p.row || !p.bids || !p.lp) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    lm_rng_seed(&p.rng, o->seed);
    for (size_t i = 0; i < span; i++)
        pos[i] = need + i;
    for (size_t i = 0; i < nt; i++) {
        size_t j = i + (size_t)(lm_rng_next(&p.rng) % (span - i));
        size_t t = pos[i];
        pos[i] = pos[j];
        pos[j] = t;
    }
    qsort(pos, nt, sizeof *pos, cmp_size);
    res->targets = nt;
    res->window = W;
    res->n_ks = o->n_ks;
    res->n_ms = o->n_ms;
    res->shuffle_context = o->n_ms ? K : 0;
    p.total = (nt + B - 1) / B * (o->n_ks + (o->n_ms ? o->n_ms + 1 : 0));
    /* The context curve: the last k tokens (at most the window). */
    for (size_t i = 0; i < o->n_ks && !rc; i++) {
        size_t k = o->ks[i], len = W && W < k ? W : k;
        res->ks[i] = k;
        res->seen[i] = len;
        rc = point(&p, len, 0, len, &res->loss[i], err);
    }
    res->effective = lm_context_effective(res->ks, res->loss, res->n_ks, o->tolerance);
    /* The shuffle curve: K tokens, those farther than m from the target permuted; the last
     * m == K condition (nothing shuffled) is the reference. */
    for (size_t i = 0; i <= o->n_ms && o->n_ms && !rc; i++) {
        size_t m_i = i < o->n_ms ? o->ms[i] : K, len = W && W < K ? W : K;
        if (i < o->n_ms) {
            res->ms[i] = m_i;
            rc = point(&p, K, m_i < K ? K - m_i : 0, len, &res->shuffled[i], err);
        } else
            rc = point(&p, K, 0, len, &res->loss_full, err);
    }
out:
    free(pos);
    free(p.row);
    free(p.bids);
    free(p.lp);
    return rc;
}
