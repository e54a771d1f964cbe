/* arch_rwkv.c - the RWKV-4 architecture (nn/rwkv.c) as a model body.
 *
 * Width d = embed, channel-mix width F = ffn (0: 4d), L = layers; the body's output is d wide,
 * so the head can be tied to the embedding. Parameter names and shapes follow RWKV-LM's
 * state_dict, with the (1, 1, d) time_mix tensors stored as vectors (d):
 *   blocks.0.ln0.weight/bias (d)                     LayerNorm on the embedding, block 0 only
 *   blocks.{i}.ln1.weight/bias, blocks.{i}.ln2.weight/bias (d)
 *   blocks.{i}.att.time_decay, .time_first, .time_mix_k, .time_mix_v, .time_mix_r (d)
 *   blocks.{i}.att.key.weight, .value.weight, .receptance.weight, .output.weight (d, d)
 *   blocks.{i}.ffn.time_mix_k, .time_mix_r (d)
 *   blocks.{i}.ffn.key.weight (F, d), .receptance.weight (d, d), .value.weight (d, F)
 *   ln_out.weight/bias (d)
 * The state of B streams is five (B, d) vectors per layer (nn/rwkv.h), constant in the
 * position. */
#include "model/model.h"
#include "nn/rwkv.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Tensors per layer, and the order of the table (the views below rely on it). */
enum {
    T_LN1_W, T_LN1_B, T_LN2_W, T_LN2_B,
    T_DECAY, T_FIRST, T_ATT_MK, T_ATT_MV, T_ATT_MR,
    T_ATT_K, T_ATT_V, T_ATT_R, T_ATT_O,
    T_FFN_MK, T_FFN_MR, T_FFN_K, T_FFN_R, T_FFN_V,
    PER_LAYER
};

static size_t ffn_width(const lm_config *c)
{
    return c->ffn ? c->ffn : 4 * c->embed;
}

static lm_rwkv_dims dims(const lm_config *c)
{
    lm_rwkv_dims d = {.L = c->layers,
                      .d = c->embed,
                      .F = ffn_width(c),
                      .dropout = c->dropout,
                      .weight_drop = c->weight_drop};
    return d;
}

static int rwkv_check(const lm_config *c, lm_error *err)
{
    if (c->layers > LM_RWKV_MAX_LAYERS)
        return lm_fail(err, LM_EINVAL, "rwkv layers %zu out of range [1, %d]", c->layers,
                       LM_RWKV_MAX_LAYERS);
    if (c->ffn > ((size_t)1 << 18) || ffn_width(c) > ((size_t)1 << 18))
        return lm_fail(err, LM_EINVAL, "channel-mix width %zu out of range [1, %zu]",
                       ffn_width(c), (size_t)1 << 18);
    return LM_OK;
}

static size_t rwkv_out_dim(const lm_config *c)
{
    return c->embed;
}

static int add(lm_ptable *t, const char *prefix, const char *name, size_t rows, size_t cols)
{
    char full[48];
    snprintf(full, sizeof full, "%s%s", prefix, name);
    return lm_ptable_add(t, full, rows, cols) < 0 ? LM_ENOMEM : LM_OK;
}

static int rwkv_layout(const lm_config *c, lm_ptable *t)
{
    size_t d = c->embed, F = ffn_width(c);
    if (add(t, "blocks.0.", "ln0.weight", d, 0) || add(t, "blocks.0.", "ln0.bias", d, 0))
        return LM_ENOMEM;
    for (size_t l = 0; l < c->layers; l++) {
        char pre[32];
        snprintf(pre, sizeof pre, "blocks.%zu.", l);
        static const char *const names[PER_LAYER] = {
            "ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias",
            "att.time_decay", "att.time_first", "att.time_mix_k", "att.time_mix_v",
            "att.time_mix_r", "att.key.weight", "att.value.weight", "att.receptance.weight",
            "att.output.weight", "ffn.time_mix_k", "ffn.time_mix_r", "ffn.key.weight",
            "ffn.receptance.weight", "ffn.value.weight"};
        for (int k = 0; k < PER_LAYER; k++) {
            size_t rows = d, cols = 0;
            if (k >= T_ATT_K && k <= T_ATT_O)
                cols = d;
            else if (k == T_FFN_K)
                rows = F, cols = d;
            else if (k == T_FFN_R)
                cols = d;
            else if (k == T_FFN_V)
                cols = F;
            if (add(t, pre, names[k], rows, cols))
                return LM_ENOMEM;
        }
    }
    if (add(t, "", "ln_out.weight", d, 0) || add(t, "", "ln_out.bias", d, 0))
        return LM_ENOMEM;
    return LM_OK;
}

