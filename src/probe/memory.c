/* memory.c - context-usage probes (Khandelwal et al. 2018): the loss of the same targets when
 * a model sees only the last k tokens, or a context whose far part is shuffled.
 *
 * Every condition is scored in batches of targets fed as parallel streams: the contexts of a
 * batch go through the architecture's window forward (GEMMs over all streams; recurrent
 * models in chunks of LM_PROBE_CHUNK steps with the state carried, the transformer in one
 * window), and only the last step's logits are computed. */
#include "probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Largest workspace the probe allocates for one batch; the batch shrinks to fit. */
#define PROBE_WS_BYTES ((size_t)256 << 20)

size_t lm_probe_window(const lm_model *m)
{
    return !strcmp(m->cfg.arch, "transformer") ? m->cfg.context : 0;
}

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

/* Buffers for scoring batches of up to B streams whose contexts are fed Tc steps at a time. */
typedef struct probe {
    const lm_model *m;
    size_t B, Tc, E, O, V, row; /* row: ints per context row */
    float *X, *Y, *ws, *state, *logits;
    int32_t *ctx, *tgt;
} probe;

static void probe_free(probe *p)
{
    lm_free(p->X);
    lm_free(p->Y);
    lm_free(p->ws);
    lm_free(p->state);
    lm_free(p->logits);
    free(p->ctx);
    free(p->tgt);
}

static int probe_init(probe *p, const lm_model *m, size_t B, size_t Tc, size_t row,
                      lm_error *err)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->E = m->cfg.embed;
    p->O = m->arch->out_dim(&m->cfg);
    p->V = m->cfg.vocab;
    p->Tc = Tc;
    p->row = row;
    while (B > 1 && m->arch->ws_floats(&m->cfg, Tc, B) * sizeof(float) > PROBE_WS_BYTES)
        B /= 2;
    p->B = B;
    p->X = lm_alloc_floats(Tc * B * p->E);
    p->Y = lm_alloc_floats(Tc * B * p->O);
    p->ws = lm_alloc_floats(m->arch->ws_floats(&m->cfg, Tc, B));
    p->state = lm_alloc_floats(m->arch->state_floats(&m->cfg, B, 0));
    p->logits = lm_alloc_floats(B * p->V);
    p->ctx = malloc(B * row * sizeof *p->ctx);
    p->tgt = malloc(B * sizeof *p->tgt);
    if (!p->X || !p->Y || !p->ws || !p->state || !p->logits || !p->ctx || !p->tgt) {
        probe_free(p);
        return lm_fail(err, LM_ENOMEM, "out of memory for the context probe (batch %zu)", B);
    }
    return LM_OK;
}

/* Feeds the nb contexts p->ctx (row b: len tokens) from a reset state and returns the summed
 * -log p of the targets p->tgt after them. */
