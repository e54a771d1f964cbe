/* head.c - the output layer of a neural model: a full softmax over the vocabulary (one (V, D)
 * matrix and a bias) or the adaptive softmax of nn/adaptive.c. Its settings, /config
 * attributes and facts, its tensors in the parameter table and their initialisation, the
 * window's loss and the step's log-probabilities are here, so the window (model.c), the step
 * (kind_neural.c) and the quantized kind each make one call that picks the head by config. */
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(LM_ADAPTIVE_MAX == LM_MAX_CUTOFFS, "one bound for the tail clusters");

static bool adaptive(const lm_config *c)
{
    return c->softmax == LM_SOFTMAX_ADAPTIVE;
}

/* floor(D / div^(i+1)), as PyTorch's int(in_features // div_value ** (i + 1)). */
static size_t tail_dim(const lm_config *c, size_t D, size_t i)
{
    double d = floor((double)D / pow((double)c->div_value, (double)(i + 1)));
    return d < 1 ? 0 : (size_t)d;
}

/* "2000,10000" into buf. */
static const char *cutoff_list(const lm_config *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < c->n_cutoffs && i < LM_MAX_CUTOFFS && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%zu", i ? "," : "", c->cutoffs[i]);
    return buf;
}

/* The width the head reads: the body's output, or the embedding width when tied through a
 * projection. */
static size_t head_input(const lm_config *c)
{
    const lm_arch *a = lm_arch_find(c->arch);
    size_t O = a ? a->out_dim(c) : c->embed;
    return c->tied ? c->embed : O;
}

void lm_head_adaptive(const lm_config *c, size_t D, lm_adaptive *a)
{
    memset(a, 0, sizeof *a);
    a->D = D;
    a->V = c->vocab;
    a->K = c->n_cutoffs;
    LM_ASSERT(a->K >= 1 && a->K <= LM_ADAPTIVE_MAX);
    for (size_t i = 0; i < a->K; i++) {
        a->cut[i] = c->cutoffs[i];
        a->dim[i] = tail_dim(c, D, i);
    }
    a->cut[a->K] = c->vocab;
}

int lm_config_check_head(const lm_config *c, lm_error *err)
{
    char list[160];
    if (c->softmax == LM_SOFTMAX_FULL) {
        if (c->n_cutoffs)
            return lm_fail(err, LM_EINVAL, "cutoffs %s are set for a full softmax (they go with "
                           "the adaptive one)", cutoff_list(c, list, sizeof list));
        return LM_OK;
    }
    if (c->softmax != LM_SOFTMAX_ADAPTIVE)
        return lm_fail(err, LM_EINVAL, "unknown softmax kind %d (expected full or adaptive)",
                       c->softmax);
    if (c->tied)
        return lm_fail(err, LM_EINVAL, "tied weights do not go with the adaptive softmax (its "
                       "head and tails are not the embedding's shape)");
    if (c->n_cutoffs < 1 || c->n_cutoffs > LM_MAX_CUTOFFS)
        return lm_fail(err, LM_EINVAL, "the adaptive softmax needs 1 to %d cutoffs (%zu given)",
                       LM_MAX_CUTOFFS, c->n_cutoffs);
    cutoff_list(c, list, sizeof list);
    if (c->cutoffs[0] < LM_N_SPECIAL)
        return lm_fail(err, LM_EINVAL, "cutoffs %s: the first must be at least %d (the special "
                       "tokens stay in the shortlist)", list, LM_N_SPECIAL);
    for (size_t i = 1; i < c->n_cutoffs; i++)
        if (c->cutoffs[i] <= c->cutoffs[i - 1])
            return lm_fail(err, LM_EINVAL, "cutoffs %s: not increasing", list);
    if (c->cutoffs[c->n_cutoffs - 1] >= c->vocab)
        return lm_fail(err, LM_EINVAL, "cutoffs %s: the last must be below the vocabulary size "
                       "%zu", list, c->vocab);
    if (!(c->div_value >= 1.0f && c->div_value <= 1e6f))
        return lm_fail(err, LM_EINVAL, "adaptive softmax div %g out of range [1, 1e6]",
                       (double)c->div_value);
    size_t D = head_input(c);
    for (size_t i = 0; i < c->n_cutoffs; i++)
        if (tail_dim(c, D, i) == 0)
            return lm_fail(err, LM_EINVAL, "cutoffs %s with div %g: tail cluster %zu would "
                           "project the head input (%zu wide) to 0 dimensions; use a smaller "
                           "div or fewer cutoffs", list, (double)c->div_value, i + 1, D);
    return LM_OK;
}

size_t lm_config_describe_head(const lm_config *c, char *buf, size_t cap)
{
    if (!adaptive(c))
        return 0;
    char list[160];
    return (size_t)snprintf(buf, cap, ", adaptive softmax %s", cutoff_list(c, list, sizeof list));
}

