/* arch_transformer.c - the transformer architecture: a decoder-only stack of nn/attention.c
 * blocks (pre-LayerNorm, causal multi-head self-attention, GELU MLP) with learned positions.
 *
 * Training and evaluation (forward/backward over windows): every window of T tokens is
 * attended within itself, its positions starting at 0; nothing is carried between windows,
 * so the state argument is not used. A window longer than the context C is cut into chunks
 * of C tokens, each attended separately (so T <= C is the useful setting).
 *
 * Generation (step): the state is the key/value cache of one stream,
 *   state[0 .. C)                 token ids (as floats, exact below 2^24) of the cached slots
 *   state[C + j*2LD .. )          slot j: for each layer its key then its value (D floats each)
 * so state_floats(pos) = C + 2*L*D*min(pos, C): the cache grows by 2*L*D floats per token up
 * to the window and then stays at C slots. A token fed when the cache holds n < C slots goes to
 * slot n at position n and attends to slots 0..n. When the cache is full (n == C) the last
 * K = C/2 tokens are kept and re-encoded at positions 0..K-1 (one window forward), and the new
 * token goes to slot K. Every prediction is therefore exactly that of a window forward over
 * the cached tokens: between K+1 and C tokens of context once past the window, never a
 * position the model was not trained on. The cache length after pos tokens is
 *   n(pos) = pos                                    for pos <= C,
 *            K + 1 + (pos - C - 1) mod (C - K)      for pos > C. */
#include "model/model.h"
#include "nn/attention.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static lm_attn_dims dims(const lm_config *c)
{
    lm_attn_dims d = {.L = c->layers,
                      .D = c->embed,
                      .heads = c->heads,
                      .F = c->ffn ? c->ffn : 4 * c->embed,
                      .C = c->context,
                      .dropout = c->dropout};
    return d;
}

static int tf_check(const lm_config *c, lm_error *err)
{
    if (c->layers > LM_ATTN_MAX_LAYERS)
        return lm_fail(err, LM_EINVAL, "layers %zu out of range [1, %d]", c->layers,
                       LM_ATTN_MAX_LAYERS);
    if (c->heads == 0 || c->heads > c->embed || c->embed % c->heads)
        return lm_fail(err, LM_EINVAL, "heads (%zu) must divide the embedding size (%zu)",
                       c->heads, c->embed);
    if (c->context == 0 || c->context > 65536)
        return lm_fail(err, LM_EINVAL, "context %zu out of range [1, 65536]", c->context);
    if (c->ffn > ((size_t)1 << 18))
        return lm_fail(err, LM_EINVAL, "ffn width %zu out of range [0, %zu]", c->ffn,
                       (size_t)1 << 18);
    return LM_OK;
}

static size_t tf_out_dim(const lm_config *c)
{
    return c->embed;
}

static const char *const block_names[LM_ATTN_PER_BLOCK] = {
    "ln1.weight",      "ln1.bias",  "attn.qkv.weight", "attn.qkv.bias",
    "attn.proj.weight", "attn.proj.bias", "ln2.weight", "ln2.bias",
    "mlp.fc.weight",   "mlp.fc.bias", "mlp.proj.weight", "mlp.proj.bias"};

static int tf_layout(const lm_config *c, lm_ptable *t)
{
    lm_attn_dims d = dims(c);
    size_t D = d.D, F = d.F;
    size_t shape[LM_ATTN_PER_BLOCK][2] = {{D, 0}, {D, 0}, {3 * D, D}, {3 * D, 0},
                                          {D, D}, {D, 0}, {D, 0},     {D, 0},
                                          {F, D}, {F, 0}, {D, F},     {D, 0}};
    if (lm_ptable_add(t, "pos_embedding.weight", d.C, D) < 0)
        return LM_ENOMEM;
    for (size_t l = 0; l < d.L; l++)
        for (int k = 0; k < LM_ATTN_PER_BLOCK; k++) {
            char name[48];
            snprintf(name, sizeof name, "blocks.%zu.%s", l, block_names[k]);
            if (lm_ptable_add(t, name, shape[k][0], shape[k][1]) < 0)
                return LM_ENOMEM;
        }
    if (lm_ptable_add(t, "ln_f.weight", D, 0) < 0 || lm_ptable_add(t, "ln_f.bias", D, 0) < 0)
        return LM_ENOMEM;
    return LM_OK;
}

static void views(const lm_net *m, float *block, lm_attn_tensors *v)
{
    size_t i = m->body_first;
    v->pos = lm_tensor(m, block, i++);
    for (size_t l = 0; l < m->cfg.layers; l++)
        for (int k = 0; k < LM_ATTN_PER_BLOCK; k++)
            v->b[l][k] = lm_tensor(m, block, i++);
    v->lnf_w = lm_tensor(m, block, i++);
    v->lnf_b = lm_tensor(m, block, i);
}

static void normal(float *x, size_t n, double sd, lm_rng *rng)
{
    for (size_t i = 0; i < n; i++) {
        double u1 = lm_rng_uniform(rng), u2 = lm_rng_uniform(rng);
        x[i] = (float)(sd * sqrt(-2.0 * log(1.0 - u1)) * cos(6.283185307179586 * u2));
    }
}

/* GPT-2's initialisation: weights and positions N(0, 0.02), the two projections that end a
 * residual branch N(0, 0.02 / sqrt(2L)), biases 0, LayerNorm weights 1. */
