/* test_contract.c - the contract every architecture of the table keeps, checked once for all of
 * them and for one more architecture defined only here (a plain tanh RNN), which proves the
 * interface is enough to add one: the whole model's gradients against finite differences,
 * bit-exact save and load, lm_step equal to a window forward, state copy/reset/save/load,
 * state bytes as the architecture declares them, and a few training epochs lowering the
 * loss; with the full softmax head and with the adaptive one. */
#include "harness.h"
#include "lm/lm.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Finite differences: Richardson extrapolation, with a retry at eps/4 for kinks. */
#define FD_EPS 1e-2
#define FD_RTOL 2e-2
#define FD_ATOL 3e-4
/* lm_step against the window forward (the same arithmetic in another order). */
#define STEP_TOL 2e-5

static lm_rng rng;

/* ---- a test-only architecture: a stack of tanh RNN layers ------------------------------------
 * h_t = tanh(W_ih x_t + W_hh h_{t-1} + b) per layer; state: h of every layer (L, B, H). */

static int rnn_check(const lm_config *c, lm_error *err)
{
    if (c->hidden == 0 || c->hidden > 4096)
        return lm_fail(err, LM_EINVAL, "hidden size %zu out of range [1, 4096]", c->hidden);
    return LM_OK;
}

static size_t rnn_out_dim(const lm_config *c)
{
    return c->hidden;
}

static int rnn_layout(const lm_config *c, lm_ptable *t)
{
    for (size_t l = 0; l < c->layers; l++) {
        char name[48];
        snprintf(name, sizeof name, "rnn.weight_ih_l%zu", l);
        if (lm_ptable_add(t, name, c->hidden, l ? c->hidden : c->embed) < 0)
            return LM_ENOMEM;
        snprintf(name, sizeof name, "rnn.weight_hh_l%zu", l);
        if (lm_ptable_add(t, name, c->hidden, c->hidden) < 0)
            return LM_ENOMEM;
        snprintf(name, sizeof name, "rnn.bias_l%zu", l);
        if (lm_ptable_add(t, name, c->hidden, 0) < 0)
            return LM_ENOMEM;
    }
    return LM_OK;
}

static void rnn_init(const lm_net *m, float *params, lm_rng *r)
{
    for (size_t k = 0; k < 3 * m->cfg.layers; k++) {
        const lm_param *p = &m->table.p[m->body_first + k];
        for (size_t i = 0; i < lm_param_size(p); i++)
            params[p->offset + i] = (float)((2.0 * lm_rng_uniform(r) - 1.0) * m->cfg.init_range);
    }
}

/* Workspace: every layer's outputs (L, T, B, H) and initial state (L, B, H), two (T, B, H)
 * gradient buffers and one (B, H) carry. */
static size_t rnn_ws_floats(const lm_config *c, size_t T, size_t B)
{
    size_t L = c->layers, H = c->hidden;
    return L * T * B * H + L * B * H + 2 * T * B * H + B * H;
}

static size_t rnn_state_floats(const lm_config *c, size_t B, size_t pos)
{
    (void)pos;
    return c->layers * B * c->hidden;
}

static void rnn_state_reset(const lm_config *c, float *state, size_t B)
{
    memset(state, 0, rnn_state_floats(c, B, 0) * sizeof(float));
}

static void rnn_forward(const lm_net *m, float *ws, const float *X, float *Y, float *state,
                        size_t pos, size_t T, size_t B, int train, lm_rng *r)
{
    size_t L = m->cfg.layers, H = m->cfg.hidden, E = m->cfg.embed;
    (void)pos, (void)train, (void)r;
    float *outs = ws, *h0 = ws + L * T * B * H;
    for (size_t l = 0; l < L; l++) {
        const float *W = lm_tensor(m, m->params, m->body_first + 3 * l);
        const float *U = lm_tensor(m, m->params, m->body_first + 3 * l + 1);
        const float *bias = lm_tensor(m, m->params, m->body_first + 3 * l + 2);
        const float *in = l ? outs + (l - 1) * T * B * H : X;
        size_t I = l ? H : E;
        float *out = outs + l * T * B * H, *h = state + l * B * H;
        memcpy(h0 + l * B * H, h, B * H * sizeof(float));
        for (size_t t = 0; t < T; t++)
            for (size_t b = 0; b < B; b++) {
                const float *x = in + (t * B + b) * I;
                float *o = out + (t * B + b) * H;
                for (size_t j = 0; j < H; j++) {
                    double a = bias[j];
                    for (size_t k = 0; k < I; k++)
                        a += (double)W[j * I + k] * x[k];
                    for (size_t k = 0; k < H; k++)
                        a += (double)U[j * H + k] * h[b * H + k];
                    o[j] = (float)tanh(a);
                }
                memcpy(h + b * H, o, H * sizeof(float));
            }
    }
    memcpy(Y, outs + (L - 1) * T * B * H, T * B * H * sizeof(float));
}

