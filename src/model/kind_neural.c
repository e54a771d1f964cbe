/* kind_neural.c - neural models (every architecture of the table in model.c) behind the
 * language-model interface: states, one step, batched scoring, files. */
#include "model/kind.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* One stream's recurrent state or key/value cache, with its (1, 1) workspace. */
typedef struct net_state {
    float *buf;
    size_t cap; /* floats allocated */
    lm_ws ws;
} net_state;

static int nk_load(const char *path, const char *arch, void **impl, lm_error *err)
{
    if (!arch || !lm_arch_find(arch))
        return 1;
    lm_net *n;
    int rc = lm_net_load(path, &n, err);
    if (!rc)
        *impl = n;
    return rc;
}

static void nk_free(void *impl)
{
    lm_net_free(impl);
}

static int nk_save(const void *impl, const char *path, lm_error *err)
{
    return lm_net_save(impl, path, err);
}

static const char *nk_name(const void *impl)
{
    return ((const lm_net *)impl)->arch->name;
}

static const lm_vocab *nk_vocab(const void *impl)
{
    return ((const lm_net *)impl)->vocab;
}

static void nk_text_opts(const void *impl, lm_text_opts *t)
{
    const lm_net *n = impl;
    t->tokenize = n->cfg.tokenize;
    t->lowercase = n->cfg.lowercase;
}

static size_t nk_describe(const void *impl, char *buf, size_t cap)
{
    return lm_config_describe(&((const lm_net *)impl)->cfg, buf, cap);
}

static void nk_facts(const void *impl, lm_fact_fn fn, void *ud)
{
    const lm_net *n = impl;
    const lm_config *c = &n->cfg;
    char v[64];
    fn(ud, "arch", n->arch->name);
    snprintf(v, sizeof v, "%zu", c->layers);
    fn(ud, "layers", v);
    snprintf(v, sizeof v, "%zu", c->embed);
    fn(ud, "embed", v);
    if (n->arch->facts)
        n->arch->facts(c, fn, ud);
    fn(ud, "tied", c->tied ? "yes" : "no");
    snprintf(v, sizeof v, "%g", (double)c->dropout);
    fn(ud, "dropout", v);
    lm_config_reg_facts(c, fn, ud);
    lm_config_head_facts(c, fn, ud);
    fn(ud, "precision", c->precision == LM_PRECISION_BF16
                            ? "bf16 (training products; weights float32)"
                            : "f32");
    snprintf(v, sizeof v, "%zu (%.1f MiB as float32)", n->table.count,
             n->table.count * 4.0 / 1048576.0);
    fn(ud, "parameters", v);
}

static size_t nk_n_params(const void *impl)
{
    return ((const lm_net *)impl)->table.count;
}

static size_t nk_context(const void *impl)
{
    const lm_net *n = impl;
    return n->arch->window ? n->arch->window(&n->cfg) : 0;
}

static struct lm_net *nk_net(void *impl)
{
    return impl;
}

static const lm_config *nk_config(const void *impl)
{
    return &((const lm_net *)impl)->cfg;
}

static size_t nk_history(const void *impl, const lm_history_row **rows)
{
    const lm_net *n = impl;
    *rows = n->hist;
    return n->n_hist;
}

/* ---- state and step ---------------------------------------------------------------------- */

static void nk_state_free(void *st)
{
    net_state *s = st;
    if (!s)
        return;
    lm_free(s->buf);
    lm_ws_free(&s->ws);
    free(s);
}

static void nk_state_reset(const void *impl, void *st)
{
    const lm_net *n = impl;
    n->arch->state_reset(&n->cfg, ((net_state *)st)->buf, 1);
}

static int nk_state_new(const void *impl, void **out, lm_error *err)
{
    const lm_net *n = impl;
    net_state *s = calloc(1, sizeof *s);
    if (!s)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    s->cap = n->arch->state_floats(&n->cfg, 1, 0);
    s->buf = lm_alloc_floats(s->cap ? s->cap : 1);
    int rc = s->buf ? lm_ws_init(&s->ws, n, 1, 1, err) : lm_fail(err, LM_ENOMEM, "out of memory");
    if (rc) {
        nk_state_free(s);
        return rc;
    }
    nk_state_reset(n, s);
    *out = s;
    return LM_OK;
}

static int nk_state_copy(const void *impl, void *dst, const void *src, size_t pos,
                         lm_error *err)
{
    const lm_net *n = impl;
    net_state *d = dst;
    return lm_sbuf_copy(&d->buf, &d->cap, ((const net_state *)src)->buf, n->arch, &n->cfg, pos,
                        err);
}

