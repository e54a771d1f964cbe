/* arch_lstm.c - the LSTM architecture: a stack of nn/lstm.c layers as a model body. */
#include "model/model.h"

#include <stdio.h>
#include <string.h>

static lm_lstm_dims dims(const lm_config *c)
{
    lm_lstm_dims d = {.L = c->layers,
                      .E = c->embed,
                      .H = c->hidden,
                      .dropout = c->dropout_hidden > 0 ? c->dropout_hidden : c->dropout,
                      .locked = c->dropout_hidden > 0,
                      .weight_drop = c->weight_drop};
    return d;
}

static int lstm_check(const lm_config *c, lm_error *err)
{
    if (c->hidden == 0 || c->hidden > 65536)
        return lm_fail(err, LM_EINVAL, "hidden size %zu out of range [1, 65536]", c->hidden);
    return LM_OK;
}

static size_t lstm_out_dim(const lm_config *c)
{
    return c->hidden;
}

static int lstm_layout(const lm_config *c, lm_ptable *t)
{
    size_t H = c->hidden;
    for (size_t l = 0; l < c->layers; l++) {
        char name[48];
        size_t I = l ? H : c->embed;
        snprintf(name, sizeof name, "lstm.weight_ih_l%zu", l);
        if (lm_ptable_add(t, name, 4 * H, I) < 0)
            return LM_ENOMEM;
        snprintf(name, sizeof name, "lstm.weight_hh_l%zu", l);
        if (lm_ptable_add(t, name, 4 * H, H) < 0)
            return LM_ENOMEM;
        snprintf(name, sizeof name, "lstm.bias_ih_l%zu", l);
        if (lm_ptable_add(t, name, 4 * H, 0) < 0)
            return LM_ENOMEM;
        snprintf(name, sizeof name, "lstm.bias_hh_l%zu", l);
        if (lm_ptable_add(t, name, 4 * H, 0) < 0)
            return LM_ENOMEM;
    }
    return LM_OK;
}

/* Every LSTM weight and bias uniform in [-init_range, init_range] (Zaremba et al. 2014). */
static void lstm_init(const lm_net *m, float *params, lm_rng *rng)
{
    float r = m->cfg.init_range;
    for (size_t k = 0; k < 4 * m->cfg.layers; k++) {
        const lm_param *p = &m->table.p[m->body_first + k];
        float *x = params + p->offset;
        for (size_t i = 0; i < lm_param_size(p); i++)
            x[i] = (float)((2.0 * lm_rng_uniform(rng) - 1.0) * r);
    }
}

static size_t lstm_ws_floats(const lm_config *c, size_t T, size_t B)
{
    lm_lstm_dims d = dims(c);
    return lm_lstm_ws_floats(&d, T, B);
}

static size_t lstm_state_floats(const lm_config *c, size_t B, size_t pos)
{
    (void)pos;
    return 2 * c->layers * B * c->hidden;
}

static void lstm_state_reset(const lm_config *c, float *state, size_t B)
{
    memset(state, 0, lstm_state_floats(c, B, 0) * sizeof(float));
}

static void views(const lm_net *m, float *block, lm_lstm_grads *g)
{
    for (size_t l = 0; l < m->cfg.layers; l++) {
        g->w_ih[l] = lm_tensor(m, block, m->body_first + 4 * l);
        g->w_hh[l] = lm_tensor(m, block, m->body_first + 4 * l + 1);
        g->b_ih[l] = lm_tensor(m, block, m->body_first + 4 * l + 2);
        g->b_hh[l] = lm_tensor(m, block, m->body_first + 4 * l + 3);
    }
}

/* The parameter views of the model as the layer's read-only parameter struct. */
static lm_lstm_params params(const lm_net *m)
{
    lm_lstm_grads v;
    views(m, m->params, &v);
    lm_lstm_params p;
    for (size_t l = 0; l < m->cfg.layers; l++) {
        p.w_ih[l] = v.w_ih[l];
        p.w_hh[l] = v.w_hh[l];
        p.b_ih[l] = v.b_ih[l];
        p.b_hh[l] = v.b_hh[l];
    }
    return p;
}

static void lstm_forward(const lm_net *m, float *ws, const float *X, float *Y, float *state,
                         size_t pos, size_t T, size_t B, int train, lm_rng *rng)
{
    (void)pos;
    lm_lstm_dims d = dims(&m->cfg);
    lm_lstm_params p = params(m);
    lm_lstm_forward(&d, &p, ws, X, Y, state, T, B, train, rng);
}

static void lstm_backward(const lm_net *m, float *ws, const float *X, const float *dY,
                          float *dX, float *grads, size_t T, size_t B)
{
    lm_lstm_dims d = dims(&m->cfg);
    lm_lstm_grads g;
    views(m, grads, &g);
    lm_lstm_params p = params(m);
    lm_lstm_backward(&d, &p, ws, X, dY, dX, &g, T, B);
}

static size_t lstm_state_groups(const lm_config *c)
{
    return 2 * c->layers;
}

static size_t lstm_describe(const lm_config *c, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, ", hidden %zu", c->hidden);
}

static void lstm_facts(const lm_config *c, lm_fact_fn fn, void *ud)
{
    char v[32];
    snprintf(v, sizeof v, "%zu", c->hidden);
    fn(ud, "hidden", v);
}

const lm_arch lm_arch_lstm = {
    .facts = lstm_facts,
    .name = "lstm",
    .summary = "LSTM (Hochreiter & Schmidhuber 1997), truncated BPTT",
    .max_layers = LM_LSTM_MAX_LAYERS,
    .regs = LM_REG_HIDDEN | LM_REG_WEIGHT_DROP | LM_REG_TAR,
    .describe = lstm_describe,
    .state_groups = lstm_state_groups,
    .check = lstm_check,
    .out_dim = lstm_out_dim,
    .layout = lstm_layout,
    .init = lstm_init,
    .ws_floats = lstm_ws_floats,
    .state_floats = lstm_state_floats,
    .state_reset = lstm_state_reset,
    .forward = lstm_forward,
    .backward = lstm_backward,
};