static void rnn_backward(const lm_net *m, float *ws, const float *X, const float *dY, float *dX,
                         float *grads, size_t T, size_t B)
{
    size_t L = m->cfg.layers, H = m->cfg.hidden, E = m->cfg.embed;
    float *outs = ws, *h0 = ws + L * T * B * H, *d1 = h0 + L * B * H, *d2 = d1 + T * B * H;
    float *carry = d2 + T * B * H;
    memcpy(d1, dY, T * B * H * sizeof(float));
    for (size_t l = L; l-- > 0;) {
        const float *W = lm_tensor(m, m->params, m->body_first + 3 * l);
        const float *U = lm_tensor(m, m->params, m->body_first + 3 * l + 1);
        float *gW = lm_tensor(m, grads, m->body_first + 3 * l);
        float *gU = lm_tensor(m, grads, m->body_first + 3 * l + 1);
        float *gb = lm_tensor(m, grads, m->body_first + 3 * l + 2);
        const float *in = l ? outs + (l - 1) * T * B * H : X, *out = outs + l * T * B * H;
        size_t I = l ? H : E;
        float *din = l ? d2 : dX;
        memset(carry, 0, B * H * sizeof(float));
        for (size_t t = T; t-- > 0;)
            for (size_t b = 0; b < B; b++) {
                const float *o = out + (t * B + b) * H, *x = in + (t * B + b) * I;
                const float *hp = t ? out + ((t - 1) * B + b) * H : h0 + (l * B + b) * H;
                float da[4096];
                for (size_t j = 0; j < H; j++)
                    da[j] = (d1[(t * B + b) * H + j] + carry[b * H + j]) * (1 - o[j] * o[j]);
                float *dx = din + (t * B + b) * I;
                memset(dx, 0, I * sizeof(float));
                memset(carry + b * H, 0, H * sizeof(float));
                for (size_t j = 0; j < H; j++) {
                    gb[j] += da[j];
                    for (size_t k = 0; k < I; k++) {
                        gW[j * I + k] += da[j] * x[k];
                        dx[k] += W[j * I + k] * da[j];
                    }
                    for (size_t k = 0; k < H; k++) {
                        gU[j * H + k] += da[j] * hp[k];
                        carry[b * H + k] += U[j * H + k] * da[j];
                    }
                }
            }
        if (l)
            memcpy(d1, d2, T * B * H * sizeof(float));
    }
}

static size_t rnn_describe(const lm_config *c, char *buf, size_t cap)
{
    return (size_t)snprintf(buf, cap, ", hidden %zu", c->hidden);
}

static const lm_arch rnn_arch = {
    .name = "test-rnn",
    .summary = "tanh RNN (defined by the contract test only)",
    .max_layers = 4,
    .describe = rnn_describe,
    .check = rnn_check,
    .out_dim = rnn_out_dim,
    .layout = rnn_layout,
    .init = rnn_init,
    .ws_floats = rnn_ws_floats,
    .state_floats = rnn_state_floats,
    .state_reset = rnn_state_reset,
    .forward = rnn_forward,
    .backward = rnn_backward,
};

/* Asserts check(a) for every architecture of the table. */
static void every_arch(int (*check)(const lm_arch *))
{
    for (size_t i = 0; lm_arch_at(i); i++)
        CU_ASSERT(check(lm_arch_at(i)));
}

