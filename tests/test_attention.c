/* test_attention.c - the transformer: finite-difference gradient checks of the decoder stack
 * (attention, MLP, LayerNorm, position embedding, residual dropout) and of the whole model, a
 * PyTorch cross-check (tests/fixtures/attn_tiny.h5, made by tests/gen_fixtures_attn.py), cached
 * generation against recomputation, the cache's size, and training. */
#include "harness.h"
#include "model/model.h"
#include "nn/attention.h"
#include "probe/probe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Central differences in float need a step large enough to beat rounding. */
#define FD_EPS 1e-2
#define FD_RTOL 2e-3
#define FD_ATOL 2e-4
/* PyTorch (float64) against lstmlm (float32). */
#define TORCH_RTOL 1e-4
#define TORCH_ATOL 1e-6
/* Cached single-token steps against one forward over the window. */
#define STEP_TOL 1e-5

static lm_rng rng;

static void fill(float *x, size_t n, float r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2 * lm_rng_uniform(&rng) - 1) * r);
}

typedef th_loss_fn loss_fn;
/* Richardson extrapolation: LayerNorm and softmax have large second derivatives. */
static const th_fd FD = {FD_EPS, FD_RTOL, FD_ATOL, TH_FD_RICHARDSON};
static int fd_check(const char *name, float *x, const float *g, size_t n, loss_fn f, void *ud)
{
    return th_fd_check(&FD, name, x, g, n, f, ud);
}

/* ---- the decoder stack alone --------------------------------------------------------------
 * T = 4 steps with a context of 3: the window is cut into chunks of 3 and 1 steps, so the
 * chunked attention and the position wrap are checked too. */

enum { AT = 4, AB = 2, AD = 4, AH = 2, AF = 6, AL = 2, AC = 3 };

typedef struct stack_case {
    lm_attn_dims d;
    float *block, *gblock;
    size_t n_block;
    lm_attn_tensors p, g;
    float *ws, *X, *Y, *R, *dX;
    int train;
    uint64_t seed;
} stack_case;

static const size_t block_shape[LM_ATTN_PER_BLOCK] = {
    AD, AD, 3 * AD * AD, 3 * AD, AD * AD, AD, AD, AD, AF * AD, AF, AD * AF, AD};
static const char *const block_name[LM_ATTN_PER_BLOCK] = {
    "ln1.weight", "ln1.bias", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
    "attn.proj.bias", "ln2.weight", "ln2.bias", "mlp.fc.weight", "mlp.fc.bias",
    "mlp.proj.weight", "mlp.proj.bias"};

/* Points the tensors into one block (params or grads) in table order. */
static size_t bind(float *base, lm_attn_tensors *t)
{
    size_t off = 0;
    t->pos = base ? base + off : NULL;
    off += AC * AD;
    for (int l = 0; l < AL; l++)
        for (int k = 0; k < LM_ATTN_PER_BLOCK; k++) {
            t->b[l][k] = base ? base + off : NULL;
            off += block_shape[k];
        }
    t->lnf_w = base ? base + off : NULL;
    off += AD;
    t->lnf_b = base ? base + off : NULL;
    off += AD;
    return off;
}

/* loss = sum(Y * R). */
static double stack_loss(void *ud)
{
    stack_case *c = ud;
    lm_rng r;
    lm_rng_seed(&r, c->seed);
    lm_attn_forward(&c->d, &c->p, c->ws, c->X, c->Y, AT, AB, c->train, &r);
    double s = 0;
    for (size_t i = 0; i < AT * AB * AD; i++)
        s += (double)c->Y[i] * c->R[i];
    return s;
}