void lm_config_head_facts(const lm_config *c, lm_fact_fn fn, void *ud)
{
    if (!adaptive(c)) {
        fn(ud, "softmax", "full");
        return;
    }
    char v[160], list[160];
    size_t D = head_input(c), len;
    len = (size_t)snprintf(v, sizeof v, "adaptive, div %g, tail widths", (double)c->div_value);
    for (size_t i = 0; i < c->n_cutoffs && len < sizeof v; i++)
        len += (size_t)snprintf(v + len, sizeof v - len, "%s%zu", i ? "," : " ",
                                tail_dim(c, D, i));
    fn(ud, "softmax", v);
    fn(ud, "cutoffs", cutoff_list(c, list, sizeof list));
}

int lm_config_write_head(lm_h5 *h, const lm_config *c, lm_error *err)
{
    int rc = lm_h5_attr_set_str(h, "/config", "softmax", adaptive(c) ? "adaptive" : "full", err);
    if (rc || !adaptive(c))
        return rc;
    uint64_t cut[LM_MAX_CUTOFFS];
    for (size_t i = 0; i < c->n_cutoffs; i++)
        cut[i] = c->cutoffs[i];
    if ((rc = lm_h5_attr_set_u64s(h, "/config", "cutoffs", cut, c->n_cutoffs, err)))
        return rc;
    return lm_h5_attr_set_f64(h, "/config", "div_value", c->div_value, err);
}

int lm_config_read_head(lm_h5 *h, lm_config *c, lm_error *err)
{
    c->softmax = LM_SOFTMAX_FULL;
    c->n_cutoffs = 0;
    if (!lm_h5_has_attr(h, "/config", "softmax"))
        return LM_OK; /* older files: a full softmax */
    char kind[32];
    int rc = lm_h5_attr_str(h, "/config", "softmax", kind, sizeof kind, err);
    if (rc)
        return rc;
    if (!strcmp(kind, "full"))
        return LM_OK;
    if (strcmp(kind, "adaptive"))
        return lm_fail(err, LM_EFORMAT, "%s: /config/softmax '%s' is not a softmax this program "
                       "knows (full, adaptive)", lm_h5_path(h), kind);
    c->softmax = LM_SOFTMAX_ADAPTIVE;
    uint64_t cut[LM_MAX_CUTOFFS];
    size_t n = 0;
    double div;
    if ((rc = lm_h5_attr_u64s(h, "/config", "cutoffs", cut, LM_MAX_CUTOFFS, &n, err)) ||
        (rc = lm_h5_attr_f64(h, "/config", "div_value", &div, err)))
        return rc;
    for (size_t i = 0; i < n; i++) {
        if (cut[i] > ((uint64_t)1 << 24))
            return lm_fail(err, LM_EFORMAT, "%s: /config/cutoffs[%zu] = %llu is out of range",
                           lm_h5_path(h), i, (unsigned long long)cut[i]);
        c->cutoffs[i] = (size_t)cut[i];
    }
    c->n_cutoffs = n;
    if (!isfinite(div) || div < 1 || div > 1e6)
        return lm_fail(err, LM_EFORMAT, "%s: /config/div_value %g is out of range [1, 1e6]",
                       lm_h5_path(h), div);
    c->div_value = (float)div;
    return LM_OK; /* the rest is lm_config_check's */
}

int lm_head_layout(const lm_config *c, size_t O, size_t i_emb, lm_ptable *t, lm_head_idx *h)
{
    size_t E = c->embed, V = c->vocab;
    int i;
    memset(h, 0, sizeof *h);
    /* Tied with another output width: a learned (E, O) projection before the tied head. */
    if (c->tied && O != E) {
        if ((i = lm_ptable_add(t, "head.proj.weight", E, O)) < 0)
            return LM_ENOMEM;
        h->proj = (size_t)i;
    }
    size_t D = c->tied ? E : O;
    lm_adaptive a;
    if (adaptive(c))
        lm_head_adaptive(c, D, &a);
    /* The adaptive head: the shortlist then one logit per tail cluster. */
    size_t rows = adaptive(c) ? a.cut[0] + a.K : V;
    if (c->tied)
        h->w = i_emb;
    else if ((i = lm_ptable_add(t, "head.weight", rows, D)) < 0)
        return LM_ENOMEM;
    else
        h->w = (size_t)i;
    if ((i = lm_ptable_add(t, "head.bias", rows, 0)) < 0)
        return LM_ENOMEM;
    h->b = (size_t)i;
    if (!adaptive(c))
        return LM_OK;
    h->tail = t->n;
    for (size_t k = 0; k < a.K; k++) {
        char name[48];
        snprintf(name, sizeof name, "head.tail.%zu.proj.weight", k);
        if (lm_ptable_add(t, name, a.dim[k], D) < 0)
            return LM_ENOMEM;
        snprintf(name, sizeof name, "head.tail.%zu.out.weight", k);
        if (lm_ptable_add(t, name, a.cut[k + 1] - a.cut[k], a.dim[k]) < 0)
            return LM_ENOMEM;
    }
    return LM_OK;
}