/* ---- the contract ------------------------------------------------------------------------ */

enum { V = 11, TT = 3, TB = 2, N = 7 };

static lm_vocab *tiny_vocab(void)
{
    lm_vocab *v = NULL;
    LM_ASSERT(lm_vocab_create(&v, NULL) == LM_OK);
    for (int i = LM_N_SPECIAL; i < V; i++) {
        char t[8];
        snprintf(t, sizeof t, "w%d", i);
        lm_vocab_add(v, t, strlen(t), 1);
    }
    return v;
}

/* Changes the settings of a tiny model before it is made (NULL: none). */
typedef void (*tweak_fn)(lm_config *c, const lm_arch *a);

static lm_net *tiny_with(const lm_arch *a, int tied, float dropout, tweak_fn tweak);


static lm_net *tiny_with(const lm_arch *a, int tied, float dropout, tweak_fn tweak)
{
    lm_config c;
    lm_config_init(&c);
    snprintf(c.arch, sizeof c.arch, "%s", a->name);
    c.embed = 4;
    c.hidden = 4;
    c.layers = 2;
    c.ffn = 8;
    c.heads = 2;
    c.context = 8;
    c.dropout = dropout;
    c.init_range = 0.5f;
    c.tied = tied;
    if (tweak)
        tweak(&c, a);
    lm_net *n = NULL;
    lm_error err;
    if (lm_net_create(&c, tiny_vocab(), &rng, &n, &err) != LM_OK) {
        printf("\n  %s: %s\n", a->name, err.msg);
        return NULL;
    }
    /* Random values everywhere (LayerNorm gains, decay rates), not only the initialisation. */
    for (size_t i = 0; i < n->table.total; i++)
        n->params[i] += (float)(0.2 * (lm_rng_uniform(&rng) - 0.5));
    return n;
}

typedef struct grad_case {
    lm_net *m;
    lm_ws w;
    int32_t x[TT * TB], y[TT * TB];
    float *state0, *state;
    size_t sf;
    uint64_t seed; /* the dropout masks are drawn the same way at every evaluation */
} grad_case;

static double window_loss(void *ud)
{
    grad_case *c = ud;
    memcpy(c->state, c->state0, c->sf * sizeof(float));
    lm_ce_acc acc = {0};
    lm_rng r = {c->seed};
    lm_net_window(c->m, &c->w, c->x, c->y, TT, TB, c->state, 0, 1, &r, NULL, 0, &acc);
    return acc.nll + acc.reg;
}