static void stack_gradcheck(float dropout)
{
    stack_case c = {.d = {.L = AL, .D = AD, .heads = AH, .F = AF, .C = AC, .dropout = dropout}};
    c.train = dropout > 0;
    c.seed = 99;
    c.n_block = bind(NULL, &c.p);
    c.block = lm_alloc_floats(c.n_block);
    c.gblock = lm_alloc_floats(c.n_block);
    bind(c.block, &c.p);
    bind(c.gblock, &c.g);
    fill(c.block, c.n_block, 0.5f);
    for (int l = 0; l < AL; l++)
        for (int j = 0; j < AD; j++) {
            c.p.b[l][LM_ATTN_LN1_W][j] += 1.0f;
            c.p.b[l][LM_ATTN_LN2_W][j] += 1.0f;
        }
    c.ws = lm_alloc_floats(lm_attn_ws_floats(&c.d, AT, AB));
    c.X = lm_alloc_floats(AT * AB * AD);
    c.Y = lm_alloc_floats(AT * AB * AD);
    c.R = lm_alloc_floats(AT * AB * AD);
    c.dX = lm_alloc_floats(AT * AB * AD);
    fill(c.X, AT * AB * AD, 1.0f);
    fill(c.R, AT * AB * AD, 1.0f);
    stack_loss(&c);
    lm_attn_backward(&c.d, &c.p, c.ws, c.R, c.dX, &c.g, AT, AB);
    float *ga = malloc(c.n_block * sizeof *ga);
    memcpy(ga, c.gblock, c.n_block * sizeof *ga);
    lm_attn_tensors gv;
    bind(ga, &gv);
    CU_ASSERT(fd_check("pos_embedding.weight", c.p.pos, gv.pos, AC * AD, stack_loss, &c));
    for (int l = 0; l < AL; l++)
        for (int k = 0; k < LM_ATTN_PER_BLOCK; k++) {
            char nm[64];
            snprintf(nm, sizeof nm, "blocks.%d.%s", l, block_name[k]);
            CU_ASSERT(fd_check(nm, c.p.b[l][k], gv.b[l][k], block_shape[k], stack_loss, &c));
        }
    CU_ASSERT(fd_check("ln_f.weight", c.p.lnf_w, gv.lnf_w, AD, stack_loss, &c));
    CU_ASSERT(fd_check("ln_f.bias", c.p.lnf_b, gv.lnf_b, AD, stack_loss, &c));
    float *gx = malloc(AT * AB * AD * sizeof *gx);
    memcpy(gx, c.dX, AT * AB * AD * sizeof *gx);
    CU_ASSERT(fd_check("dX", c.X, gx, AT * AB * AD, stack_loss, &c));
    /* The gradients are not all zero (a check that could not fail would prove nothing). */
    CU_ASSERT(lm_sumsq(ga, c.n_block) > 1e-3);
    CU_ASSERT(lm_sumsq(gv.pos + 0 * AD, AD) > 0 && lm_sumsq(gv.pos + 2 * AD, AD) > 0);
    free(gx);
    free(ga);
    lm_free(c.block);
    lm_free(c.gblock);
    lm_free(c.ws);
    lm_free(c.X);
    lm_free(c.Y);
    lm_free(c.R);
    lm_free(c.dX);
}

static void test_stack_gradcheck(void)
{
    stack_gradcheck(0.0f);
}

static void test_stack_gradcheck_dropout(void)
{
    stack_gradcheck(0.3f);
}

/* Causality: changing the input at step t changes no output before t (within its chunk and
 * across chunks), and a later chunk does not see an earlier one. */