static void tf_init(const lm_net *m, float *params, lm_rng *rng)
{
    lm_attn_tensors v;
    views(m, params, &v);
    lm_attn_dims d = dims(&m->cfg);
    double sd = 0.02, sd_res = 0.02 / sqrt(2.0 * (double)d.L);
    normal(v.pos, d.C * d.D, sd, rng);
    for (size_t l = 0; l < d.L; l++) {
        for (int k = 0; k < LM_ATTN_PER_BLOCK; k++) {
            const lm_param *p = &m->table.p[m->body_first + 1 + l * LM_ATTN_PER_BLOCK + k];
            memset(v.b[l][k], 0, lm_param_size(p) * sizeof(float));
        }
        normal(v.b[l][LM_ATTN_QKV_W], 3 * d.D * d.D, sd, rng);
        normal(v.b[l][LM_ATTN_PROJ_W], d.D * d.D, sd_res, rng);
        normal(v.b[l][LM_ATTN_FC_W], d.F * d.D, sd, rng);
        normal(v.b[l][LM_ATTN_MP_W], d.D * d.F, sd_res, rng);
        for (size_t j = 0; j < d.D; j++)
            v.b[l][LM_ATTN_LN1_W][j] = v.b[l][LM_ATTN_LN2_W][j] = 1.0f;
    }
    for (size_t j = 0; j < d.D; j++) {
        v.lnf_w[j] = 1.0f;
        v.lnf_b[j] = 0.0f;
    }
}

/* Tokens kept and re-encoded when the cache is full. */
static size_t keep_len(size_t C)
{
    return C / 2;
}

static size_t tf_ws_floats(const lm_config *c, size_t T, size_t B)
{
    lm_attn_dims d = dims(c);
    size_t K = keep_len(d.C);
    size_t win = lm_attn_ws_floats(&d, T, B);
    size_t step = lm_attn_step_ws_floats(&d, K) + K * d.D;
    return win > step ? win : step;
}

static size_t tf_state_floats(const lm_config *c, size_t B, size_t pos)
{
    size_t n = pos < c->context ? pos : c->context;
    return B * (c->context + 2 * c->layers * c->embed * n);
}

static void tf_state_reset(const lm_config *c, float *state, size_t B)
{
    memset(state, 0, tf_state_floats(c, B, 0) * sizeof(float));
}

static void tf_forward(const lm_net *m, float *ws, const float *X, float *Y, float *state,
                       size_t pos, size_t T, size_t B, int train, lm_rng *rng)
{
    (void)state;
    (void)pos;
    lm_attn_dims d = dims(&m->cfg);
    lm_attn_tensors p;
    views(m, m->params, &p);
    lm_attn_forward(&d, &p, ws, X, Y, T, B, train, rng);
}

static void tf_backward(const lm_net *m, float *ws, const float *X, const float *dY,
                        float *dX, float *grads, size_t T, size_t B)
{
    (void)X;
    lm_attn_dims d = dims(&m->cfg);
    lm_attn_tensors p, g;
    views(m, m->params, &p);
    views(m, grads, &g);
    lm_attn_backward(&d, &p, ws, dY, dX, &g, T, B);
}

static void tf_step(const lm_net *m, float *ws, int32_t token, const float *x, float *y,
                    float *state, size_t pos)
{
    lm_attn_dims d = dims(&m->cfg);
    lm_attn_tensors p;
    views(m, m->params, &p);
    size_t C = d.C, K = keep_len(C), E = d.D;
    size_t n = pos <= C ? pos : K + 1 + (pos - C - 1) % (C - K);
    float *tok = state, *cache = state + C;
    if (n == C) {
        /* Full: keep the last K tokens, re-encoded at positions 0..K-1. */
        memmove(tok, tok + C - K, K * sizeof(float));
        if (K > 0) {
            float *X = ws + lm_attn_step_ws_floats(&d, K);
            const float *emb = lm_tensor(m, m->params, m->i_emb);
            for (size_t i = 0; i < K; i++)
                memcpy(X + i * E, emb + (size_t)tok[i] * E, E * sizeof(float));
            lm_attn_encode(&d, &p, ws, X, cache, K);
        }
        n = K;
    }
    tok[n] = (float)token;
    lm_attn_step(&d, &p, ws, x, y, cache, n);
}

static void tf_derive(lm_config *c)
{
    c->ffn = dims(c).F;
}

static size_t tf_window(const lm_config *c)
{
    return c->context;
}

static size_t tf_describe(const lm_config *c, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, ", ffn %zu, %zu heads, context %zu", dims(c).F, c->heads,
                            c->context);
}

static void tf_facts(const lm_config *c, lm_fact_fn fn, void *ud)
{
    char v[32];
    snprintf(v, sizeof v, "%zu", dims(c).F);
    fn(ud, "ffn", v);
    snprintf(v, sizeof v, "%zu", c->heads);
    fn(ud, "heads", v);
    snprintf(v, sizeof v, "%zu", c->context);
    fn(ud, "context", v);
}

/* The token slots of a state from a file are ids the embedding can be indexed with. */
static bool tf_state_ok(const lm_config *c, const float *state, size_t pos)
{
    (void)pos;
    for (size_t i = 0; i < c->context; i++)
        if (!(state[i] >= 0 && state[i] < (float)c->vocab && state[i] == (float)(size_t)state[i]))
            return false;
    return true;
}

const lm_arch lm_arch_transformer = {
    .facts = tf_facts,
    .name = "transformer",
    .summary = "decoder-only transformer with a key/value cache that grows to its context",
    .max_layers = LM_ATTN_MAX_LAYERS,
    .positional = 1,
    .derive = tf_derive,
    .window = tf_window,
    .describe = tf_describe,
    .check = tf_check,
    .out_dim = tf_out_dim,
    .layout = tf_layout,
    .init = tf_init,
    .ws_floats = tf_ws_floats,
    .state_floats = tf_state_floats,
    .state_reset = tf_state_reset,
    .forward = tf_forward,
    .backward = tf_backward,
    .step = tf_step,
    .state_ok = tf_state_ok,
};
