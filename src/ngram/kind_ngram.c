/* kind_ngram.c - n-gram models behind the language-model interface. The state is the last
 * order-1 token ids; a step is the whole next-token distribution of the back-off trie. */
#include "model/kind.h"
#include "ngram/ngram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct ng_state {
    size_t n;                            /* ids held (at most order - 1) */
    int32_t hist[LM_NGRAM_MAX_ORDER];    /* the last n ids, oldest first */
    double *p;                           /* (V) workspace of the step */
} ng_state;

static int ng_load(const char *path, const char *arch, void **impl, lm_error *err)
{
    lm_ngram *g;
    int rc;
    if (!arch)
        rc = lm_ngram_read_arpa(path, &g, err);
    else if (strcmp(arch, "ngram"))
        return 1;
    else
        rc = lm_ngram_load(path, &g, err);
    if (!rc)
        *impl = g;
    return rc;
}

static void ng_free(void *impl)
{
    lm_ngram_free(impl);
}

static int ng_save(const void *impl, const char *path, lm_error *err)
{
    return lm_ngram_save(impl, path, err);
}

static const char *ng_name(const void *impl)
{
    (void)impl;
    return "ngram";
}

static const lm_vocab *ng_vocab(const void *impl)
{
    return ((const lm_ngram *)impl)->vocab;
}

static void ng_text_opts(const void *impl, lm_text_opts *t)
{
    const lm_ngram *g = impl;
    t->tokenize = g->opts.tokenize;
    t->lowercase = g->opts.lowercase;
}

static size_t ng_n_params(const void *impl)
{
    const lm_ngram *g = impl;
    size_t n = 0;
    for (size_t k = 0; k < g->opts.order; k++)
        n += g->lv[k].n;
    return n;
}

static size_t ng_describe(const void *impl, char *buf, size_t cap)
{
    const lm_ngram *g = impl;
    return (size_t)snprintf(buf, cap, "%zu-gram, interpolated modified Kneser-Ney, %zu n-grams",
                            g->opts.order, ng_n_params(g));
}

static void ng_facts(const void *impl, lm_fact_fn fn, void *ud)
{
    const lm_ngram *g = impl;
    char v[200];
    fn(ud, "arch", "ngram");
    snprintf(v, sizeof v, "%zu", g->opts.order);
    fn(ud, "order", v);
    fn(ud, "history", g->opts.sentences ? "sentences (restarts after every <eot>, as after <s>)"
                                        : "stream (crosses <eot>)");
    fn(ud, "smoothing", g->imported ? "imported from ARPA (back-off weights as given)"
                                    : "interpolated modified Kneser-Ney");
    if (g->opts.prune_singletons)
        snprintf(v, sizeof v, "singletons of order >= %zu dropped", g->opts.prune_singletons);
    else
        snprintf(v, sizeof v, "none");
    fn(ud, "pruning", v);
    snprintf(v, sizeof v, "%llu tokens", (unsigned long long)g->tokens);
    fn(ud, "trained on", v);
    snprintf(v, sizeof v, "%zu", ng_n_params(g));
    fn(ud, "n-grams", v);
    for (size_t k = 0; k < g->opts.order; k++) {
        char key[32];
        snprintf(key, sizeof key, "%zu-grams", k + 1);
        snprintf(v, sizeof v, "%zu; n1..n4 %llu %llu %llu %llu; D1 %.4f D2 %.4f D3+ %.4f%s",
                 g->lv[k].n, (unsigned long long)g->nk[k][0], (unsigned long long)g->nk[k][1],
                 (unsigned long long)g->nk[k][2], (unsigned long long)g->nk[k][3], g->D[k][0],
                 g->D[k][1], g->D[k][2], g->fallback[k] ? " (fallback)" : "");
        fn(ud, key, v);
    }
}

static int ng_predicts_first(const void *impl)
{
    return ((const lm_ngram *)impl)->opts.sentences;
}