static int check_gradients_with(const lm_arch *a, int tied, float dropout, tweak_fn tweak)
{
    grad_case c = {.seed = 77};
    lm_error err;
    if (!(c.m = tiny_with(a, tied, dropout, tweak)))
        return 0;
    int ok = lm_ws_init(&c.w, c.m, TT, TB, &err) == LM_OK;
    c.sf = a->state_floats(&c.m->cfg, TB, 0);
    c.state0 = lm_alloc_floats(c.sf + 1);
    c.state = lm_alloc_floats(c.sf + 1);
    float *g = lm_alloc_floats(c.m->table.total);
    a->state_reset(&c.m->cfg, c.state0, TB);
    /* A carried state that is not the reset one (recurrent architectures). */
    for (size_t i = 0; i < c.sf; i++)
        c.state0[i] += (float)(0.3 * (lm_rng_uniform(&rng) - 0.5));
    for (int i = 0; i < TT * TB; i++) {
        c.x[i] = (int32_t)(lm_rng_next(&rng) % V);
        c.y[i] = (int32_t)(lm_rng_next(&rng) % V);
    }
    /* The adaptive softmax: targets in the shortlist and in every tail cluster. */
    const lm_config *mc = &c.m->cfg;
    for (size_t k = 0; mc->softmax == LM_SOFTMAX_ADAPTIVE && k < mc->n_cutoffs; k++)
        c.y[1 + k] = (int32_t)(mc->cutoffs[k] + k);
    memcpy(c.state, c.state0, c.sf * sizeof(float));
    lm_ce_acc acc = {0};
    lm_rng r = {c.seed};
    lm_net_window(c.m, &c.w, c.x, c.y, TT, TB, c.state, 0, 1, &r, g, 1.0f, &acc);
    static const th_fd fd = {FD_EPS, FD_RTOL, FD_ATOL, TH_FD_RETRY};
    static const th_fd fdr = {FD_EPS, FD_RTOL, FD_ATOL, TH_FD_RICHARDSON};
    for (size_t i = 0; i < c.m->table.n; i++) {
        const lm_param *p = &c.m->table.p[i];
        char name[96];
        snprintf(name, sizeof name, "%s%s: %s", a->name, tied ? " tied" : "", p->name);
        /* Either method may be the one that suits the layer (kinks vs curvature); a wrong
         * gradient fails both. */
        int one = th_fd_check(&fdr, name, c.m->params + p->offset, g + p->offset,
                              lm_param_size(p), window_loss, &c) ||
                  th_fd_check(&fd, name, c.m->params + p->offset, g + p->offset,
                              lm_param_size(p), window_loss, &c);
        ok &= one;
    }
    /* One random direction over the whole flat block. */
    size_t P = c.m->table.total;
    float *dir = lm_alloc_floats(P);
    for (size_t i = 0; i < P; i++)
        dir[i] = (float)(2 * lm_rng_uniform(&rng) - 1);
    double an, num;
    th_fd_direction(c.m->params, g, dir, P, 1e-3, window_loss, &c, &an, &num);
    if (!th_close(an, num, 1e-3, 2e-2)) {
        printf("\n  %s: directional derivative %g, numeric %g\n", a->name, an, num);
        ok = 0;
    }
    lm_free(dir);
    lm_free(g);
    lm_free(c.state0);
    lm_free(c.state);
    lm_ws_free(&c.w);
    lm_net_free(c.m);
    return ok;
}

static int check_gradients(const lm_arch *a, int tied, float dropout)
{
    return check_gradients_with(a, tied, dropout, NULL);
}

/* Every AWD-LSTM regulariser the architecture takes, masks fixed by the seed. */
static void awd(lm_config *c, const lm_arch *a)
{
    c->dropout_embed = 0.3f;
    c->dropout_input = 0.25f;
    c->dropout_output = 0.3f;
    c->ar = 2.0f;
    if (a->regs & LM_REG_HIDDEN)
        c->dropout_hidden = 0.35f;
    if (a->regs & LM_REG_WEIGHT_DROP)
        c->weight_drop = 0.4f;
    if (a->regs & LM_REG_TAR)
        c->tar = 1.5f;
}

/* Tied weights through a projection where the output width may differ from the embedding. */
static void proj(lm_config *c, const lm_arch *a)
{
    awd(c, a);
    c->hidden = 5;
}

/* The adaptive softmax: a shortlist of 5 ids and tail clusters [5, 8) and [8, 11) projecting
 * the output (4 wide) to 2 and 1 dimensions. */
static void adaptive(lm_config *c, const lm_arch *a)
{
    (void)a;
    c->tied = 0;
    c->softmax = LM_SOFTMAX_ADAPTIVE;
    c->n_cutoffs = 2;
    c->cutoffs[0] = 5;
    c->cutoffs[1] = 8;
    c->div_value = 2.0f;
}

/* The adaptive softmax with every regulariser the architecture takes. */
static void adaptive_awd(lm_config *c, const lm_arch *a)
{
    awd(c, a);
    adaptive(c, a);
}

static void test_gradients_adaptive(void)
{
    for (size_t i = 0; lm_arch_at(i); i++) {
        const lm_arch *a = lm_arch_at(i);
        CU_ASSERT(check_gradients_with(a, 0, 0.0f, adaptive));
        CU_ASSERT(check_gradients_with(a, 0, 0.2f, adaptive_awd));
    }
}