static double score_batch(probe *p, size_t nb, size_t len)
{
    const lm_model *m = p->m;
    size_t E = p->E, O = p->O, V = p->V, T = 0;
    const float *emb = lm_tensor(m, m->params, m->i_emb);
    m->arch->state_reset(&m->cfg, p->state, nb);
    for (size_t s = 0; s < len; s += T) {
        T = len - s < p->Tc ? len - s : p->Tc;
        for (size_t t = 0; t < T; t++)
            for (size_t b = 0; b < nb; b++)
                memcpy(p->X + (t * nb + b) * E, emb + (size_t)p->ctx[b * p->row + s + t] * E,
                       E * sizeof(float));
        m->arch->forward(m, p->ws, p->X, p->Y, p->state, s, T, nb, 0, NULL);
    }
    const float *last = p->Y + (T - 1) * nb * O;
    const float *bias = lm_tensor(m, m->params, m->i_head_b);
    for (size_t b = 0; b < nb; b++)
        memcpy(p->logits + b * V, bias, V * sizeof(float));
    lm_gemm(false, true, nb, V, O, 1.0f, last, O, lm_tensor(m, m->params, m->i_head_w), O, 1.0f,
            p->logits, V);
    double sum = 0;
    for (size_t b = 0; b < nb; b++) {
        const float *z = p->logits + b * V;
        float mx = z[0];
        for (size_t j = 1; j < V; j++)
            mx = z[j] > mx ? z[j] : mx;
        double s = 0;
        for (size_t j = 0; j < V; j++)
            s += exp((double)z[j] - mx);
        sum += (double)mx + log(s) - z[p->tgt[b]];
    }
    return sum;
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
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->cfg.vocab)
            return lm_fail(err, LM_EMISMATCH, "token id %d outside the model's vocabulary",
                           (int)ids[i]);
    memset(res, 0, sizeof *res);
    size_t W = lm_probe_window(m);
    size_t fed_max = W && W < need ? W : need;
    size_t Tc = W ? fed_max : (fed_max < LM_PROBE_CHUNK ? fed_max : LM_PROBE_CHUNK);
    probe p;
    if ((rc = probe_init(&p, m, o->batch, Tc, fed_max, err)))
        return rc;
    /* Targets: a uniform sample without replacement of the positions after `need`, sorted. */
    size_t span = n - need, nt = o->targets < span ? o->targets : span;
    size_t *pos = malloc(span * sizeof *pos);
    int32_t *row = malloc((K > need ? K : need) * sizeof *row);
    if (!pos || !row) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    lm_rng rng;
    lm_rng_seed(&rng, o->seed);
    for (size_t i = 0; i < span; i++)
        pos[i] = need + i;
    for (size_t i = 0; i < nt; i++) {
        size_t j = i + (size_t)(lm_rng_next(&rng) % (span - i));
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
    size_t batches = (nt + p.B - 1) / p.B, done = 0;
    size_t total = batches * (o->n_ks + (o->n_ms ? o->n_ms + 1 : 0));
    /* The context curve. */
    for (size_t i = 0; i < o->n_ks; i++) {
        size_t k = o->ks[i], len = W && W < k ? W : k;
        double sum = 0;
        for (size_t b0 = 0; b0 < nt; b0 += p.B) {
            size_t nb = nt - b0 < p.B ? nt - b0 : p.B;
            for (size_t b = 0; b < nb; b++) {
                size_t t = pos[b0 + b];
                memcpy(p.ctx + b * p.row, ids + t - len, len * sizeof(int32_t));
                p.tgt[b] = ids[t];
            }
            sum += score_batch(&p, nb, len);
            if (o->progress)
                o->progress(o->progress_ud, ++done, total);
        }
        res->ks[i] = k;
        res->seen[i] = len;
        res->loss[i] = sum / (double)nt;
    }
    res->effective = lm_context_effective(res->ks, res->loss, res->n_ks, o->tolerance);
    /* The shuffle curve: K tokens, those farther than m from the target permuted; the last
     * m == K condition (nothing shuffled) is the reference. */
    for (size_t i = 0; i <= o->n_ms && o->n_ms; i++) {
        size_t m_i = i < o->n_ms ? o->ms[i] : K, len = W && W < K ? W : K;
        double sum = 0;
        for (size_t b0 = 0; b0 < nt; b0 += p.B) {
            size_t nb = nt - b0 < p.B ? nt - b0 : p.B;
            for (size_t b = 0; b < nb; b++) {
                size_t t = pos[b0 + b];
                memcpy(row, ids + t - K, K * sizeof(int32_t));
                size_t far = m_i < K ? K - m_i : 0;
                for (size_t a = far; a > 1; a--) {
                    size_t j = (size_t)(lm_rng_next(&rng) % a);
                    int32_t tmp = row[a - 1];
                    row[a - 1] = row[j];
                    row[j] = tmp;
                }
                memcpy(p.ctx + b * p.row, row + K - len, len * sizeof(int32_t));
                p.tgt[b] = ids[t];
            }
            sum += score_batch(&p, nb, len);
            if (o->progress)
                o->progress(o->progress_ud, ++done, total);
        }
        if (i < o->n_ms) {
            res->ms[i] = m_i;
            res->shuffled[i] = sum / (double)nt;
        } else
            res->loss_full = sum / (double)nt;
    }
    rc = LM_OK;
out:
    free(pos);
    free(row);
    probe_free(&p);
    return rc;
}
