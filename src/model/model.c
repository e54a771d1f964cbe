/* model.c - configuration, parameter table, the model object, windows, evaluation, state. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The architecture table: the built-in ones, then any registered by lm_arch_register. */
#define MAX_ARCHES 8
static const lm_arch *arches[MAX_ARCHES + 1] = {&lm_arch_lstm, &lm_arch_rwkv,
                                                &lm_arch_transformer};
static size_t n_arches = 3;

int lm_arch_register(const lm_arch *a)
{
    if (lm_arch_find(a->name))
        return LM_EINVAL;
    if (n_arches == MAX_ARCHES)
        return LM_ENOMEM;
    arches[n_arches++] = a;
    return LM_OK;
}

const lm_arch *lm_arch_find(const char *name)
{
    for (size_t i = 0; i < n_arches; i++)
        if (!strcmp(arches[i]->name, name))
            return arches[i];
    return NULL;
}

const lm_arch *lm_arch_at(size_t i)
{
    return i < n_arches ? arches[i] : NULL;
}

const char *lm_arch_name(size_t i)
{
    const lm_arch *a = lm_arch_at(i);
    return a ? a->name : NULL;
}

const char *lm_arch_summary(size_t i)
{
    const lm_arch *a = lm_arch_at(i);
    return a ? a->summary : NULL;
}

/* "lstm, rwkv or transformer" into buf. */
static const char *arch_list(char *buf, size_t cap)
{
    size_t len = 0, n = n_arches;
    buf[0] = 0;
    for (size_t i = 0; i < n && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", i == 0 ? "" : i + 1 == n ? " or " : ", ",
                                arches[i]->name);
    return buf;
}

void lm_config_derive(lm_config *c)
{
    const lm_arch *a = lm_arch_find(c->arch);
    if (a && a->derive)
        a->derive(c);
}

size_t lm_config_describe(const lm_config *c, char *buf, size_t cap)
{
    const lm_arch *a = lm_arch_find(c->arch);
    size_t n = (size_t)snprintf(buf, cap, "%s, %zu layer%s, embed %zu", c->arch, c->layers,
                                c->layers == 1 ? "" : "s", c->embed);
    if (a && a->describe)
        n += a->describe(c, n < cap ? buf + n : NULL, n < cap ? cap - n : 0);
    if (c->tied)
        n +=
            (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "%s",
                             a && a->out_dim(c) != c->embed ? ", tied via a projection" : ", tied");
    n += lm_config_describe_head(c, n < cap ? buf + n : NULL, n < cap ? cap - n : 0);
    return n;
}

void lm_config_init(lm_config *c)
{
    memset(c, 0, sizeof *c);
    snprintf(c->arch, sizeof c->arch, "lstm");
    c->embed = 200;
    c->hidden = 200;
    c->layers = 2;
    c->ffn = 0;
    c->heads = 4;
    c->context = 256;
    c->dropout = 0.0f;
    c->init_range = 0.1f;
    c->tied = 0;
    c->tokenize = LM_TOKENIZE_WORDS;
    c->lowercase = 0;
    c->softmax = LM_SOFTMAX_FULL;
    c->div_value = 4.0f;
}

/* Sizes beyond these are refused as absurd (a damaged file or a typo). */
#define MAX_VOCAB ((size_t)1 << 24)
#define MAX_WIDTH ((size_t)1 << 16)

int lm_config_check(const lm_config *c, lm_error *err)
{
    const lm_arch *a = lm_arch_find(c->arch);
    char names[128];
    if (!a)
        return lm_fail(err, LM_EINVAL, "unknown architecture '%.16s' (expected %s)", c->arch,
                       arch_list(names, sizeof names));
    if (c->vocab < LM_N_SPECIAL || c->vocab > MAX_VOCAB)
        return lm_fail(err, LM_EINVAL, "vocabulary size %zu out of range [%d, %zu]", c->vocab,
                       LM_N_SPECIAL, MAX_VOCAB);
    if (c->embed == 0 || c->embed > MAX_WIDTH)
        return lm_fail(err, LM_EINVAL, "embedding size %zu out of range [1, %zu]", c->embed,
                       MAX_WIDTH);
    if (c->layers == 0 || c->layers > a->max_layers)
        return lm_fail(err, LM_EINVAL, "layers %zu out of range [1, %zu] for %s", c->layers,
                       a->max_layers, a->name);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return lm_fail(err, LM_EINVAL, "dropout %g out of range [0, 1)", (double)c->dropout);
    if (!(c->init_range > 0.0f && c->init_range <= 10.0f))
        return lm_fail(err, LM_EINVAL, "init range %g out of range (0, 10]", (double)c->init_range);
    if (c->tokenize < 0 || c->tokenize > LM_TOKENIZE_CHARS)
        return lm_fail(err, LM_EINVAL, "unknown tokenizer %d", c->tokenize);
    if (!lm_precision_name(c->precision))
        return lm_fail(err, LM_EINVAL, "unknown precision %d (expected f32 or bf16)",
                       c->precision);
    int rc = a->check(c, err);
    if (rc || (rc = lm_config_check_head(c, err)))
        return rc;
    /* Tied weights with an output width other than embed go through a projection. */
    return lm_config_check_reg(c, a, err);
}