static void test_gradients_awd(void)
{
    for (size_t i = 0; lm_arch_at(i); i++) {
        const lm_arch *a = lm_arch_at(i);
        CU_ASSERT(check_gradients_with(a, 0, 0.0f, awd));
        CU_ASSERT(check_gradients_with(a, 1, 0.2f, awd));
        lm_config c;
        lm_config_init(&c);
        c.embed = 4;
        proj(&c, a);
        if (a->out_dim(&c) != c.embed) {
            CU_ASSERT(check_gradients_with(a, 1, 0.0f, proj));
            /* The recurrence on packed weights (longer windows) drops the same weights. */
            size_t keep = lm_lstm_pack_min_steps;
            lm_lstm_pack_min_steps = 2;
            CU_ASSERT(check_gradients_with(a, 1, 0.0f, proj));
            lm_lstm_pack_min_steps = keep;
        }
    }
}

static void test_gradients(void)
{
    for (size_t i = 0; lm_arch_at(i); i++) {
        const lm_arch *a = lm_arch_at(i);
        CU_ASSERT(check_gradients(a, 0, 0.0f));
        CU_ASSERT(check_gradients(a, 1, 0.0f));
        CU_ASSERT(check_gradients(a, 0, 0.3f));
    }
}

/* The log-probabilities of ids[1..N) by steps and by the model's window scoring. */
static void proj(lm_config *c, const lm_arch *a);

static int step_equals_window_with(const lm_arch *a, int tied, tweak_fn tweak)
{
    lm_net *n = tiny_with(a, tied, 0.0f, tweak);
    if (!n)
        return 0;
    lm_model *m = th_model(n);
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (int32_t)(lm_rng_next(&rng) % V);
    float lp[N] = {0}, row[V], stepped[N] = {0};
    lm_error err;
    int ok = lm_kind_score(m, ids, N, 1, N, 1, lp, &err) == LM_OK;
    lm_state *s = NULL;
    ok &= lm_state_create(m, &s, &err) == LM_OK;
    for (int t = 0; ok && t + 1 < N; t++) {
        ok &= lm_step(m, s, ids[t], row, &err) == LM_OK;
        double sum = 0;
        for (int w = 0; w < V; w++)
            sum += exp((double)row[w]);
        if (fabs(sum - 1) > 1e-5) {
            printf("\n  %s: step %d sums to %.8f\n", a->name, t, sum);
            ok = 0;
        }
        stepped[t + 1] = row[ids[t + 1]];
    }
    char nm[64];
    snprintf(nm, sizeof nm, "%s step vs window", a->name);
    ok &= th_check_tensor(nm, stepped + 1, lp + 1, N - 1, STEP_TOL, STEP_TOL);
    lm_state_free(s);
    lm_net_free(n);
    return ok;
}

static void test_step_equals_window(void)
{
    for (size_t i = 0; lm_arch_at(i); i++) {
        CU_ASSERT(step_equals_window_with(lm_arch_at(i), 0, NULL));
        /* The tied head through a projection (and the training-only settings, inactive). */
        CU_ASSERT(step_equals_window_with(lm_arch_at(i), 1, proj));
        CU_ASSERT(step_equals_window_with(lm_arch_at(i), 0, adaptive));
    }
}

/* Steps k tokens of ids into s, the last distribution into row. */
static int feed(lm_model *m, lm_state *s, const int32_t *ids, size_t k, float *row)
{
    lm_error err;
    for (size_t i = 0; i < k; i++)
        if (lm_step(m, s, ids[i], row, &err))
            return 0;
    return 1;
}

