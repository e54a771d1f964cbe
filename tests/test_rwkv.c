/* test_rwkv.c - the RWKV-4 architecture: finite-difference gradient checks of LayerNorm,
 * time-mix (time_decay and time_first included) and channel-mix over several steps with a
 * carried state, and of the whole model through lm_net_window; the WKV scan against a
 * double-precision log-space reference at extreme keys; the PyTorch cross-check
 * (tests/fixtures/rwkv_tiny.h5 from tests/gen_fixtures_rwkv.py); sequence mode against the
 * single-token step and a window boundary; finiteness over 10k generated tokens; save/load and
 * a short training run; weight drop against weights masked by hand. */
#include "harness.h"
#include "model/model.h"
#include "nn/rwkv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Central differences in float need a step large enough to beat rounding. */
#define FD_EPS 1e-2
#define FD_RTOL 2e-2
#define FD_ATOL 2e-4
/* PyTorch cross-check and sequence/step agreement. */
#define TORCH_RTOL 1e-4
#define TORCH_ATOL 1e-6
#define SEQ_TOL 1e-5

static lm_rng rng;

static void fill(float *x, size_t n, float lo, float hi)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(lo + (hi - lo) * lm_rng_uniform(&rng));
}

typedef th_loss_fn loss_fn;
/* A second chance at eps/4: the squared ReLU and the WKV scan's max have kinks. */
static const th_fd FD = {FD_EPS, FD_RTOL, FD_ATOL, TH_FD_RETRY};
static int fd_check(const char *name, float *x, const float *g, size_t n, loss_fn f, void *ud)
{
    return th_fd_check(&FD, name, x, g, n, f, ud);
}

/* fd_check on a copy of the analytic gradient (the loss function may overwrite it). */
static int fd_check_copy(const char *name, float *x, const float *g, size_t n, loss_fn f,
                         void *ud)
{
    float *ga = malloc(n * sizeof *ga);
    memcpy(ga, g, n * sizeof *ga);
    int ok = fd_check(name, x, ga, n, f, ud);
    free(ga);
    return ok;
}

static double dot(const float *a, const float *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += (double)a[i] * b[i];
    return s;
}