int lm_ptable_add(lm_ptable *t, const char *name, size_t rows, size_t cols)
{
    if (lm_grow((void **)&t->p, &t->cap, t->n + 1, sizeof *t->p))
        return LM_ENOMEM;
    lm_param *p = &t->p[t->n];
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->rows = rows;
    p->cols = cols;
    p->offset = t->total;
    size_t sz = lm_param_size(p);
    t->total += (sz + 15) & ~(size_t)15;
    t->count += sz;
    return (int)t->n++;
}

static void uniform(float *x, size_t n, float r, lm_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * r);
}

/* The parameter table of a model of cfg (checked): embedding, the body, the head. */
static int net_layout(lm_net *m, const lm_config *cfg)
{
    m->cfg = *cfg;
    m->arch = lm_arch_find(cfg->arch);
    size_t V = cfg->vocab, E = cfg->embed, O = m->arch->out_dim(cfg);
    int i = lm_ptable_add(&m->table, "embedding.weight", V, E);
    m->i_emb = (size_t)i;
    m->body_first = m->table.n;
    lm_head_idx h;
    if (i < 0 || m->arch->layout(cfg, &m->table) < 0 ||
        lm_head_layout(cfg, O, m->i_emb, &m->table, &h))
        return LM_ENOMEM;
    m->i_proj = h.proj;
    m->i_head_w = h.w;
    m->i_head_b = h.b;
    m->i_tail = h.tail;
    return LM_OK;
}