static void test_stack_causal(void)
{
    lm_attn_dims d = {.L = AL, .D = AD, .heads = AH, .F = AF, .C = AC, .dropout = 0};
    lm_attn_tensors p;
    size_t n = bind(NULL, &p);
    float *block = lm_alloc_floats(n);
    bind(block, &p);
    fill(block, n, 0.5f);
    float *ws = lm_alloc_floats(lm_attn_ws_floats(&d, AT, AB));
    float X[AT * AB * AD], Y0[AT * AB * AD], Y1[AT * AB * AD];
    fill(X, AT * AB * AD, 1.0f);
    lm_attn_forward(&d, &p, ws, X, Y0, AT, AB, 0, NULL);
    /* Step 1 of stream 0 changes: steps 1 and 2 (same chunk) move, 0 and 3 do not. */
    X[(1 * AB + 0) * AD] += 0.5f;
    lm_attn_forward(&d, &p, ws, X, Y1, AT, AB, 0, NULL);
    for (size_t t = 0; t < AT; t++)
        for (size_t b = 0; b < AB; b++) {
            double diff = 0;
            for (size_t j = 0; j < AD; j++)
                diff += fabs(Y0[(t * AB + b) * AD + j] - Y1[(t * AB + b) * AD + j]);
            int should_move = b == 0 && (t == 1 || t == 2);
            CU_ASSERT(should_move ? diff > 1e-4 : diff == 0);
        }
    lm_free(ws);
    lm_free(block);
}

/* ---- models -------------------------------------------------------------------------------- */

static lm_vocab *make_vocab(size_t V)
{
    lm_vocab *v;
    if (lm_vocab_create(&v, NULL))
        return NULL;
    for (size_t i = LM_N_SPECIAL; i < V; i++) {
        char t[24];
        snprintf(t, sizeof t, "w%zu", i);
        lm_vocab_add(v, t, strlen(t), 1);
    }
    return v;
}

static lm_net *make_model(size_t V, size_t E, size_t H, size_t L, size_t F, size_t C,
                            int tied, float perturb)
{
    lm_config cfg;
    lm_config_init(&cfg);
    snprintf(cfg.arch, sizeof cfg.arch, "transformer");
    cfg.embed = E;
    cfg.heads = H;
    cfg.layers = L;
    cfg.ffn = F;
    cfg.context = C;
    cfg.tied = tied;
    cfg.init_range = 0.5f;
    lm_net *m;
    lm_error err;
    if (lm_net_create(&cfg, make_vocab(V), &rng, &m, &err)) {
        printf("model: %s\n", err.msg);
        return NULL;
    }
    /* GPT-2's small initial weights make every layer nearly linear: spread them out. */
    if (perturb > 0)
        for (size_t i = 0; i < m->table.n; i++) {
            const lm_param *p = &m->table.p[i];
            float *x = m->params + p->offset;
            for (size_t k = 0; k < lm_param_size(p); k++)
                x[k] += (float)((2 * lm_rng_uniform(&rng) - 1) * perturb);
        }
    return m;
}


/* ---- PyTorch cross-check ----------------------------------------------------------------- */