/* Views of a flat block (parameters or gradients) laid out by rwkv_layout. */
static void views(const lm_net *m, float *block, lm_rwkv_tensors *v)
{
    size_t i = m->body_first, L = m->cfg.layers;
    v->ln0_w = lm_tensor(m, block, i);
    v->ln0_b = lm_tensor(m, block, i + 1);
    for (size_t l = 0; l < L; l++) {
        size_t b = i + 2 + l * PER_LAYER;
        lm_rwkv_layer *y = &v->layer[l];
        float **slot[PER_LAYER] = {
            &y->ln1_w, &y->ln1_b, &y->ln2_w, &y->ln2_b,
            &y->time_decay, &y->time_first, &y->att_mix_k, &y->att_mix_v, &y->att_mix_r,
            &y->att_key, &y->att_value, &y->att_receptance, &y->att_output,
            &y->ffn_mix_k, &y->ffn_mix_r, &y->ffn_key, &y->ffn_receptance, &y->ffn_value};
        for (size_t k = 0; k < PER_LAYER; k++)
            *slot[k] = lm_tensor(m, block, b + k);
    }
    v->lnout_w = lm_tensor(m, block, i + 2 + L * PER_LAYER);
    v->lnout_b = lm_tensor(m, block, i + 3 + L * PER_LAYER);
}

static void uniform(float *x, size_t n, double r, lm_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * r);
}

static void fill(float *x, size_t n, float v)
{
    for (size_t i = 0; i < n; i++)
        x[i] = v;
}

/* RWKV-LM's RWKV-4 initialisation (model.py, RWKV_TimeMix/RWKV_ChannelMix and RWKV_Init):
 * LayerNorms 1 and 0; time_decay ramps over the channels from -5 to 3 with a curve that
 * steepens with depth, so the channels cover memories from about one token to hundreds;
 * time_first = log(0.3) plus a zigzag of +-0.5; the token-shift mixes ramp from 0 to 1 over
 * the channels, flatter in deeper layers. att.value and ffn.key are uniform with standard
 * deviation 1/sqrt(d); att.key, att.receptance, att.output, ffn.receptance and ffn.value start
 * at zero ("zero init is very important for fast convergence"), so every block starts as the
 * identity on the residual stream and the model as a LayerNormed bigram model. */