static int state_contract_with(const lm_arch *a, tweak_fn tweak)
{
    lm_net *n = tiny_with(a, 0, 0.0f, tweak);
    if (!n)
        return 0;
    lm_model *m = th_model(n);
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (int32_t)(lm_rng_next(&rng) % V);
    lm_state *s = NULL, *c = NULL, *l = NULL, *f = NULL;
    lm_error err;
    float a1[V], a2[V], a3[V], a4[V];
    int ok = lm_state_create(m, &s, &err) == LM_OK && lm_state_create(m, &c, &err) == LM_OK &&
             lm_state_create(m, &l, &err) == LM_OK && lm_state_create(m, &f, &err) == LM_OK;
    ok = ok && feed(m, s, ids, 3, a1);
    /* Bytes as the architecture declares them, at every position. */
    ok &= lm_state_position(s) == 3;
    ok &= lm_state_bytes(s) == a->state_floats(&n->cfg, 1, 3) * sizeof(float);
    ok &= lm_state_bytes(f) == a->state_floats(&n->cfg, 1, 0) * sizeof(float);
    /* A copy and a saved-and-loaded state continue exactly like the original. */
    char path[512];
    snprintf(path, sizeof path, "%s/%s-state.h5", th_tmpdir(), a->name);
    ok = ok && lm_state_copy(c, s, &err) == LM_OK && lm_state_save(s, path, &err) == LM_OK &&
         lm_state_load(l, path, &err) == LM_OK;
    ok &= lm_state_position(l) == 3 && lm_state_bytes(l) == lm_state_bytes(s);
    ok = ok && feed(m, s, ids + 3, N - 3, a1) && feed(m, c, ids + 3, N - 3, a2) &&
         feed(m, l, ids + 3, N - 3, a3);
    ok &= !memcmp(a1, a2, sizeof a1) && !memcmp(a1, a3, sizeof a1);
    /* A reset state is a fresh one. */
    lm_state_reset(s);
    ok &= lm_state_position(s) == 0;
    ok = ok && feed(m, s, ids, N, a1) && feed(m, f, ids, N, a4);
    ok &= !memcmp(a1, a4, sizeof a1);
    if (!ok)
        printf("\n  %s: state contract failed (%s)\n", a->name, err.msg);
    lm_state_free(s);
    lm_state_free(c);
    lm_state_free(l);
    lm_state_free(f);
    lm_net_free(n);
    return ok;
}

static int state_contract(const lm_arch *a)
{
    return state_contract_with(a, NULL) && state_contract_with(a, adaptive);
}

static void test_state_contract(void)
{
    every_arch(state_contract);
}

static void awd(lm_config *c, const lm_arch *a);

static int save_load_with(const lm_arch *a, int tied, tweak_fn tweak)
{
    lm_net *n = tiny_with(a, tied, 0.1f, tweak);
    if (!n)
        return 0;
    char path[512];
    snprintf(path, sizeof path, "%s/%s.h5", th_tmpdir(), a->name);
    lm_error err;
    lm_model *back = NULL;
    int ok = lm_net_save(n, path, &err) == LM_OK && lm_model_load(path, &back, &err) == LM_OK;
    if (ok) {
        lm_net *b = lm_model_net(back);
        const lm_config *x = b ? &b->cfg : NULL, *y = &n->cfg;
        ok = b && b->table.n == n->table.n && b->table.total == n->table.total &&
             lm_vocab_equal(b->vocab, n->vocab) && !strcmp(x->arch, y->arch) &&
             x->vocab == y->vocab && x->embed == y->embed && x->hidden == y->hidden &&
             x->layers == y->layers && x->ffn == y->ffn && x->heads == y->heads &&
             x->context == y->context && x->dropout == y->dropout &&
             x->init_range == y->init_range && x->tied == y->tied && x->tokenize == y->tokenize &&
             x->lowercase == y->lowercase && x->dropout_embed == y->dropout_embed &&
             x->dropout_input == y->dropout_input && x->dropout_hidden == y->dropout_hidden &&
             x->dropout_output == y->dropout_output && x->weight_drop == y->weight_drop &&
             x->ar == y->ar && x->tar == y->tar && x->softmax == y->softmax &&
             x->n_cutoffs == y->n_cutoffs && x->div_value == y->div_value &&
             !memcmp(x->cutoffs, y->cutoffs, sizeof x->cutoffs);
        for (size_t i = 0; ok && i < n->table.n; i++) {
            const lm_param *p = &n->table.p[i];
            ok = !strcmp(b->table.p[i].name, p->name) && b->table.p[i].offset == p->offset &&
                 !memcmp(b->params + p->offset, n->params + p->offset,
                         lm_param_size(p) * sizeof(float));
        }
        ok = ok && !strcmp(lm_model_kind(back), a->name);
        if (!ok)
            printf("\n  %s: the loaded model differs", a->name);
    } else
        printf("\n  %s: %s\n", a->name, err.msg);
    lm_model_free(back);
    lm_net_free(n);
    return ok;
}