static int all_finite(const float *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* ---- one layer's tensors in two flat blocks (parameters and gradients) ----------------- */

enum { N_TENSORS = 18 };
static const char *const tnames[N_TENSORS] = {
    "ln1.weight", "ln1.bias", "ln2.weight", "ln2.bias", "att.time_decay", "att.time_first",
    "att.time_mix_k", "att.time_mix_v", "att.time_mix_r", "att.key.weight", "att.value.weight",
    "att.receptance.weight", "att.output.weight", "ffn.time_mix_k", "ffn.time_mix_r",
    "ffn.key.weight", "ffn.receptance.weight", "ffn.value.weight"};

typedef struct layer_blocks {
    float *p[N_TENSORS], *g[N_TENSORS];
    size_t n[N_TENSORS];
    lm_rwkv_layer lp, lg;
} layer_blocks;

static void bind(float *const t[N_TENSORS], lm_rwkv_layer *y)
{
    float **slot[N_TENSORS] = {
        &y->ln1_w, &y->ln1_b, &y->ln2_w, &y->ln2_b, &y->time_decay, &y->time_first,
        &y->att_mix_k, &y->att_mix_v, &y->att_mix_r, &y->att_key, &y->att_value,
        &y->att_receptance, &y->att_output, &y->ffn_mix_k, &y->ffn_mix_r, &y->ffn_key,
        &y->ffn_receptance, &y->ffn_value};
    for (int k = 0; k < N_TENSORS; k++)
        *slot[k] = t[k];
}

/* Random parameters in the ranges a trained model has (decays from fast to slow). */
static void layer_alloc(layer_blocks *lb, size_t d, size_t F)
{
    for (int k = 0; k < N_TENSORS; k++) {
        size_t n = d;
        if (k >= 9 && k <= 12)
            n = d * d;
        else if (k == 15 || k == 17)
            n = d * F;
        else if (k == 16)
            n = d * d;
        lb->n[k] = n;
        lb->p[k] = lm_alloc_floats(n);
        lb->g[k] = lm_alloc_floats(n);
        if (k == 0 || k == 2)
            fill(lb->p[k], n, 0.7f, 1.3f);
        else if (k == 1 || k == 3)
            fill(lb->p[k], n, -0.2f, 0.2f);
        else if (k == 4)
            fill(lb->p[k], n, -2.0f, 1.5f);
        else if (k == 5)
            fill(lb->p[k], n, -1.0f, 1.0f);
        else if ((k >= 6 && k <= 8) || k == 13 || k == 14)
            fill(lb->p[k], n, 0.0f, 1.0f);
        else
            fill(lb->p[k], n, -0.8f, 0.8f);
    }
    bind(lb->p, &lb->lp);
    bind(lb->g, &lb->lg);
}

static void layer_free(layer_blocks *lb)
{
    for (int k = 0; k < N_TENSORS; k++) {
        lm_free(lb->p[k]);
        lm_free(lb->g[k]);
    }
}

/* ---- LayerNorm ---------------------------------------------------------------------------- */

enum { LN_N = 3, LN_D = 5 };
typedef struct ln_case {
    float x[LN_N * LN_D], w[LN_D], b[LN_D], y[LN_N * LN_D], r[LN_N * LN_D], mean[LN_N],
        rstd[LN_N];
} ln_case;

static double ln_loss(void *ud)
{
    ln_case *c = ud;
    lm_layernorm_forward(LN_N, LN_D, c->x, c->w, c->b, c->y, c->mean, c->rstd);
    return dot(c->y, c->r, LN_N * LN_D);
}

static void test_layernorm_gradcheck(void)
{
    ln_case c;
    fill(c.x, LN_N * LN_D, -2, 2);
    fill(c.w, LN_D, 0.5f, 1.5f);
    fill(c.b, LN_D, -0.5f, 0.5f);
    fill(c.r, LN_N * LN_D, -1, 1);
    ln_loss(&c);
    /* Mean 0 and variance 1 before the affine part. */
    for (int i = 0; i < LN_N; i++) {
        double m = 0, v = 0;
        for (int j = 0; j < LN_D; j++)
            m += (c.x[i * LN_D + j] - c.mean[i]) * c.rstd[i];
        for (int j = 0; j < LN_D; j++) {
            double z = (c.x[i * LN_D + j] - c.mean[i]) * c.rstd[i];
            v += z * z;
        }
        LM_ASSERT_CLOSE(m / LN_D, 0.0, 1e-6, 0);
        LM_ASSERT_CLOSE(v / LN_D, 1.0, 1e-3, 0);
    }
    float dx[LN_N * LN_D] = {0}, dw[LN_D] = {0}, db[LN_D] = {0};
    lm_layernorm_backward(LN_N, LN_D, c.x, c.w, c.mean, c.rstd, c.r, dx, dw, db);
    CU_ASSERT(fd_check("layernorm dx", c.x, dx, LN_N * LN_D, ln_loss, &c));
    CU_ASSERT(fd_check("layernorm weight", c.w, dw, LN_D, ln_loss, &c));
    CU_ASSERT(fd_check("layernorm bias", c.b, db, LN_D, ln_loss, &c));
}

/* ---- time-mix and channel-mix over T steps with a carried state ------------------------- */

enum { MT = 4, MB = 2, MD = 5, MF = 7 };
typedef struct mix_case {
    int ffn;
    layer_blocks lb;
    float *x, *out, *R, *dx, *state0, *state, *cache, *scratch;
} mix_case;

static void mix_forward(mix_case *c)
{
    memcpy(c->state, c->state0, LM_RWKV_SLOTS * MB * MD * sizeof(float));
    if (c->ffn) {
        lm_rwkv_ffn_cache fc = lm_rwkv_ffn_cache_view(c->cache, MT, MB, MD, MF);
        lm_rwkv_ffn_forward(MT, MB, MD, MF, &c->lb.lp, c->x, c->state, &fc, c->out);
    } else {
        lm_rwkv_att_cache ac = lm_rwkv_att_cache_view(c->cache, MT, MB, MD);
        lm_rwkv_att_forward(MT, MB, MD, &c->lb.lp, c->x, c->state, &ac, c->out, c->scratch);
    }
}

/* loss = sum(out * R) from the carried state0. */
static double mix_loss(void *ud)
{
    mix_case *c = ud;
    mix_forward(c);
    return dot(c->out, c->R, MT * MB * MD);
}

static void mix_gradcheck(int ffn)
{
    mix_case c = {.ffn = ffn};
    size_t N = MT * MB, S = LM_RWKV_SLOTS * MB * MD;
    layer_alloc(&c.lb, MD, MF);
    c.x = lm_alloc_floats(N * MD);
    c.out = lm_alloc_floats(N * MD);
    c.R = lm_alloc_floats(N * MD);
    c.dx = lm_alloc_floats(N * MD);
    c.state0 = lm_alloc_floats(S);
    c.state = lm_alloc_floats(S);
    size_t cf = ffn ? lm_rwkv_ffn_cache_floats(MT, MB, MD, MF)
                    : lm_rwkv_att_cache_floats(MT, MB, MD);
    c.cache = lm_alloc_floats(cf);
    c.scratch = lm_alloc_floats(lm_rwkv_scratch_floats(MT, MB, MD, MF));
    /* A first window from the empty state makes the carried state. */
    lm_rwkv_dims dm = {.L = 1, .d = MD, .F = MF};
    lm_rwkv_state_reset(&dm, c.state0, MB);
    fill(c.x, N * MD, -1.5f, 1.5f);
    memcpy(c.state, c.state0, S * sizeof(float));
    mix_forward(&c);
    memcpy(c.state0, c.state, S * sizeof(float));
    if (ffn) {
        CU_ASSERT(lm_sumsq(c.state0 + LM_RWKV_FFN_XX * MB * MD, MB * MD) > 0.1);
    } else {
        CU_ASSERT(lm_sumsq(c.state0 + LM_RWKV_ATT_XX * MB * MD, MB * MD) > 0.1);
        CU_ASSERT(lm_sumsq(c.state0 + LM_RWKV_BB * MB * MD, MB * MD) > 0.1);
        for (size_t i = 0; i < MB * MD; i++)
            CU_ASSERT(fabsf(c.state0[LM_RWKV_PP * MB * MD + i]) < 100);
    }
    fill(c.x, N * MD, -1.5f, 1.5f);
    fill(c.R, N * MD, -1, 1);
    mix_loss(&c);
    if (ffn) {
        lm_rwkv_ffn_cache fc = lm_rwkv_ffn_cache_view(c.cache, MT, MB, MD, MF);
        lm_rwkv_ffn_backward(MT, MB, MD, MF, &c.lb.lp, c.x, &fc, c.R, c.dx, &c.lb.lg, c.scratch);
    } else {
        lm_rwkv_att_cache ac = lm_rwkv_att_cache_view(c.cache, MT, MB, MD);
        lm_rwkv_att_backward(MT, MB, MD, &c.lb.lp, c.x, &ac, c.R, c.dx, &c.lb.lg, c.scratch);
    }
    int first = ffn ? 13 : 4, last = ffn ? 17 : 12;
    for (int k = 0; k < N_TENSORS; k++) {
        if (k < first || k > last) {
            /* Tensors of the other half get nothing. */
            CU_ASSERT(lm_sumsq(c.lb.g[k], c.lb.n[k]) == 0);
            continue;
        }
        CU_ASSERT(lm_sumsq(c.lb.g[k], c.lb.n[k]) > 0);
        CU_ASSERT(fd_check_copy(tnames[k], c.lb.p[k], c.lb.g[k], c.lb.n[k], mix_loss, &c));
    }
    CU_ASSERT(fd_check_copy(ffn ? "channel-mix dx" : "time-mix dx", c.x, c.dx, N * MD, mix_loss,
                            &c));
    layer_free(&c.lb);
    lm_free(c.x);
    lm_free(c.out);
    lm_free(c.R);
    lm_free(c.dx);
    lm_free(c.state0);
    lm_free(c.state);
    lm_free(c.cache);
    lm_free(c.scratch);
}

static void test_timemix_gradcheck(void)
{
    mix_gradcheck(0);
}

static void test_chanmix_gradcheck(void)
{
    mix_gradcheck(1);
}

/* The scan at extreme keys (|k| up to ~60, decays from e^-5 to e^3) agrees with a log-space
 * double reference, and the backward stays finite. */
static void test_wkv_extreme(void)
{
    enum { T = 50, B = 1, D = 8 };
    layer_blocks lb;
    layer_alloc(&lb, D, 4);
    for (size_t i = 0; i < D * D; i++)
        lb.p[9][i] *= 25.0f; /* att.key */
    for (size_t j = 0; j < D; j++)
        lb.p[4][j] = -5.0f + 8.0f * (float)j / (D - 1);
    lm_rwkv_dims dm = {.L = 1, .d = D, .F = 4};
    float *x = lm_alloc_floats(T * D), *out = lm_alloc_floats(T * D), *dx = lm_alloc_floats(T * D);
    float *st = lm_alloc_floats(LM_RWKV_SLOTS * D);
    float *cache = lm_alloc_floats(lm_rwkv_att_cache_floats(T, B, D));
    float *scratch = lm_alloc_floats(lm_rwkv_scratch_floats(T, B, D, 4));
    fill(x, T * D, -2, 2);
    lm_rwkv_state_reset(&dm, st, B);
    lm_rwkv_att_cache c = lm_rwkv_att_cache_view(cache, T, B, D);
    lm_rwkv_att_forward(T, B, D, &lb.lp, x, st, &c, out, scratch);
    double kmax = 0;
    int ok = 1;
    for (size_t j = 0; j < D; j++) {
        double w = -exp(lb.p[4][j]), u = lb.p[5][j];
        for (size_t t = 0; t < T; t++) {
            /* wkv_t = sum_i<t e^(k_i + (t-1-i) w) v_i + e^(u + k_t) v_t over the same without v. */
            double e[T + 1], m = -1e300;
            for (size_t i = 0; i <= t; i++) {
                e[i] = i < t ? c.k[i * D + j] + (double)(t - 1 - i) * w : u + c.k[t * D + j];
                m = e[i] > m ? e[i] : m;
            }
            double num = 0, den = 0;
            for (size_t i = 0; i <= t; i++) {
                num += exp(e[i] - m) * c.v[i * D + j];
                den += exp(e[i] - m);
            }
            double want = num / den, got = c.wkv[t * D + j];
            if (!(fabs(got - want) <= 1e-4 * (1 + fabs(want)))) {
                if (ok)
                    printf("\n  wkv[%zu][%zu] = %.8g, reference %.8g\n", t, j, got, want);
                ok = 0;
            }
            kmax = fabs(c.k[t * D + j]) > kmax ? fabs(c.k[t * D + j]) : kmax;
        }
    }
    CU_ASSERT(ok);
    CU_ASSERT(kmax > 30);
    CU_ASSERT(all_finite(st, LM_RWKV_SLOTS * D));
    float *R = lm_alloc_floats(T * D);
    fill(R, T * D, -1, 1);
    lm_rwkv_att_backward(T, B, D, &lb.lp, x, &c, R, dx, &lb.lg, scratch);
    CU_ASSERT(all_finite(dx, T * D));
    for (int k = 4; k <= 12; k++)
        CU_ASSERT(all_finite(lb.g[k], lb.n[k]));
    lm_free(R);
    lm_free(x);
    lm_free(out);
    lm_free(dx);
    lm_free(st);
    lm_free(cache);
    lm_free(scratch);
    layer_free(&lb);
}

/* ---- the whole model -------------------------------------------------------------------- */

static lm_net *tiny_model(size_t V, size_t d, size_t F, size_t L, int tied, float dropout)
{
    lm_vocab *v;
    if (lm_vocab_create(&v, NULL))
        return NULL;
    for (size_t i = LM_N_SPECIAL; i < V; i++) {
        char t[16];
        snprintf(t, sizeof t, "w%zu", i);
        lm_vocab_add(v, t, strlen(t), 1);
    }
    lm_config cfg;
    lm_config_init(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "rwkv");
    cfg.embed = d;
    cfg.ffn = F;
    cfg.layers = L;
    cfg.tied = tied;
    cfg.dropout = dropout;
    lm_net *m;
    lm_error err;
    if (lm_net_create(&cfg, v, &rng, &m, &err)) {
        printf("model: %s\n", err.msg);
        return NULL;
    }
    return m;
}

/* Replaces the initial parameters (whose zero output projections would hide most paths) with
 * random ones: LayerNorm weights near 1, mixes in [0, 1], decays spread, embeddings +-2 (so ln0
 * is not too curved for central differences), the rest +-0.6. */
static void randomize(lm_net *m)
{
    for (size_t i = 0; i < m->table.n; i++) {
        const lm_param *p = &m->table.p[i];
        float *x = m->params + p->offset;
        size_t n = lm_param_size(p);
        if (strstr(p->name, "ln") && strstr(p->name, ".weight"))
            fill(x, n, 0.7f, 1.3f);
        else if (strstr(p->name, "time_mix"))
            fill(x, n, 0.0f, 1.0f);
        else if (strstr(p->name, "time_decay"))
            fill(x, n, -2.0f, 1.5f);
        else if (!strcmp(p->name, "embedding.weight"))
            fill(x, n, -2.0f, 2.0f);
        else
            fill(x, n, -0.6f, 0.6f);
    }
}

enum { WT = 3, WB = 2 };

/* ---- PyTorch cross-check ------------------------------------------------------------------ */

static void test_torch_fixture(void)
{
    enum { V = 11, D = 6, F = 10, L = 2, T = 4, B = 2 };
    lm_h5 *fx;
    lm_error err;
    if (lm_h5_open(th_srcpath("tests/fixtures/rwkv_tiny.h5"), &fx, &err)) {
        printf("cannot open the fixture: %s\n", err.msg);
        CU_FAIL_FATAL("fixture");
    }
    lm_net *m = tiny_model(V, D, F, L, 0, 0.0f);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_FATAL(lm_block_read(m, fx, "/params", m->params, &err) == LM_OK);
    int32_t x0[T * B], x[T * B], y[T * B];
    size_t dxy[2] = {T, B}, dl[3] = {T, B, V}, ds[3] = {L, B, D};
    float logits[T * B * V], want_s[4][L * B * D];
    double loss;
    CU_ASSERT_FATAL(lm_h5_read(fx, "/x0", LM_H5_I32, x0, 2, dxy, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/x", LM_H5_I32, x, 2, dxy, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/y", LM_H5_I32, y, 2, dxy, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/logits", LM_H5_F32, logits, 3, dl, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/loss", LM_H5_F64, &loss, 0, NULL, &err) == 0);
    const char *sn[4] = {"/state1/att_xx", "/state1/A", "/state1/B", "/state1/ffn_xx"};
    for (int k = 0; k < 4; k++)
        CU_ASSERT_FATAL(lm_h5_read(fx, sn[k], LM_H5_F32, want_s[k], 3, ds, &err) == 0);

    lm_ws w;
    CU_ASSERT_FATAL(lm_ws_init(&w, m, T, B, &err) == 0);
    size_t sf = m->arch->state_floats(&m->cfg, B, 0);
    float *state = lm_alloc_floats(sf), *g = lm_alloc_floats(m->table.total);
    m->arch->state_reset(&m->cfg, state, B);
    lm_ce_acc acc0 = {0}, acc = {0};
    lm_net_window(m, &w, x0, x0, T, B, state, 0, 0, NULL, NULL, 0, &acc0);
    lm_net_window(m, &w, x, y, T, B, state, T, 1, NULL, g, 1.0f / B, &acc);
    LM_ASSERT_CLOSE(acc.nll / acc.n, loss, 0, TORCH_RTOL);
    /* Logits from the body output kept in the workspace. */
    float mine[T * B * V];
    const float *W = lm_tensor(m, m->params, m->i_head_w);
    const float *bb = lm_tensor(m, m->params, m->i_head_b);
    for (size_t r = 0; r < T * B; r++)
        for (size_t j = 0; j < V; j++) {
            double s = bb[j];
            for (size_t k = 0; k < D; k++)
                s += (double)w.out[r * D + k] * W[j * D + k];
            mine[r * V + j] = (float)s;
        }
    CU_ASSERT(th_check_tensor("logits", mine, logits, T * B * V, TORCH_ATOL, TORCH_RTOL));
    /* Final state: token shifts directly, the sums as aa e^pp and bb e^pp. */
    float got[4][L * B * D];
    for (size_t l = 0; l < L; l++)
        for (size_t i = 0; i < B * D; i++) {
            const float *st = state + LM_RWKV_SLOTS * l * B * D;
            float pp = st[LM_RWKV_PP * B * D + i];
            got[0][l * B * D + i] = st[LM_RWKV_ATT_XX * B * D + i];
            got[1][l * B * D + i] = (float)(st[LM_RWKV_AA * B * D + i] * exp(pp));
            got[2][l * B * D + i] = (float)(st[LM_RWKV_BB * B * D + i] * exp(pp));
            got[3][l * B * D + i] = st[LM_RWKV_FFN_XX * B * D + i];
        }
    for (int k = 0; k < 4; k++)
        CU_ASSERT(th_check_tensor(sn[k], got[k], want_s[k], L * B * D, TORCH_ATOL, TORCH_RTOL));
    float *want = lm_alloc_floats(m->table.total);
    for (size_t i = 0; i < m->table.n; i++) {
        const lm_param *p = &m->table.p[i];
        char path[96], nm[96];
        snprintf(path, sizeof path, "/grads/%s", p->name);
        size_t dims[2] = {p->rows, p->cols};
        CU_ASSERT_FATAL(lm_h5_read(fx, path, LM_H5_F32, want + p->offset, p->cols ? 2 : 1, dims,
                                   &err) == 0);
        snprintf(nm, sizeof nm, "grad %s", p->name);
        CU_ASSERT(th_check_tensor(nm, g + p->offset, want + p->offset, lm_param_size(p),
                                  TORCH_ATOL, TORCH_RTOL));
    }
    lm_free(want);
    lm_free(state);
    lm_free(g);
    lm_ws_free(&w);
    lm_net_free(m);
    lm_h5_close(fx);
}

/* ---- sequence mode vs single-token mode, window boundaries -------------------------------- */

enum { SEQ = 64 };

/* 10k generated tokens (sampled from the model itself) stay finite, with a fixed state size. */
static void test_long_generation_finite(void)
{
    enum { V = 13, N = 10000 };
    lm_net *m = tiny_model(V, 8, 16, 2, 0, 0.0f);
    CU_ASSERT_FATAL(m != NULL);
    randomize(m);
    lm_state *s;
    lm_error err;
    CU_ASSERT_FATAL(lm_state_create(TH_M(m), &s, &err) == 0);
    size_t bytes = lm_state_bytes(s);
    float logits[V];
    int32_t tok = 3;
    int finite = 1;
    for (int i = 0; i < N && finite; i++) {
        CU_ASSERT_FATAL(lm_step(TH_M(m), s, tok, logits, &err) == 0);
        finite = all_finite(logits, V);
        double mx = -1e30, z = 0, u = lm_rng_uniform(&rng);
        for (int j = 0; j < V; j++)
            mx = logits[j] > mx ? logits[j] : mx;
        for (int j = 0; j < V; j++)
            z += exp(logits[j] - mx);
        tok = V - 1;
        for (int j = 0; j < V; j++) {
            u -= exp(logits[j] - mx) / z;
            if (u <= 0) {
                tok = j;
                break;
            }
        }
    }
    CU_ASSERT(finite);
    CU_ASSERT_EQUAL(lm_state_position(s), N);
    CU_ASSERT_EQUAL(lm_state_bytes(s), bytes);
    lm_state_free(s);
    lm_net_free(m);
}

/* Weight drop: a training forward with weight_drop equals a forward without it on weights
 * masked by hand, the four time-mix matrices of each layer in order, with the same draws, and
 * so does its backward (input gradients equal, the weight gradients those of the masked
 * weights times the mask: exact, where finite differences blur near a kink); and it differs
 * from the undropped forward. Windows of one step (generation) drop nothing. */
static const float *wd_forward(lm_net *m, size_t T, size_t B, const float *X, int train,
                               uint64_t seed, float *ws, float *state, float *Y)
{
    lm_rng r;
    lm_rng_seed(&r, seed);
    m->arch->state_reset(&m->cfg, state, B);
    m->arch->forward(m, ws, X, Y, state, 0, T, B, train, &r);
    return Y;
}

static void test_weight_drop(void)
{
    enum { V = 11, D = 8, F = 12, L = 2, T = 5, B = 3, N = T * B };
    lm_net *m = tiny_model(V, D, F, L, 0, 0.0f);
    CU_ASSERT_FATAL(m != NULL);
    randomize(m);
    m->cfg.weight_drop = 0.5f;
    float *ws = calloc(m->arch->ws_floats(&m->cfg, T, B), sizeof(float));
    float *state = calloc(m->arch->state_floats(&m->cfg, B, 0), sizeof(float));
    float X[N * D], Yd[N * D], Yh[N * D], Y0[N * D], dY[N * D], dXd[N * D], dXh[N * D];
    float mask[L][4][D * D];
    const lm_param *mp[L][4];
    CU_ASSERT_FATAL(ws && state);
    fill(X, N * D, -1.0f, 1.0f);
    fill(dY, N * D, -1.0f, 1.0f);
    size_t np = m->table.total;
    float *saved = malloc(np * sizeof(float)), *gd = calloc(np, sizeof(float)),
          *gh = calloc(np, sizeof(float));
    CU_ASSERT_FATAL(saved && gd && gh);
    wd_forward(m, T, B, X, 1, 7, ws, state, Yd);
    m->arch->backward(m, ws, X, dY, dXd, gd, T, B);
    /* By hand: the same draws, layer by layer, key, value, receptance, output. */
    memcpy(saved, m->params, np * sizeof(float));
    lm_rng r;
    lm_rng_seed(&r, 7);
    static const char *const mats[] = {"key", "value", "receptance", "output"};
    for (size_t l = 0; l < L; l++)
        for (size_t k = 0; k < 4; k++) {
            char name[64];
            snprintf(name, sizeof name, "blocks.%zu.att.%s.weight", l, mats[k]);
            const lm_param *p = NULL;
            for (size_t i = 0; i < m->table.n; i++)
                if (!strcmp(m->table.p[i].name, name))
                    p = &m->table.p[i];
            CU_ASSERT_FATAL(p != NULL && lm_param_size(p) == D * D);
            lm_dropout_mask(mask[l][k], D * D, 0.5f, &r);
            float *w = m->params + p->offset;
            lm_mul(w, w, mask[l][k], D * D);
            mp[l][k] = p;
        }
    m->cfg.weight_drop = 0.0f;
    wd_forward(m, T, B, X, 1, 7, ws, state, Yh);
    CU_ASSERT(memcmp(Yd, Yh, sizeof Yd) == 0);
    m->arch->backward(m, ws, X, dY, dXh, gh, T, B);
    CU_ASSERT(th_check_tensor("weight drop dX", dXd, dXh, N * D, 1e-7, 1e-6));
    for (size_t l = 0; l < L; l++)
        for (size_t k = 0; k < 4; k++) {
            float *t = gh + mp[l][k]->offset;
            lm_mul(t, t, mask[l][k], D * D);
        }
    CU_ASSERT(th_check_tensor("weight drop gradients", gd, gh, np, 1e-7, 1e-6));
    memcpy(m->params, saved, np * sizeof(float));
    wd_forward(m, T, B, X, 0, 7, ws, state, Y0);
    CU_ASSERT(memcmp(Yd, Y0, sizeof Yd) != 0);
    /* One-step windows: nothing dropped, even in training. */
    m->cfg.weight_drop = 0.5f;
    wd_forward(m, 1, B, X, 1, 7, ws, state, Yd);
    m->cfg.weight_drop = 0.0f;
    wd_forward(m, 1, B, X, 0, 7, ws, state, Y0);
    CU_ASSERT(memcmp(Yd, Y0, B * D * sizeof(float)) == 0);
    free(saved);
    free(gd);
    free(gh);
    free(ws);
    free(state);
    lm_net_free(m);
}

int main(void)
{
    /* RWKV_TEST_SEED overrides the seed of the random cases (for sweeps over many seeds). */
    const char *seed = getenv("RWKV_TEST_SEED");
    lm_rng_seed(&rng, seed ? strtoull(seed, NULL, 10) : 2024);
    static const th_test tests[] = {
        {"layernorm gradients", test_layernorm_gradcheck},
        {"time-mix gradients over 4 steps, carried state", test_timemix_gradcheck},
        {"channel-mix gradients over 4 steps, carried state", test_chanmix_gradcheck},
        {"wkv scan at extreme keys vs log-space double reference", test_wkv_extreme},
        {"rwkv lm logits, state, loss and gradients vs pytorch", test_torch_fixture},
        {"10k generated tokens stay finite", test_long_generation_finite},
        {"weight drop: forward and backward equal hand-masked weights", test_weight_drop},
        {NULL, NULL},
    };
    return th_run("rwkv", tests);
}