static void test_torch(void)
{
    lm_h5 *fx;
    lm_error err;
    const char *path = th_srcpath("tests/fixtures/attn_tiny.h5");
    if (lm_h5_open(path, &fx, &err)) {
        printf("cannot open the fixture: %s\n", err.msg);
        CU_FAIL_FATAL("fixture");
    }
    uint64_t dim[8];
    const char *names[8] = {"V", "E", "H", "L", "F", "C", "T", "B"};
    for (int i = 0; i < 8; i++)
        CU_ASSERT_FATAL(lm_h5_attr_u64(fx, "/", names[i], &dim[i], &err) == 0);
    size_t V = dim[0], E = dim[1], H = dim[2], L = dim[3], F = dim[4], C = dim[5], T = dim[6];
    size_t B = dim[7];
    lm_net *m = make_model(V, E, H, L, F, C, 0, 0);
    CU_ASSERT_FATAL(m != NULL);
    CU_ASSERT_FATAL(lm_block_read(m, fx, "/params", m->params, &err) == LM_OK);
    size_t N = T * B, dxy[2] = {T, B}, dl[3] = {T, B, V};
    int32_t *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    float *logits = malloc(N * V * sizeof *logits), *mine = malloc(N * V * sizeof *mine);
    double loss;
    CU_ASSERT_FATAL(lm_h5_read(fx, "/x", LM_H5_I32, x, 2, dxy, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/y", LM_H5_I32, y, 2, dxy, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/logits", LM_H5_F32, logits, 3, dl, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/loss", LM_H5_F64, &loss, 0, NULL, &err) == 0);
    lm_ws w;
    CU_ASSERT_FATAL(lm_ws_init(&w, m, T, B, &err) == 0);
    float *state = lm_alloc_floats(m->arch->state_floats(&m->cfg, B, 0));
    float *g = lm_alloc_floats(m->table.total), *want = lm_alloc_floats(m->table.total);
    lm_ce_acc acc = {0};
    lm_net_window(m, &w, x, y, T, B, state, 0, 1, NULL, g, 1.0f / (float)B, &acc);
    LM_ASSERT_CLOSE(acc.nll / (double)acc.n, loss, 0, TORCH_RTOL);
    const float *W = lm_tensor(m, m->params, m->i_head_w);
    const float *b = lm_tensor(m, m->params, m->i_head_b);
    for (size_t r = 0; r < N; r++)
        for (size_t j = 0; j < V; j++) {
            double s = b[j];
            for (size_t k = 0; k < E; k++)
                s += (double)w.out[r * E + k] * W[j * E + k];
            mine[r * V + j] = (float)s;
        }
    CU_ASSERT(th_check_tensor("logits", mine, logits, N * V, TORCH_ATOL, TORCH_RTOL));
    for (size_t i = 0; i < m->table.n; i++) {
        const lm_param *p = &m->table.p[i];
        char ds[128], nm[80];
        snprintf(ds, sizeof ds, "/grads/%s", p->name);
        size_t dims[2] = {p->rows, p->cols};
        CU_ASSERT_FATAL(lm_h5_read(fx, ds, LM_H5_F32, want + p->offset, p->cols ? 2 : 1, dims,
                                   &err) == 0);
        snprintf(nm, sizeof nm, "grad %s", p->name);
        CU_ASSERT(th_check_tensor(nm, g + p->offset, want + p->offset, lm_param_size(p),
                                  TORCH_ATOL, TORCH_RTOL));
    }
    lm_free(g);
    lm_free(want);
    lm_free(state);
    lm_ws_free(&w);
    free(x);
    free(y);
    free(logits);
    free(mine);
    lm_net_free(m);
    lm_h5_close(fx);
}

/* ---- cached generation ------------------------------------------------------------------- */

/* Next-token logits of one forward over the window ids[0..n) (positions 0..n-1). */
static void window_logits(lm_net *m, const int32_t *ids, size_t n, float *logits)
{
    size_t E = m->cfg.embed, V = m->cfg.vocab;
    lm_ws w;
    lm_error err;
    CU_ASSERT_FATAL(lm_ws_init(&w, m, n, 1, &err) == 0);
    float *state = lm_alloc_floats(m->arch->state_floats(&m->cfg, 1, 0));
    const float *emb = lm_tensor(m, m->params, m->i_emb);
    for (size_t i = 0; i < n; i++)
        memcpy(w.emb + i * E, emb + (size_t)ids[i] * E, E * sizeof(float));
    m->arch->forward(m, w.body, w.emb, w.out, state, 0, n, 1, 0, NULL);
    memcpy(logits, lm_tensor(m, m->params, m->i_head_b), V * sizeof(float));
    lm_gemv(false, V, E, 1.0f, lm_tensor(m, m->params, m->i_head_w), w.out + (n - 1) * E, 1.0f,
            logits);
    lm_log_softmax(logits, V, logits); /* lm_step gives log-probabilities */
    lm_free(state);
    lm_ws_free(&w);
}

/* lm_step token by token gives the logits of a forward over the tokens in the cache: the
 * whole prefix while it fits in the context C, then (the cache slides by re-encoding the last
 * C/2 tokens when full) between C/2 + 1 and C tokens. */
static void test_cached_generation(void)
{
    enum { V = 13, E = 8, H = 2, L = 2, C = 6, K = C / 2, N = 4 * C + 3 };
    lm_net *m = make_model(V, E, H, L, 0, C, 0, 0.4f);
    CU_ASSERT_FATAL(m != NULL);
    lm_state *s, *s2;
    lm_error err;
    CU_ASSERT_FATAL(lm_state_create(TH_M(m), &s, &err) == 0);
    CU_ASSERT_FATAL(lm_state_create(TH_M(m), &s2, &err) == 0);
    int32_t ids[N];
    for (int i = 0; i < N; i++)
        ids[i] = (int32_t)(lm_rng_next(&rng) % V);
    float got[V], want[V];
    size_t n = 0, per_token = 2 * L * E * sizeof(float), prev = lm_state_bytes(s);
    CU_ASSERT_EQUAL(prev, C * sizeof(float));
    int all_ok = 1;
    for (size_t p = 1; p <= N; p++) {
        if (n == C)
            n = K;
        n++;
        CU_ASSERT_FATAL(lm_step(TH_M(m), s, ids[p - 1], got, &err) == 0);
        window_logits(m, ids + p - n, n, want);
        char nm[64];
        snprintf(nm, sizeof nm, "step %zu (%zu tokens in the cache)", p, n);
        all_ok &= th_check_tensor(nm, got, want, V, STEP_TOL, STEP_TOL);
        /* The cache grows by 2 x layers x d floats per token up to the window. */
        size_t bytes = lm_state_bytes(s);
        CU_ASSERT_EQUAL(bytes - prev, p <= C ? per_token : 0);
        CU_ASSERT_EQUAL(bytes, (C + 2 * L * E * (p < C ? p : C)) * sizeof(float));
        prev = bytes;
        if (p == 2 * C + 1) {
            /* A saved and a copied cache continue exactly like the original. */
            char path[512];
            snprintf(path, sizeof path, "%s/state.h5", th_tmpdir());
            CU_ASSERT_FATAL(lm_state_save(s, path, &err) == 0);
            CU_ASSERT_FATAL(lm_state_load(s2, path, &err) == 0);
            CU_ASSERT_EQUAL(lm_state_position(s2), p);
        }
    }
    CU_ASSERT(all_ok);
    /* s2 holds the state after 2C+1 tokens: replay the rest. */
    lm_state *s3;
    CU_ASSERT_FATAL(lm_state_create(TH_M(m), &s3, &err) == 0);
    CU_ASSERT_FATAL(lm_state_copy(s3, s2, &err) == 0);
    for (size_t p = 2 * C + 2; p <= N; p++) {
        float a[V], b[V];
        CU_ASSERT_FATAL(lm_step(TH_M(m), s2, ids[p - 1], a, &err) == 0);
        CU_ASSERT_FATAL(lm_step(TH_M(m), s3, ids[p - 1], b, &err) == 0);
        if (p == N) {
            CU_ASSERT(memcmp(a, got, sizeof a) == 0);
            CU_ASSERT(memcmp(b, got, sizeof b) == 0);
        }
    }
    /* A reset starts over at position 0. */
    lm_state_reset(s);
    CU_ASSERT_FATAL(lm_step(TH_M(m), s, ids[0], got, &err) == 0);
    window_logits(m, ids, 1, want);
    CU_ASSERT(th_check_tensor("after reset", got, want, V, STEP_TOL, STEP_TOL));
    lm_state_free(s);
    lm_state_free(s2);
    lm_state_free(s3);
    lm_net_free(m);
}

/* A context of 1: every token is predicted from itself alone. */
/* lm_attn_cached, each variant this CPU runs, against the attention written out in double:
 * head widths that the AVX-512 kernel takes (16 .. 128) and one it leaves to the portable loop
 * (10), caches of 1 to 101 slots, the cache of the second of two layers; on 1 and on 2
 * threads (large caches split the heads), which must agree bit for bit. */
static void test_attn_cached_kernels(void)
{
    static const size_t shapes[][2] = {{512, 8}, {48, 3}, {256, 2}, {128, 1}, {40, 4}, {32, 2}};
    static const size_t lens[] = {0, 1, 15, 16, 17, 100};
    size_t threads0 = lm_pool_threads();
    for (size_t si = 0; si < sizeof shapes / sizeof *shapes; si++) {
        size_t D = shapes[si][0], H = shapes[si][1], hd = D / H, S = 4 * D;
        for (size_t li = 0; li < sizeof lens / sizeof *lens; li++) {
            size_t n = lens[li], m = n + 1;
            float *cache = malloc(m * S * sizeof(float)), *qkv = malloc(3 * D * sizeof(float));
            float *att = malloc(D * sizeof(float)), *sc = malloc(H * m * sizeof(float));
            float *one = malloc(D * sizeof(float));
            double *want = calloc(D, sizeof(double)), *p = malloc(m * sizeof(double));
            CU_ASSERT_FATAL(cache && qkv && att && sc && one && want && p);
            fill(cache, m * S, 1.0f);
            fill(qkv, 3 * D, 2.0f);
            const float *kv = cache + 2 * D;
            for (size_t h = 0; h < H; h++) {
                double mx = -INFINITY, sum = 0;
                for (size_t j = 0; j < m; j++) {
                    double d = 0;
                    for (size_t i = 0; i < hd; i++)
                        d += (double)qkv[h * hd + i] * kv[j * S + h * hd + i];
                    p[j] = d / sqrt((double)hd);
                    mx = p[j] > mx ? p[j] : mx;
                }
                for (size_t j = 0; j < m; j++)
                    sum += p[j] = exp(p[j] - mx);
                for (size_t j = 0; j < m; j++)
                    for (size_t i = 0; i < hd; i++)
                        want[h * hd + i] += p[j] / sum * kv[j * S + D + h * hd + i];
            }
            for (int k = 0; k <= 1; k++) {
                if (!lm_kernel_force(&lm_attn_kernel, k))
                    continue;
                for (size_t threads = 1; threads <= 2; threads++) {
                    lm_pool_set_threads(threads);
                    lm_attn_cached(D, H, S, n, qkv, kv, sc, threads == 1 ? one : att);
                }
                int ok = 1;
                for (size_t i = 0; i < D; i++)
                    ok &= fabs(one[i] - want[i]) <= 1e-6 + 1e-5 * fabs(want[i]);
                if (!ok)
                    printf("\n  D %zu, %zu heads, %zu slots, variant %d: differs\n", D, H, m, k);
                CU_ASSERT(ok);
                CU_ASSERT(memcmp(one, att, D * sizeof(float)) == 0);
            }
            free(cache), free(qkv), free(att), free(sc), free(one), free(want), free(p);
        }
    }
    lm_kernel_force(&lm_attn_kernel, -1);
    lm_pool_set_threads(threads0);
}

static void test_context_one(void)
{
    lm_net *m = make_model(7, 4, 1, 1, 0, 1, 1, 0.4f);
    CU_ASSERT_FATAL(m != NULL);
    lm_state *s;
    lm_error err;
    CU_ASSERT_FATAL(lm_state_create(TH_M(m), &s, &err) == 0);
    int32_t ids[5] = {3, 4, 5, 3, 6};
    for (int i = 0; i < 5; i++) {
        float got[7], want[7];
        CU_ASSERT_FATAL(lm_step(TH_M(m), s, ids[i], got, &err) == 0);
        window_logits(m, ids + i, 1, want);
        CU_ASSERT(th_check_tensor("context 1", got, want, 7, STEP_TOL, STEP_TOL));
    }
    CU_ASSERT_EQUAL(lm_state_bytes(s), (1 + 2 * 1 * 4) * sizeof(float));
    lm_state_free(s);
    lm_net_free(m);
}

/* ---- configuration, files, training ------------------------------------------------------ */

static void test_config(void)
{
    lm_config c;
    lm_config_init(&c);
    snprintf(c.arch, sizeof c.arch, "transformer");
    c.vocab = 10;
    c.embed = 12;
    c.heads = 5;
    lm_error err;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT(strstr(err.msg, "heads") != NULL);
    c.heads = 3;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    c.context = 0;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    c.context = 8;
    c.tied = 1;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    /* Parameter count: pos C*E, per block 12E^2 + 13E (ffn 4E), ln_f 2E. */
    lm_net *m = make_model(10, 12, 3, 2, 0, 8, 0, 0);
    CU_ASSERT_FATAL(m != NULL);
    size_t E = 12, want = 10 * E + 8 * E + 2 * (12 * E * E + 13 * E) + 2 * E + 10 * E + 10;
    CU_ASSERT_EQUAL(lm_model_n_params(TH_M(m)), want);
    CU_ASSERT_STRING_EQUAL(m->table.p[m->body_first].name, "pos_embedding.weight");
    CU_ASSERT_STRING_EQUAL(m->table.p[m->body_first + 3].name, "blocks.0.attn.qkv.weight");
    CU_ASSERT_EQUAL(m->table.p[m->body_first + 3].rows, 3 * E);
    /* Save and load are bit-exact. */
    char path[512];
    snprintf(path, sizeof path, "%s/tf.h5", th_tmpdir());
    lm_error e2;
    CU_ASSERT_FATAL(lm_net_save(m, path, &e2) == 0);
    lm_net *m2;
    CU_ASSERT_FATAL(lm_net_load(path, &m2, &e2) == 0);
    CU_ASSERT_STRING_EQUAL(lm_model_config(TH_M(m2))->arch, "transformer");
    CU_ASSERT_EQUAL(lm_model_config(TH_M(m2))->context, 8);
    CU_ASSERT_EQUAL(lm_model_config(TH_M(m2))->heads, 3);
    CU_ASSERT(memcmp(m->params, m2->params, m->table.total * sizeof(float)) == 0);
    lm_net_free(m2);
    lm_net_free(m);
}

/* ---- context probe ------------------------------------------------------------------------ */

/* -log p(ids[t]) after feeding ids[t-k..t) one token at a time from a reset state. */
static double step_nll(lm_net *m, lm_state *s, const int32_t *ids, size_t t, size_t k)
{
    size_t V = m->cfg.vocab;
    float *z = malloc(V * sizeof *z);
    lm_error err;
    lm_state_reset(s);
    for (size_t i = t - k; i < t; i++)
        CU_ASSERT_FATAL(lm_step(TH_M(m), s, ids[i], z, &err) == 0);
    double mx = z[0], sum = 0;
    for (size_t j = 1; j < V; j++)
        mx = z[j] > mx ? z[j] : mx;
    for (size_t j = 0; j < V; j++)
        sum += exp(z[j] - mx);
    double nll = mx + log(sum) - z[ids[t]];
    free(z);
    return nll;
}

/* The batched probe (window forwards, recurrent models in chunks of LM_PROBE_CHUNK steps with
 * the state carried, partial batches) scores what lm_step scores token by token; a transformer
 * sees at most its context. */
static void probe_matches_steps(lm_net *m)
{
    enum { NEED = 150, NT = 3 };
    size_t V = m->cfg.vocab, n = NEED + NT;
    int32_t *ids = malloc(n * sizeof *ids);
    for (size_t i = 0; i < n; i++)
        ids[i] = (int32_t)(lm_rng_next(&rng) % V);
    lm_context_opts o;
    lm_context_opts_init(&o);
    size_t ks[] = {1, 3, 40, 120, 150};
    o.n_ks = 5;
    memcpy(o.ks, ks, sizeof ks);
    o.n_ms = 2;
    o.ms[0] = 2;
    o.ms[1] = 100;
    o.targets = NT;
    o.batch = 2;
    lm_context_result r;
    lm_error err;
    CU_ASSERT_FATAL(lm_context_probe(TH_M(m), ids, n, &o, &r, &err) == 0);
    CU_ASSERT_EQUAL(r.targets, NT);
    CU_ASSERT_EQUAL(r.shuffle_context, 150);
    lm_state *s;
    CU_ASSERT_FATAL(lm_state_create(TH_M(m), &s, &err) == 0);
    size_t W = !strcmp(m->cfg.arch, "transformer") ? m->cfg.context : 0;
    for (size_t i = 0; i < o.n_ks; i++) {
        size_t k = W && W < ks[i] ? W : ks[i];
        CU_ASSERT_EQUAL(r.seen[i], k);
        double want = 0;
        for (size_t t = NEED; t < n; t++)
            want += step_nll(m, s, ids, t, k) / NT;
        LM_ASSERT_CLOSE(r.loss[i], want, 1e-5, 1e-5);
    }
    /* Nothing shuffled: the same contexts as k = 150. A shuffle changes the loss. */
    CU_ASSERT_EQUAL(r.loss_full, r.loss[4]);
    CU_ASSERT(r.shuffled[0] != r.loss_full);
    CU_ASSERT(isfinite(r.shuffled[1]));
    lm_state_free(s);
    /* Too short a text, a decreasing list. */
    CU_ASSERT_EQUAL(lm_context_probe(TH_M(m), ids, NEED, &o, &r, &err), LM_EINVAL);
    o.ks[1] = 1;
    CU_ASSERT_EQUAL(lm_context_probe(TH_M(m), ids, n, &o, &r, &err), LM_EINVAL);
    free(ids);
}

static void test_probe_lstm(void)
{
    lm_config cfg;
    lm_config_init(&cfg);
    cfg.embed = 6;
    cfg.hidden = 5;
    cfg.layers = 2;
    cfg.init_range = 0.5f;
    lm_net *m;
    lm_error err;
    CU_ASSERT_FATAL(lm_net_create(&cfg, make_vocab(17), &rng, &m, &err) == 0);
    probe_matches_steps(m);
    lm_net_free(m);
}

static void test_probe_transformer(void)
{
    lm_net *m = make_model(17, 8, 2, 2, 0, 50, 0, 0.3f);
    CU_ASSERT_FATAL(m != NULL);
    probe_matches_steps(m);
    lm_net_free(m);
}

static void test_effective_context(void)
{
    size_t ks[] = {1, 10, 100, 200, 500};
    double a[] = {6.0, 5.2, 5.0, 4.959, 4.955}; /* 5.0 is within 1% of 4.955 */
    CU_ASSERT_EQUAL(lm_context_effective(ks, a, 5, 0.01), 100);
    CU_ASSERT_EQUAL(lm_context_effective(ks, a, 5, 0.001), 200);
    CU_ASSERT_EQUAL(lm_context_effective(ks, a, 5, 0.0), 500);
    double b[] = {5.0, 5.0, 5.1, 5.2, 5.3}; /* no improvement at all */
    CU_ASSERT_EQUAL(lm_context_effective(ks, b, 5, 0.01), 1);
    double c[] = {6.0, 5.5, 5.4, 5.45, 5.0}; /* a late drop counts */
    CU_ASSERT_EQUAL(lm_context_effective(ks, c, 5, 0.01), 500);
}

int main(void)
{
    lm_rng_seed(&rng, 2024);
    static const th_test tests[] = {
        {"decoder stack gradients (two chunks)", test_stack_gradcheck},
        {"decoder stack gradients with residual dropout", test_stack_gradcheck_dropout},
        {"attention is causal within chunks", test_stack_causal},
        {"transformer lm vs pytorch: logits, loss, gradients", test_torch},
        {"cached generation equals recomputation, cache size", test_cached_generation},
        {"cached attention kernels against double sums", test_attn_cached_kernels},
        {"context of one token", test_context_one},
        {"configuration, parameter names, save and load", test_config},
        {"context probe of an lstm equals step-by-step scoring", test_probe_lstm},
        {"context probe of a transformer equals step-by-step scoring", test_probe_transformer},
        {"effective context length", test_effective_context},
        {NULL, NULL},
    };
    return th_run("attention", tests);
}
