/* model.c - configuration, parameter table, the model object, windows, evaluation, state. */
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const lm_arch *const arches[] = {&lm_arch_lstm, &lm_arch_rwkv, &lm_arch_transformer, NULL};

const lm_arch *lm_arch_find(const char *name)
{
    for (size_t i = 0; arches[i]; i++)
        if (!strcmp(arches[i]->name, name))
            return arches[i];
    return NULL;
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
}

/* Sizes beyond these are refused as absurd (a damaged file or a typo). */
#define MAX_VOCAB ((size_t)1 << 24)
#define MAX_WIDTH ((size_t)1 << 16)

int lm_config_check(const lm_config *c, lm_error *err)
{
    const lm_arch *a = lm_arch_find(c->arch);
    if (!a)
        return lm_fail(err, LM_EINVAL, "unknown architecture '%.16s'", c->arch);
    if (c->vocab < LM_N_SPECIAL || c->vocab > MAX_VOCAB)
        return lm_fail(err, LM_EINVAL, "vocabulary size %zu out of range [%d, %zu]", c->vocab,
                       LM_N_SPECIAL, MAX_VOCAB);
    if (c->embed == 0 || c->embed > MAX_WIDTH)
        return lm_fail(err, LM_EINVAL, "embedding size %zu out of range [1, %zu]", c->embed,
                       MAX_WIDTH);
    if (c->layers == 0 || c->layers > LM_LSTM_MAX_LAYERS)
        return lm_fail(err, LM_EINVAL, "layers %zu out of range [1, %d]", c->layers,
                       LM_LSTM_MAX_LAYERS);
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f))
        return lm_fail(err, LM_EINVAL, "dropout %g out of range [0, 1)", (double)c->dropout);
    if (!(c->init_range > 0.0f && c->init_range <= 10.0f))
        return lm_fail(err, LM_EINVAL, "init range %g out of range (0, 10]", (double)c->init_range);
    if (c->tokenize < 0 || c->tokenize > LM_TOKENIZE_CHARS)
        return lm_fail(err, LM_EINVAL, "unknown tokenizer %d", c->tokenize);
    int rc = a->check(c, err);
    if (rc)
        return rc;
    if (c->tied && a->out_dim(c) != c->embed)
        return lm_fail(err, LM_EINVAL,
                       "tied weights need the embedding size (%zu) to equal the output width (%zu)",
                       c->embed, a->out_dim(c));
    return LM_OK;
}

int lm_ptable_add(lm_ptable *t, const char *name, size_t rows, size_t cols)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        lm_param *p = realloc(t->p, cap * sizeof *p);
        if (!p)
            return LM_ENOMEM;
        t->p = p;
        t->cap = cap;
    }
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