static size_t nk_state_bytes(const void *impl, const void *st, size_t pos)
{
    const lm_net *n = impl;
    (void)st;
    return lm_sbuf_bytes(n->arch, &n->cfg, pos);
}

static int nk_state_write(const void *impl, const void *st, size_t pos, lm_h5 *h,
                          const char *group, lm_error *err)
{
    const lm_net *n = impl;
    return lm_sbuf_write(((const net_state *)st)->buf, n->arch, &n->cfg, pos, h, group, err);
}

static int nk_state_read(const void *impl, void *st, size_t pos, lm_h5 *h, const char *group,
                         lm_error *err)
{
    const lm_net *n = impl;
    net_state *s = st;
    return lm_sbuf_read(&s->buf, &s->cap, n->arch, &n->cfg, pos, h, group, err);
}

static int nk_step(const void *impl, void *st, size_t pos, int32_t tok, float *logp,
                   lm_error *err)
{
    const lm_net *n = impl;
    net_state *s = st;
    int rc = lm_sbuf_reserve(&s->buf, &s->cap, n->arch, &n->cfg, pos + 1, err);
    if (rc)
        return rc;
    size_t E = n->cfg.embed, O = n->arch->out_dim(&n->cfg);
    memcpy(s->ws.emb, lm_tensor(n, n->params, n->i_emb) + (size_t)tok * E, E * sizeof(float));
    if (n->arch->step)
        n->arch->step(n, s->ws.body, tok, s->ws.emb, s->ws.out, s->buf, pos);
    else
        n->arch->forward(n, s->ws.body, s->ws.emb, s->ws.out, s->buf, pos, 1, 1, 0, NULL);
    if (logp) {
        const float *hin = lm_net_project(n, &s->ws, s->ws.out, 1, &O);
        lm_net_head_logprobs(n, &s->ws, hin, O, logp);
    }
    return LM_OK;
}

/* ---- batched scoring ----------------------------------------------------------------------
 * Windows of bptt inputs over the B streams with the state carried: the windows whose targets
 * all lie before `from` run the body only; the others also run the head, and each row's
 * -log p comes back from the softmax. */
static int nk_score(const void *impl, const int32_t *ids, size_t T, size_t B, size_t bptt,
                    size_t from, float *lp, lm_error *err)
{
    const lm_net *n = impl;
    if (T < 2)
        return LM_OK;
    size_t W = bptt < T - 1 ? bptt : T - 1;
    lm_ws w;
    int rc = lm_ws_init(&w, n, W, B, err);
    if (rc)
        return rc;
    float *state = lm_alloc_floats(n->arch->state_floats(&n->cfg, B, 0) + 1);
    float *rows = malloc(W * B * sizeof *rows);
    if (!state || !rows) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory for scoring %zu streams", B);
        goto out;
    }
    n->arch->state_reset(&n->cfg, state, B);
    for (size_t t0 = 0; t0 + 1 < T; t0 += W) {
        size_t Tw = T - 1 - t0 < W ? T - 1 - t0 : W;
        const int32_t *x = ids + t0 * B, *y = ids + (t0 + 1) * B;
        if (t0 + Tw < from) {
            size_t E = n->cfg.embed, N = Tw * B;
            const float *emb = lm_tensor(n, n->params, n->i_emb);
            for (size_t i = 0; i < N; i++)
                memcpy(w.emb + i * E, emb + (size_t)x[i] * E, E * sizeof(float));
            n->arch->forward(n, w.body, w.emb, w.out, state, t0, Tw, B, 0, NULL);
            continue;
        }
        lm_ce_acc acc = {.rows = rows};
        lm_net_window(n, &w, x, y, Tw, B, state, t0, 0, NULL, NULL, 0.0f, &acc);
        for (size_t t = 0; t < Tw; t++)
            if (t0 + t + 1 >= from)
                for (size_t b = 0; b < B; b++)
                    lp[(t0 + t + 1) * B + b] = -rows[t * B + b];
    }
out:
    lm_ws_free(&w);
    lm_free(state);
    free(rows);
    return rc;
}

const lm_kind lm_kind_neural = {
    .load = nk_load,
    .free = nk_free,
    .save = nk_save,
    .name = nk_name,
    .vocab = nk_vocab,
    .text_opts = nk_text_opts,
    .describe = nk_describe,
    .facts = nk_facts,
    .n_params = nk_n_params,
    .context = nk_context,
    .net = nk_net,
    .config = nk_config,
    .history = nk_history,
    .state_new = nk_state_new,
    .state_free = nk_state_free,
    .state_reset = nk_state_reset,
    .state_copy = nk_state_copy,
    .state_bytes = nk_state_bytes,
    .state_write = nk_state_write,
    .state_read = nk_state_read,
    .step = nk_step,
    .score = nk_score,
};