static void rwkv_init(const lm_net *m, float *params, lm_rng *rng)
{
    lm_rwkv_tensors v;
    views(m, params, &v);
    size_t d = m->cfg.embed, F = ffn_width(&m->cfg), L = m->cfg.layers;
    fill(v.ln0_w, d, 1.0f);
    fill(v.ln0_b, d, 0.0f);
    fill(v.lnout_w, d, 1.0f);
    fill(v.lnout_b, d, 0.0f);
    double bound = sqrt(3.0 / (double)d);
    for (size_t l = 0; l < L; l++) {
        lm_rwkv_layer *y = &v.layer[l];
        double r01 = L > 1 ? (double)l / (double)(L - 1) : 0.0;
        double r10 = 1.0 - (double)l / (double)L;
        fill(y->ln1_w, d, 1.0f);
        fill(y->ln1_b, d, 0.0f);
        fill(y->ln2_w, d, 1.0f);
        fill(y->ln2_b, d, 0.0f);
        for (size_t h = 0; h < d; h++) {
            double f = d > 1 ? (double)h / (double)(d - 1) : 0.0, x = (double)h / (double)d;
            y->time_decay[h] = (float)(-5.0 + 8.0 * pow(f, 0.7 + 1.3 * r01));
            y->time_first[h] = (float)(log(0.3) + 0.5 * (double)((int)((h + 1) % 3) - 1));
            y->att_mix_k[h] = (float)pow(x, r10);
            y->att_mix_v[h] = (float)(pow(x, r10) + 0.3 * r01);
            y->att_mix_r[h] = (float)pow(x, 0.5 * r10);
            y->ffn_mix_k[h] = (float)pow(x, r10);
            y->ffn_mix_r[h] = (float)pow(x, r10);
        }
        fill(y->att_key, d * d, 0.0f);
        uniform(y->att_value, d * d, bound, rng);
        fill(y->att_receptance, d * d, 0.0f);
        fill(y->att_output, d * d, 0.0f);
        uniform(y->ffn_key, F * d, bound, rng);
        fill(y->ffn_receptance, d * d, 0.0f);
        fill(y->ffn_value, d * F, 0.0f);
    }
}

static size_t rwkv_ws_floats(const lm_config *c, size_t T, size_t B)
{
    lm_rwkv_dims d = dims(c);
    return lm_rwkv_ws_floats(&d, T, B);
}

static size_t rwkv_state_floats(const lm_config *c, size_t B, size_t pos)
{
    (void)pos;
    lm_rwkv_dims d = dims(c);
    return lm_rwkv_state_floats(&d, B);
}

static void rwkv_state_reset(const lm_config *c, float *state, size_t B)
{
    lm_rwkv_dims d = dims(c);
    lm_rwkv_state_reset(&d, state, B);
}

static void rwkv_forward(const lm_net *m, float *ws, const float *X, float *Y, float *state,
                         size_t pos, size_t T, size_t B, int train, lm_rng *rng)
{
    (void)pos;
    lm_rwkv_dims d = dims(&m->cfg);
    lm_rwkv_tensors p;
    views(m, m->params, &p);
    lm_rwkv_forward(&d, &p, ws, X, Y, state, T, B, train, rng);
}

static void rwkv_backward(const lm_net *m, float *ws, const float *X, const float *dY,
                          float *dX, float *grads, size_t T, size_t B)
{
    lm_rwkv_dims d = dims(&m->cfg);
    lm_rwkv_tensors p, g;
    views(m, m->params, &p);
    views(m, grads, &g);
    lm_rwkv_backward(&d, &p, ws, X, dY, dX, &g, T, B);
}

static void rwkv_derive(lm_config *c)
{
    c->ffn = ffn_width(c);
}

static size_t rwkv_state_groups(const lm_config *c)
{
    return LM_RWKV_SLOTS * c->layers;
}

static size_t rwkv_describe(const lm_config *c, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, ", ffn %zu", ffn_width(c));
}

static void rwkv_facts(const lm_config *c, lm_fact_fn fn, void *ud)
{
    char v[32];
    snprintf(v, sizeof v, "%zu", ffn_width(c));
    fn(ud, "ffn", v);
}

const lm_arch lm_arch_rwkv = {
    .facts = rwkv_facts,
    .name = "rwkv",
    .summary = "RWKV-4 time-mix and channel-mix blocks: trains in parallel, runs as an RNN",
    .max_layers = LM_RWKV_MAX_LAYERS,
    .regs = LM_REG_WEIGHT_DROP,
    .derive = rwkv_derive,
    .describe = rwkv_describe,
    .state_groups = rwkv_state_groups,
    .check = rwkv_check,
    .out_dim = rwkv_out_dim,
    .layout = rwkv_layout,
    .init = rwkv_init,
    .ws_floats = rwkv_ws_floats,
    .state_floats = rwkv_state_floats,
    .state_reset = rwkv_state_reset,
    .forward = rwkv_forward,
    .backward = rwkv_backward,
};