/* Builds the table and allocates zeroed parameters. */
static int model_alloc(const lm_config *cfg, lm_vocab *vocab, lm_net **out, lm_error *err)
{
    int rc = lm_config_check(cfg, err);
    if (rc) {
        lm_vocab_free(vocab);
        return rc;
    }
    lm_net *m = calloc(1, sizeof *m);
    if (!m) {
        lm_vocab_free(vocab);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    m->vocab = vocab;
    if (net_layout(m, cfg) || !(m->params = lm_alloc_floats(m->table.total)))
        goto oom;
    *out = m;
    return LM_OK;
oom:
    rc = lm_fail(err, LM_ENOMEM, "out of memory for a model of %zu parameters", m->table.count);
    lm_net_free(m);
    return rc;
}

int lm_net_create(const lm_config *cfg_in, lm_vocab *vocab, lm_rng *rng, lm_net **out,
                    lm_error *err)
{
    lm_config cfg = *cfg_in;
    if (vocab)
        cfg.vocab = lm_vocab_size(vocab);
    if (!vocab) {
        return lm_fail(err, LM_EINVAL, "a model needs a vocabulary");
    }
    lm_net *m = NULL;
    int rc = model_alloc(&cfg, vocab, &m, err);
    if (rc)
        return rc;
    float r = cfg.init_range;
    uniform(lm_tensor(m, m->params, m->i_emb), lm_param_size(&m->table.p[m->i_emb]), r, rng);
    m->arch->init(m, m->params, rng);
    lm_head_init(m, m->params, rng);
    *out = m;
    return LM_OK;
}

void lm_net_free(lm_net *m)
{
    if (!m)
        return;
    lm_vocab_free(m->vocab);
    free(m->table.p);
    lm_free(m->params);
    free(m->hist);
    free(m);
}

int lm_net_add_history(lm_net *m, const lm_history_row *row)
{
    if (lm_grow((void **)&m->hist, &m->cap_hist, m->n_hist + 1, sizeof *m->hist))
        return LM_ENOMEM;
    m->hist[m->n_hist++] = *row;
    return LM_OK;
}

/* ---- workspace and one window ------------------------------------------------------------ */

/* The workspace slots of lm_ws_init for windows of (T, B), N = T * B <= 2^26; returns the
 * floats of all of them (padding included). */
static size_t ws_sizes(const lm_net *m, size_t T, size_t B, size_t sizes[11], size_t *chunk)
{
    size_t E = m->cfg.embed, O = m->arch->out_dim(&m->cfg), N = T * B, c;
    size_t head = lm_head_ws_floats(&m->cfg, m->i_proj ? E : O, N, &c);
    size_t body = m->arch->ws_floats(&m->cfg, T, B), P = m->i_proj ? N * E : 0;
    size_t s[11] = {N * E, N * E, N * O, N * O, N * O, head, N * O, N * E, body, P, P};
    size_t total = 0;
    for (int i = 0; i < 11; i++) {
        sizes[i] = s[i];
        total += (s[i] + 15) & ~(size_t)15;
    }
    *chunk = c;
    return total;
}

int lm_config_footprint(const lm_config *cfg, size_t batch, size_t bptt, size_t *params,
                        size_t *bytes, lm_error *err)
{
    int rc = lm_config_check(cfg, err);
    if (rc)
        return rc;
    size_t N;
    if (!lm_mul_ok(bptt, batch, &N) || N == 0 || N > ((size_t)1 << 26))
        return lm_fail(err, LM_EINVAL, "window %zu x %zu is out of range", bptt, batch);
    lm_net m = {0};
    if (net_layout(&m, cfg)) {
        free(m.table.p);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    size_t sizes[11], chunk;
    /* Parameters, gradients, two optimizer moments and the best epoch's copy; the workspace;
     * the carried state. */
    double b = 4.0 * (5.0 * (double)m.table.total + (double)ws_sizes(&m, bptt, batch, sizes,
                                                                     &chunk) +
                      (double)m.arch->state_floats(cfg, batch, 0));
    if (cfg->precision == LM_PRECISION_BF16) {
        /* The bf16 products' packed operands, the head's the largest: a chunk of logit
         * gradients and the head's weights, 2 bytes a value. */
        size_t O = m.arch->out_dim(cfg), D = O > cfg->embed ? O : cfg->embed;
        b += 2.0 * ((double)chunk + (double)D) * (double)cfg->vocab;
    }
    *params = m.table.count;
    *bytes = b > (double)SIZE_MAX ? SIZE_MAX : (size_t)b;
    free(m.table.p);
    return LM_OK;
}

int lm_ws_init(lm_ws *w, const lm_net *m, size_t T, size_t B, lm_error *err)
{
    memset(w, 0, sizeof *w);
    size_t N;
    if (!lm_mul_ok(T, B, &N) || N > ((size_t)1 << 26))
        return lm_fail(err, LM_EINVAL, "window %zu x %zu is too large", T, B);
    size_t sizes[11], chunk;
    size_t total = ws_sizes(m, T, B, sizes, &chunk);
    w->buf = lm_alloc_floats(total);
    if (m->cfg.softmax == LM_SOFTMAX_ADAPTIVE && w->buf)
        w->rows = malloc(chunk * sizeof *w->rows);
    if (!w->buf || (m->cfg.softmax == LM_SOFTMAX_ADAPTIVE && !w->rows)) {
        lm_ws_free(w);
        return lm_fail(err, LM_ENOMEM, "out of memory for a %zu-float workspace", total);
    }
    float **slots[11] = {&w->emb,     &w->emb_mask, &w->out,       &w->out_mask,
                         &w->head_in, &w->logits,   &w->d_head_in, &w->d_emb,
                         &w->body,    &w->proj,     &w->d_proj};
    float *p = w->buf;
    for (int i = 0; i < 11; i++) {
        *slots[i] = p;
        p += (sizes[i] + 15) & ~(size_t)15;
    }
    w->T = T;
    w->B = B;
    w->chunk = chunk;
    return LM_OK;
}

void lm_ws_free(lm_ws *w)
{
    lm_free(w->buf);
    free(w->rows);
    memset(w, 0, sizeof *w);
}

const float *lm_net_project(const lm_net *m, lm_ws *w, const float *out, size_t N, size_t *dim)
{
    size_t E = m->cfg.embed, O = m->arch->out_dim(&m->cfg);
    *dim = O;
    if (!m->i_proj)
        return out;
    lm_gemm_train(false, true, N, E, O, 1.0f, out, O, lm_tensor(m, m->params, m->i_proj), O,
                  0.0f, w->proj, E);
    *dim = E;
    return w->proj;
}

/* A dropout mask for (T, B, d) rows: locked (one per stream, repeated over the steps) with the
 * place's own rate, else per element with the general rate. Returns 0 when there is none. */
static int place_mask(float *mask, size_t T, size_t B, size_t d, float locked, float plain,
                      lm_rng *rng)
{
    if (locked > 0)
        lm_locked_mask(mask, T, B, d, locked, rng);
    else if (plain > 0)
        lm_dropout_mask(mask, T * B * d, plain, rng);
    else
        return 0;
    return 1;
}

static void window(const lm_net *m, lm_ws *w, const int32_t *x, const int32_t *y, size_t T,
                   size_t B, float *state, size_t pos, int train, lm_rng *rng, float *grads,
                   float scale, lm_ce_acc *acc)
{
    LM_ASSERT(T <= w->T && B == w->B);
    const lm_config *c = &m->cfg;
    size_t E = c->embed, O = m->arch->out_dim(c), N = T * B, D;
    float p = train ? c->dropout : 0.0f, pe = train ? c->dropout_embed : 0.0f;
    /* Embedding dropout: one key per window decides which words are dropped. */
    uint64_t key = pe > 0 ? lm_rng_next(rng) : 0;
    const float *emb = lm_tensor(m, m->params, m->i_emb);
    for (size_t i = 0; i < N; i++) {
        float *row = w->emb + i * E;
        memcpy(row, emb + (size_t)x[i] * E, E * sizeof(float));
        if (pe > 0) {
            float k = lm_embed_keep(key, x[i], pe);
            for (size_t j = 0; j < E; j++)
                row[j] *= k;
        }
    }
    int din = train && place_mask(w->emb_mask, T, B, E, c->dropout_input, p, rng);
    if (din)
        lm_mul(w->emb, w->emb, w->emb_mask, N * E);
    m->arch->forward(m, w->body, w->emb, w->out, state, pos, T, B, train, rng);
    const float *head_in = w->out;
    int dout = train && place_mask(w->out_mask, T, B, O, c->dropout_output, p, rng);
    if (dout) {
        lm_mul(w->head_in, w->out, w->out_mask, N * O);
        head_in = w->head_in;
    }
    const float *x_head = lm_net_project(m, w, head_in, N, &D);
    float *dx_head = !grads ? NULL : m->i_proj ? w->d_proj : w->d_head_in;
    lm_net_head_ce(m, w, x_head, D, y, N, scale, dx_head, grads, acc);
    if (train && c->ar > 0 && !grads)
        acc->reg += lm_ar(c, T, B, O, head_in, scale, NULL);
    if (train && c->tar > 0 && !grads)
        acc->reg += lm_tar(c, T, B, O, w->out, scale, NULL);
    if (!grads)
        return;
    if (m->i_proj) {
        /* dP (E, O) += dZ^T head_in; d head_in = dZ P. */
        const float *P = lm_tensor(m, m->params, m->i_proj);
        lm_gemm_train(true, false, E, O, N, 1.0f, w->d_proj, E, head_in, O, 1.0f,
                      lm_tensor(m, grads, m->i_proj), O);
        lm_gemm_train(false, false, N, O, E, 1.0f, w->d_proj, E, P, O, 0.0f, w->d_head_in, O);
    }
    if (train && c->ar > 0)
        acc->reg += lm_ar(c, T, B, O, head_in, scale, w->d_head_in);
    if (dout)
        lm_mul(w->d_head_in, w->d_head_in, w->out_mask, N * O);
    if (train && c->tar > 0)
        acc->reg += lm_tar(c, T, B, O, w->out, scale, w->d_head_in);
    m->arch->backward(m, w->body, w->emb, w->d_head_in, w->d_emb, grads, T, B);
    if (din)
        lm_mul(w->d_emb, w->d_emb, w->emb_mask, N * E);
    float *gE = lm_tensor(m, grads, m->i_emb);
    for (size_t i = 0; i < N; i++) {
        float *row = gE + (size_t)x[i] * E;
        const float *d = w->d_emb + i * E;
        float k = pe > 0 ? lm_embed_keep(key, x[i], pe) : 1.0f;
        if (k == 0.0f)
            continue;
        for (size_t j = 0; j < E; j++)
            row[j] += k * d[j];
    }
}

void lm_net_window(const lm_net *m, lm_ws *w, const int32_t *x, const int32_t *y, size_t T,
                     size_t B, float *state, size_t pos, int train, lm_rng *rng, float *grads,
                     float scale, lm_ce_acc *acc)
{
    /* A training window's products run in the model's training precision (lm_gemm_train);
     * evaluation's in float32. */
    int prev = lm_gemm_train_set(train ? m->cfg.precision : LM_PRECISION_F32);
    window(m, w, x, y, T, B, state, pos, train, rng, grads, scale, acc);
    lm_gemm_train_set(prev);
}