static void uniform(const lm_net *m, float *params, size_t i, lm_rng *rng)
{
    float *x = lm_tensor(m, params, i), r = m->cfg.init_range;
    for (size_t k = 0; k < lm_param_size(&m->table.p[i]); k++)
        x[k] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * r);
}

void lm_head_init(const lm_net *m, float *params, lm_rng *rng)
{
    if (m->i_proj)
        uniform(m, params, m->i_proj, rng);
    if (!m->cfg.tied)
        uniform(m, params, m->i_head_w, rng);
    for (size_t k = 0; adaptive(&m->cfg) && k < 2 * m->cfg.n_cutoffs; k++)
        uniform(m, params, m->i_tail + k, rng);
}

void lm_head_check_order(const lm_net *m)
{
    if (!adaptive(&m->cfg))
        return;
    size_t V = lm_vocab_size(m->vocab), counted = 0;
    for (size_t i = LM_N_SPECIAL; i < V; i++)
        counted += lm_vocab_count(m->vocab, (int32_t)i) > 0;
    if (!counted) {
        lm_log("warning: adaptive softmax: the vocabulary has no counts (an imported one?); the "
               "clusters follow its id order, which may not be by frequency");
        return;
    }
    for (size_t i = LM_N_SPECIAL + 1; i < V; i++) {
        uint64_t a = lm_vocab_count(m->vocab, (int32_t)(i - 1));
        uint64_t b = lm_vocab_count(m->vocab, (int32_t)i);
        if (b > a) {
            lm_log("warning: adaptive softmax: the vocabulary is not in decreasing count order "
                   "(id %zu '%s' has count %llu, id %zu count %llu); the clusters follow the ids",
                   i - 1, lm_vocab_token(m->vocab, (int32_t)(i - 1)), (unsigned long long)a, i,
                   (unsigned long long)b);
            return;
        }
    }
}

size_t lm_head_ws_floats(const lm_config *c, size_t D, size_t N, size_t *chunk)
{
    size_t row = c->vocab;
    if (adaptive(c)) {
        lm_adaptive a;
        lm_head_adaptive(c, D, &a);
        row = lm_adaptive_row_floats(&a);
    }
    /* Logits for up to 16M floats (64 MiB) at a time: a PTB window (700 rows of 10k) in one
     * chunk, so the head's GEMMs see all rows at once. */
    size_t k = ((size_t)1 << 24) / row;
    k = k < 16 ? 16 : k;
    k = k > N ? N : k;
    *chunk = k;
    return k * row;
}

/* The adaptive head of m over the block params (and grads, when not NULL). */
static void bind(const lm_net *m, size_t D, float *params, float *grads, lm_adaptive *a,
                 lm_adaptive_grads *g)
{
    lm_head_adaptive(&m->cfg, D, a);
    a->W = lm_tensor(m, params, m->i_head_w);
    a->b = lm_tensor(m, params, m->i_head_b);
    if (g) {
        g->W = lm_tensor(m, grads, m->i_head_w);
        g->b = lm_tensor(m, grads, m->i_head_b);
    }
    for (size_t k = 0; k < a->K; k++) {
        a->proj[k] = lm_tensor(m, params, m->i_tail + 2 * k);
        a->out[k] = lm_tensor(m, params, m->i_tail + 2 * k + 1);
        if (g) {
            g->proj[k] = lm_tensor(m, grads, m->i_tail + 2 * k);
            g->out[k] = lm_tensor(m, grads, m->i_tail + 2 * k + 1);
        }
    }
}

void lm_net_head_ce(const lm_net *m, lm_ws *w, const float *X, size_t D, const int32_t *y,
                    size_t N, float scale, float *dX, float *grads, lm_ce_acc *acc)
{
    if (adaptive(&m->cfg)) {
        lm_adaptive a;
        lm_adaptive_grads g;
        bind(m, D, m->params, grads, &a, grads ? &g : NULL);
        lm_adaptive_ce(&a, N, X, y, w->logits, w->rows, w->chunk, acc, scale, dX,
                       grads ? &g : NULL);
        return;
    }
    lm_softmax_ce(N, D, m->cfg.vocab, X, lm_tensor(m, m->params, m->i_head_w),
                  lm_tensor(m, m->params, m->i_head_b), y, w->logits, w->chunk, acc, scale, dX,
                  grads ? lm_tensor(m, grads, m->i_head_w) : NULL,
                  grads ? lm_tensor(m, grads, m->i_head_b) : NULL);
}

void lm_net_head_logprobs(const lm_net *m, lm_ws *w, const float *x, size_t D, float *logp)
{
    if (adaptive(&m->cfg)) {
        lm_adaptive a;
        bind(m, D, m->params, NULL, &a, NULL);
        lm_adaptive_logprobs(&a, x, w->logits, logp);
        return;
    }
    size_t V = m->cfg.vocab;
    memcpy(logp, lm_tensor(m, m->params, m->i_head_b), V * sizeof(float));
    lm_gemv(false, V, D, 1.0f, lm_tensor(m, m->params, m->i_head_w), x, 1.0f, logp);
    lm_log_softmax(logp, V, logp);
}