/* Builds the table and allocates zeroed parameters. */
static int model_alloc(const lm_config *cfg, lm_vocab *vocab, lm_model **out, lm_error *err)
{
    int rc = lm_config_check(cfg, err);
    if (rc) {
        lm_vocab_free(vocab);
        return rc;
    }
    lm_model *m = calloc(1, sizeof *m);
    if (!m) {
        lm_vocab_free(vocab);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    m->cfg = *cfg;
    m->arch = lm_arch_find(cfg->arch);
    m->vocab = vocab;
    size_t V = cfg->vocab, E = cfg->embed, O = m->arch->out_dim(cfg);
    int i = lm_ptable_add(&m->table, "embedding.weight", V, E);
    m->i_emb = (size_t)i;
    m->body_first = m->table.n;
    if (i < 0 || m->arch->layout(cfg, &m->table) < 0)
        goto oom;
    if (cfg->tied)
        m->i_head_w = m->i_emb;
    else if ((i = lm_ptable_add(&m->table, "head.weight", V, O)) < 0)
        goto oom;
    else
        m->i_head_w = (size_t)i;
    if ((i = lm_ptable_add(&m->table, "head.bias", V, 0)) < 0)
        goto oom;
    m->i_head_b = (size_t)i;
    if (!(m->params = lm_alloc_floats(m->table.total)))
        goto oom;
    *out = m;
    return LM_OK;
oom:
    rc = lm_fail(err, LM_ENOMEM, "out of memory for a model of %zu parameters", m->table.count);
    lm_model_free(m);
    return rc;
}

int lm_model_create(const lm_config *cfg_in, lm_vocab *vocab, lm_rng *rng, lm_model **out,
                    lm_error *err)
{
    lm_config cfg = *cfg_in;
    if (vocab)
        cfg.vocab = lm_vocab_size(vocab);
    if (!vocab) {
        return lm_fail(err, LM_EINVAL, "a model needs a vocabulary");
    }
    lm_model *m = NULL;
    int rc = model_alloc(&cfg, vocab, &m, err);
    if (rc)
        return rc;
    float r = cfg.init_range;
    uniform(lm_tensor(m, m->params, m->i_emb), lm_param_size(&m->table.p[m->i_emb]), r, rng);
    m->arch->init(m, m->params, rng);
    if (!cfg.tied)
        uniform(lm_tensor(m, m->params, m->i_head_w), lm_param_size(&m->table.p[m->i_head_w]),
                r, rng);
    *out = m;
    return LM_OK;
}

void lm_model_free(lm_model *m)
{
    if (!m)
        return;
    lm_vocab_free(m->vocab);
    free(m->table.p);
    lm_free(m->params);
    free(m->hist);
    free(m);
}

const lm_config *lm_model_config(const lm_model *m)
{
    return &m->cfg;
}

const lm_vocab *lm_model_vocab(const lm_model *m)
{
    return m->vocab;
}

size_t lm_model_n_params(const lm_model *m)
{
    return m->table.count;
}

size_t lm_model_history(const lm_model *m, const lm_history_row **rows)
{
    *rows = m->hist;
    return m->n_hist;
}

int lm_model_add_history(lm_model *m, const lm_history_row *row)
{
    if (m->n_hist == m->cap_hist) {
        size_t cap = m->cap_hist ? m->cap_hist * 2 : 16;
        lm_history_row *h = realloc(m->hist, cap * sizeof *h);
        if (!h)
            return LM_ENOMEM;
        m->hist = h;
        m->cap_hist = cap;
    }
    m->hist[m->n_hist++] = *row;
    return LM_OK;
}

/* ---- workspace and one window ------------------------------------------------------------ */

int lm_ws_init(lm_ws *w, const lm_model *m, size_t T, size_t B, lm_error *err)
{
    memset(w, 0, sizeof *w);
    size_t E = m->cfg.embed, V = m->cfg.vocab, O = m->arch->out_dim(&m->cfg), N;
    if (!lm_mul_ok(T, B, &N) || N > ((size_t)1 << 26))
        return lm_fail(err, LM_EINVAL, "window %zu x %zu is too large", T, B);
    /* Logits for up to 16M floats (64 MiB) at a time: a PTB window (700 rows of 10k) in one
     * chunk, so the head's three GEMMs see all rows at once. */
    size_t chunk = ((size_t)1 << 24) / V;
    chunk = chunk < 16 ? 16 : chunk;
    chunk = chunk > N ? N : chunk;
    size_t body = m->arch->ws_floats(&m->cfg, T, B);
    size_t sizes[9] = {N * E, N * E, N * O, N * O, N * O, chunk * V, N * O, N * E, body};
    size_t total = 0;
    for (int i = 0; i < 9; i++)
        total += (sizes[i] + 15) & ~(size_t)15;
    w->buf = lm_alloc_floats(total);
    if (!w->buf)
        return lm_fail(err, LM_ENOMEM, "out of memory for a %zu-float workspace", total);
    float **slots[9] = {&w->emb, &w->emb_mask, &w->out, &w->out_mask, &w->head_in,
                        &w->logits, &w->d_head_in, &w->d_emb, &w->body};
    float *p = w->buf;
    for (int i = 0; i < 9; i++) {
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
    memset(w, 0, sizeof *w);
}

void lm_model_window(const lm_model *m, lm_ws *w, const int32_t *x, const int32_t *y, size_t T,
                     size_t B, float *state, size_t pos, int train, lm_rng *rng, float *grads,
                     float scale, lm_ce_acc *acc)
{
    LM_ASSERT(T <= w->T && B == w->B);
    size_t E = m->cfg.embed, V = m->cfg.vocab, O = m->arch->out_dim(&m->cfg), N = T * B;
    float p = train ? m->cfg.dropout : 0.0f;
    const float *emb = lm_tensor(m, m->params, m->i_emb);
    for (size_t i = 0; i < N; i++)
        memcpy(w->emb + i * E, emb + (size_t)x[i] * E, E * sizeof(float));
    if (p > 0) {
        lm_dropout_mask(w->emb_mask, N * E, p, rng);
        lm_mul(w->emb, w->emb, w->emb_mask, N * E);
    }
    m->arch->forward(m, w->body, w->emb, w->out, state, pos, T, B, train, rng);
    const float *head_in = w->out;
    if (p > 0) {
        lm_dropout_mask(w->out_mask, N * O, p, rng);
        lm_mul(w->head_in, w->out, w->out_mask, N * O);
        head_in = w->head_in;
    }
    float *gW = grads ? lm_tensor(m, grads, m->i_head_w) : NULL;
    float *gb = grads ? lm_tensor(m, grads, m->i_head_b) : NULL;
    lm_softmax_ce(N, O, V, head_in, lm_tensor(m, m->params, m->i_head_w),
                  lm_tensor(m, m->params, m->i_head_b), y, w->logits, w->chunk, acc, scale,
                  grads ? w->d_head_in : NULL, gW, gb);
    if (!grads)
        return;
    if (p > 0)
        lm_mul(w->d_head_in, w->d_head_in, w->out_mask, N * O);
    m->arch->backward(m, w->body, w->emb, w->d_head_in, w->d_emb, grads, T, B);
    if (p > 0)
        lm_mul(w->d_emb, w->d_emb, w->emb_mask, N * E);
    float *gE = lm_tensor(m, grads, m->i_emb);
    for (size_t i = 0; i < N; i++) {
        float *row = gE + (size_t)x[i] * E;
        const float *d = w->d_emb + i * E;
        for (size_t j = 0; j < E; j++)
            row[j] += d[j];
    }
}

/* ---- evaluation -------------------------------------------------------------------------- */

int lm_model_eval(lm_model *m, const int32_t *ids, size_t n, size_t batch, size_t bptt,
                  lm_eval_result *res, lm_error *err)
{
    if (batch == 0 || bptt == 0)
        return lm_fail(err, LM_EINVAL, "batch and bptt must be positive");
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->cfg.vocab)
            return lm_fail(err, LM_EMISMATCH, "token id %d outside the model's vocabulary",
                           (int)ids[i]);
    if (n / batch < 2)
        batch = n >= 2 ? 1 : 0;
    if (batch == 0)
        return lm_fail(err, LM_EINVAL, "need at least two tokens to evaluate");
    lm_batcher bt;
    lm_batcher_init(&bt, ids, n, batch, bptt);
    lm_ws w;
    int rc = lm_ws_init(&w, m, bptt, batch, err);
    if (rc)
        return rc;
    size_t sf = m->arch->state_floats(&m->cfg, batch, 0);
    float *state = lm_alloc_floats(sf);
    int32_t *x = malloc(bptt * batch * sizeof *x), *y = malloc(bptt * batch * sizeof *y);
    if (!state || !x || !y) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    m->arch->state_reset(&m->cfg, state, batch);
    lm_ce_acc acc = {0};
    size_t pos = 0;
    for (size_t k = 0; k < bt.windows; k++) {
        size_t T = lm_batcher_window(&bt, k, x, y);
        lm_model_window(m, &w, x, y, T, batch, state, pos, 0, NULL, NULL, 0.0f, &acc);
        pos += T;
    }
    res->tokens = acc.n;
    res->oov = acc.n_unk;
    res->nll = acc.nll;
    res->nll_no_oov = acc.nll_known;
    res->ppl = acc.n ? exp(acc.nll / (double)acc.n) : 0;
    res->ppl_no_oov = acc.n > acc.n_unk ? exp(acc.nll_known / (double)(acc.n - acc.n_unk)) : 0;
    res->bits_per_token = acc.n ? acc.nll / (double)acc.n / log(2.0) : 0;
out:
    lm_ws_free(&w);
    lm_free(state);
    free(x);
    free(y);
    return rc;
}

/* ---- generation state -------------------------------------------------------------------- */

struct lm_state {
    const lm_model *m;
    size_t pos;
    float *buf;
    size_t cap; /* floats allocated */
    lm_ws ws;   /* (1, 1) workspace */
};

int lm_state_create(const lm_model *m, lm_state **out, lm_error *err)
{
    lm_state *s = calloc(1, sizeof *s);
    if (!s)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    s->m = m;
    s->cap = m->arch->state_floats(&m->cfg, 1, 0);
    s->buf = lm_alloc_floats(s->cap);
    int rc = s->buf ? lm_ws_init(&s->ws, m, 1, 1, err) : lm_fail(err, LM_ENOMEM, "out of memory");
    if (rc) {
        lm_state_free(s);
        return rc;
    }
    lm_state_reset(s);
    *out = s;
    return LM_OK;
}

void lm_state_free(lm_state *s)
{
    if (!s)
        return;
    lm_free(s->buf);
    lm_ws_free(&s->ws);
    free(s);
}

void lm_state_reset(lm_state *s)
{
    s->pos = 0;
    s->m->arch->state_reset(&s->m->cfg, s->buf, 1);
}

static int state_reserve(lm_state *s, size_t pos, lm_error *err)
{
    size_t need = s->m->arch->state_floats(&s->m->cfg, 1, pos);
    if (need <= s->cap)
        return LM_OK;
    size_t cap = need > 2 * s->cap ? need : 2 * s->cap;
    /* Never beyond the largest state the architecture can need (a full cache). */
    size_t most = s->m->arch->state_floats(&s->m->cfg, 1, SIZE_MAX);
    cap = cap > most && most >= need ? most : cap;
    float *b = lm_alloc_floats(cap);
    if (!b)
        return lm_fail(err, LM_ENOMEM, "out of memory for a state of %zu floats", cap);
    memcpy(b, s->buf, s->cap * sizeof(float));
    lm_free(s->buf);
    s->buf = b;
    s->cap = cap;
    return LM_OK;
}

int lm_state_copy(lm_state *dst, const lm_state *src, lm_error *err)
{
    if (dst->m != src->m)
        return lm_fail(err, LM_EMISMATCH, "states of different models");
    size_t n = src->m->arch->state_floats(&src->m->cfg, 1, src->pos);
    int rc = state_reserve(dst, src->pos, err);
    if (rc)
        return rc;
    memcpy(dst->buf, src->buf, n * sizeof(float));
    dst->pos = src->pos;
    return LM_OK;
}

size_t lm_state_position(const lm_state *s)
{
    return s->pos;
}

size_t lm_state_bytes(const lm_state *s)
{
    return s->m->arch->state_floats(&s->m->cfg, 1, s->pos) * sizeof(float);
}

int lm_step(const lm_model *m, lm_state *s, int32_t token, float *logits, lm_error *err)
{
    if (s->m != m)
        return lm_fail(err, LM_EMISMATCH, "the state belongs to another model");
    if (token < 0 || (size_t)token >= m->cfg.vocab)
        return lm_fail(err, LM_EINVAL, "token id %d outside the vocabulary", (int)token);
    int rc = state_reserve(s, s->pos + 1, err);
    if (rc)
        return rc;
    size_t E = m->cfg.embed, V = m->cfg.vocab, O = m->arch->out_dim(&m->cfg);
    memcpy(s->ws.emb, lm_tensor(m, m->params, m->i_emb) + (size_t)token * E, E * sizeof(float));
    if (m->arch->step)
        m->arch->step(m, s->ws.body, token, s->ws.emb, s->ws.out, s->buf, s->pos);
    else
        m->arch->forward(m, s->ws.body, s->ws.emb, s->ws.out, s->buf, s->pos, 1, 1, 0, NULL);
    s->pos++;
    if (logits) {
        memcpy(logits, lm_tensor(m, m->params, m->i_head_b), V * sizeof(float));
        lm_gemv(false, V, O, 1.0f, lm_tensor(m, m->params, m->i_head_w), s->ws.out, 1.0f,
                logits);
    }
    return LM_OK;
}

/* Path "group/name" without doubling the slash of the root group. */
static void group_path(char *buf, size_t cap, const char *group, const char *name)
{
    size_t gl = strlen(group);
    snprintf(buf, cap, "%s%s%s", group, gl && group[gl - 1] == '/' ? "" : "/", name);
}

int lm_state_write(const lm_state *s, lm_h5 *h, const char *group, lm_error *err)
{
    size_t n = s->m->arch->state_floats(&s->m->cfg, 1, s->pos);
    size_t dims[1] = {n};
    char path[256];
    group_path(path, sizeof path, group, "state");
    int rc;
    if ((rc = lm_h5_attr_set_str(h, group, "format", "lstmlm-state", err)) ||
        (rc = lm_h5_attr_set_u64(h, group, "format_version", 1, err)) ||
        (rc = lm_h5_attr_set_str(h, group, "arch", s->m->cfg.arch, err)) ||
        (rc = lm_h5_attr_set_u64(h, group, "vocab_size", s->m->cfg.vocab, err)) ||
        (rc = lm_h5_attr_set_u64(h, group, "position", s->pos, err)) ||
        (rc = lm_h5_write(h, path, LM_H5_F32, s->buf, 1, dims, err)))
        return rc;
    return LM_OK;
}

int lm_state_save(const lm_state *s, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_create(path, &h, err);
    if (rc)
        return rc;
    if ((rc = lm_state_write(s, h, "/", err))) {
        lm_h5_close(h);
        return rc;
    }
    return lm_h5_commit(h, err);
}

int lm_state_read(lm_state *s, lm_h5 *h, const char *group, lm_error *err)
{
    const char *path = lm_h5_path(h);
    char fmt[32], arch[32], dset[256];
    uint64_t pos, vocab, version;
    float *tmp = NULL;
    int rc;
    if (!lm_h5_has_attr(h, group, "format"))
        return lm_fail(err, LM_EFORMAT, "%s: not a saved conversation state", path);
    if ((rc = lm_h5_attr_str(h, group, "format", fmt, sizeof fmt, err)))
        return rc;
    if (strcmp(fmt, "lstmlm-state"))
        return lm_fail(err, LM_EFORMAT, "%s: not a saved conversation state", path);
    if ((rc = lm_h5_attr_u64(h, group, "format_version", &version, err)) ||
        (rc = lm_h5_attr_str(h, group, "arch", arch, sizeof arch, err)) ||
        (rc = lm_h5_attr_u64(h, group, "position", &pos, err)) ||
        (rc = lm_h5_attr_u64(h, group, "vocab_size", &vocab, err)))
        return rc;
    if (version != 1)
        return lm_fail(err, LM_EFORMAT, "%s: state format version %llu is not supported", path,
                       (unsigned long long)version);
    if (strcmp(arch, s->m->cfg.arch) || vocab != s->m->cfg.vocab)
        return lm_fail(err, LM_EMISMATCH,
                       "%s: state of a %s model with %llu tokens, not this model", path, arch,
                       (unsigned long long)vocab);
    if (pos > ((uint64_t)1 << 40))
        return lm_fail(err, LM_EFORMAT, "%s: absurd state position %llu", path,
                       (unsigned long long)pos);
    /* Read into a temporary block so that a failed load leaves the state as it was. */
    size_t dims[1] = {s->m->arch->state_floats(&s->m->cfg, 1, (size_t)pos)};
    group_path(dset, sizeof dset, group, "state");
    if (!(tmp = lm_alloc_floats(dims[0] ? dims[0] : 1)))
        return lm_fail(err, LM_ENOMEM, "out of memory for a state of %zu floats", dims[0]);
    if ((rc = lm_h5_read(h, dset, LM_H5_F32, tmp, 1, dims, err)) ||
        (rc = state_reserve(s, (size_t)pos, err)))
        goto out;
    memcpy(s->buf, tmp, dims[0] * sizeof(float));
    s->pos = (size_t)pos;
out:
    lm_free(tmp);
    return rc;
}

int lm_state_load(lm_state *s, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    rc = lm_state_read(s, h, "/", err);
    lm_h5_close(h);
    return rc;
}