/* Tied with every regulariser; and the adaptive softmax. */
static int save_load(const lm_arch *a)
{
    return save_load_with(a, 1, awd) && save_load_with(a, 0, adaptive_awd);
}

static void test_save_load(void)
{
    every_arch(save_load);
}

/* A few Adam epochs on a periodic sequence lower the loss well below chance. */
static int learns_with(const lm_arch *a, tweak_fn tweak)
{
    enum { NT = 1200 };
    lm_net *n = tiny_with(a, 0, 0.0f, tweak);
    if (!n)
        return 0;
    int32_t *ids = malloc(NT * sizeof *ids);
    for (int i = 0; i < NT; i++)
        ids[i] = (int32_t)(LM_N_SPECIAL + (i * 5 % 7) % (V - LM_N_SPECIAL));
    lm_train_opts o;
    lm_train_opts_init(&o);
    o.batch = 4;
    o.bptt = 8;
    o.epochs = 4;
    o.optimizer = LM_OPT_ADAM;
    o.lr = 1e-2;
    o.decay_start = 0;
    lm_trainer *t = NULL;
    lm_error err;
    int ok = lm_trainer_create(th_model(n), &o, ids, NT, NULL, 0, &t, &err) == LM_OK;
    double first = 0, last = 0;
    for (int e = 0; ok && e < 4; e++) {
        lm_epoch_result r;
        ok = lm_trainer_run_epoch(t, NULL, &r, &err) == LM_OK;
        if (e == 0)
            first = r.train_loss;
        last = r.train_loss;
    }
    printf("\n  %s%s: train loss %.3f -> %.3f (chance %.3f)", a->name,
           tweak ? " adaptive" : "", first, last, log((double)V));
    ok &= last < 0.7 * first && last < 0.7 * log((double)V);
    lm_trainer_free(t);
    lm_net_free(n);
    free(ids);
    return ok;
}

/* The adaptive softmax with tails as wide as the output (div 1): the 2- and 1-wide tails of
 * the gradient checks need more than these few steps through an LSTM's bounded output. */
static void adaptive_wide(lm_config *c, const lm_arch *a)
{
    adaptive(c, a);
    c->div_value = 1.0f;
}

static int learns(const lm_arch *a)
{
    return learns_with(a, NULL) && learns_with(a, adaptive_wide);
}

static void test_training(void)
{
    every_arch(learns);
}

/* The test-only architecture is in the table like the others, and the CLI-facing calls know
 * it without a change anywhere. */
static void test_registered(void)
{
    size_t k = 0;
    while (lm_arch_name(k))
        k++;
    CU_ASSERT(k >= 4);
    CU_ASSERT_STRING_EQUAL(lm_arch_name(k - 1), "test-rnn");
    lm_config c;
    lm_config_init(&c);
    snprintf(c.arch, sizeof c.arch, "test-rnn");
    c.vocab = V;
    char d[128];
    lm_config_describe(&c, d, sizeof d);
    CU_ASSERT_STRING_EQUAL(d, "test-rnn, 2 layers, embed 200, hidden 200");
    lm_error err;
    CU_ASSERT(lm_config_check(&c, &err) == LM_OK);
    snprintf(c.arch, sizeof c.arch, "gru");
    CU_ASSERT(lm_config_check(&c, &err) == LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "lstm, rwkv, transformer or test-rnn"));
}

int main(void)
{
    lm_rng_seed(&rng, 4242);
    if (lm_arch_register(&rnn_arch) != LM_OK)
        return TEST_ERROR;
    static const th_test tests[] = {
        {"every architecture is in the table, the test one included", test_registered},
        {"whole-model gradients (plain, tied, dropout) vs finite differences", test_gradients},
        {"gradients with the AWD-LSTM regularisers (masks fixed), tied projection",
         test_gradients_awd},
        {"gradients with the adaptive softmax (plain, regularised)", test_gradients_adaptive},
        {"lm_step equals the window forward; steps sum to 1", test_step_equals_window},
        {"state copy, reset, save, load; bytes as declared", test_state_contract},
        {"save and load are bit-exact", test_save_load},
        {"a few epochs lower the loss", test_training},
        {NULL, NULL},
    };
    return th_run("contract", tests);
}