static int ng_state_new(const void *impl, void **out, lm_error *err)
{
    const lm_ngram *g = impl;
    ng_state *s = calloc(1, sizeof *s);
    if (!s || !(s->p = malloc(g->V * sizeof *s->p))) {
        free(s);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    *out = s;
    return LM_OK;
}

static void ng_state_free(void *st)
{
    ng_state *s = st;
    if (s)
        free(s->p);
    free(s);
}

static void ng_state_reset(const void *impl, void *st)
{
    (void)impl;
    ((ng_state *)st)->n = 0;
}

static int ng_state_copy(const void *impl, void *dst, const void *src, size_t pos,
                         lm_error *err)
{
    ng_state *d = dst;
    const ng_state *s = src;
    (void)impl, (void)pos, (void)err;
    d->n = s->n;
    memcpy(d->hist, s->hist, sizeof d->hist);
    return LM_OK;
}

static size_t ng_state_bytes(const void *impl, const void *st, size_t pos)
{
    (void)impl, (void)pos;
    return ((const ng_state *)st)->n * sizeof(int32_t);
}

static int ng_state_write(const void *impl, const void *st, size_t pos, lm_h5 *h,
                          const char *group, lm_error *err)
{
    const ng_state *s = st;
    (void)impl, (void)pos;
    char path[256];
    lm_h5_join(path, sizeof path, group, "history");
    size_t dims[1] = {s->n};
    return lm_h5_write(h, path, LM_H5_I32, s->hist, 1, dims, err);
}

static int ng_state_read(const void *impl, void *st, size_t pos, lm_h5 *h, const char *group,
                         lm_error *err)
{
    const lm_ngram *g = impl;
    ng_state *s = st;
    char path[256];
    lm_h5_join(path, sizeof path, group, "history");
    size_t n = g->opts.order - 1;
    n = pos < n ? pos : n;
    int32_t tmp[LM_NGRAM_MAX_ORDER];
    size_t dims[1] = {n};
    int rc = lm_h5_read(h, path, LM_H5_I32, tmp, 1, dims, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < n; i++)
        if (tmp[i] < 0 || (size_t)tmp[i] >= g->V)
            return lm_fail(err, LM_EFORMAT, "%s: %s holds token id %d outside the vocabulary",
                           lm_h5_path(h), path, (int)tmp[i]);
    memcpy(s->hist, tmp, n * sizeof *tmp);
    s->n = n;
    return LM_OK;
}

static void push(const lm_ngram *g, ng_state *s, int32_t tok)
{
    size_t keep = g->opts.order - 1;
    if (keep == 0)
        return;
    if (s->n == keep) {
        memmove(s->hist, s->hist + 1, (keep - 1) * sizeof *s->hist);
        s->n--;
    }
    s->hist[s->n++] = tok;
}

static int ng_step(const void *impl, void *st, size_t pos, int32_t tok, float *logp,
                   lm_error *err)
{
    const lm_ngram *g = impl;
    ng_state *s = st;
    (void)pos, (void)err;
    push(g, s, tok);
    if (!logp)
        return LM_OK;
    lm_ngram_dist(g, s->hist, s->n, s->p);
    for (size_t w = 0; w < g->V; w++)
        logp[w] = s->p[w] > 0 ? (float)log(s->p[w]) : -INFINITY;
    return LM_OK;
}

/* Each target scored alone from its stream's last order-1 ids. */
static int ng_score(const void *impl, const int32_t *ids, size_t T, size_t B, size_t bptt,
                    size_t from, float *lp, lm_error *err)
{
    const lm_ngram *g = impl;
    size_t ctx = g->opts.order - 1;
    int32_t h[LM_NGRAM_MAX_ORDER];
    (void)bptt, (void)err;
    for (size_t b = 0; b < B; b++)
        for (size_t t = from; t < T; t++) {
            size_t n = t < ctx ? t : ctx;
            for (size_t i = 0; i < n; i++)
                h[i] = ids[(t - n + i) * B + b];
            lp[t * B + b] = (float)lm_ngram_logprob(g, h, n, ids[t * B + b]);
        }
    return LM_OK;
}

const lm_kind lm_kind_ngram = {
    .load = ng_load,
    .free = ng_free,
    .save = ng_save,
    .name = ng_name,
    .vocab = ng_vocab,
    .text_opts = ng_text_opts,
    .describe = ng_describe,
    .facts = ng_facts,
    .predicts_first = ng_predicts_first,
    .n_params = ng_n_params,
    .state_new = ng_state_new,
    .state_free = ng_state_free,
    .state_reset = ng_state_reset,
    .state_copy = ng_state_copy,
    .state_bytes = ng_state_bytes,
    .state_write = ng_state_write,
    .state_read = ng_state_read,
    .step = ng_step,
    .score = ng_score,
};
