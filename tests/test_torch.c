/* test_torch.c - cross-checks the LSTM language model against PyTorch reference outputs
 * (tests/fixtures/lstm_tiny.h5, made by tests/gen_fixtures.py): logits, final state, loss, every
 * gradient, one Adam step, and five steps of the SGD training loop; and the adaptive softmax
 * head against torch.nn.AdaptiveLogSoftmaxWithLoss (tests/fixtures/adaptive_tiny.h5, made by
 * tests/gen_fixtures_adaptive.py): loss, per-row and full log-probabilities, every gradient. */
#include "harness.h"
#include "model/model.h"
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RTOL 1e-4
#define ATOL 1e-6

enum { V = 11, E = 5, H = 6, L = 2, T = 4, B = 2 };

static lm_h5 *fx;
static lm_net *m;

/* A model of the fixture's shape with the fixture's initial parameters. */
static lm_net *fixture_model(void)
{
    lm_vocab *v;
    if (lm_vocab_create(&v, NULL))
        return NULL;
    for (int i = LM_N_SPECIAL; i < V; i++) {
        char t[8];
        snprintf(t, sizeof t, "w%d", i);
        lm_vocab_add(v, t, strlen(t), 1);
    }
    lm_config c;
    lm_config_init(&c);
    c.embed = E;
    c.hidden = H;
    c.layers = L;
    lm_net *mm;
    lm_rng rng;
    lm_rng_seed(&rng, 1);
    lm_error err;
    if (lm_net_create(&c, v, &rng, &mm, &err) || lm_block_read(mm, fx, "/params", mm->params, &err)) {
        printf("fixture model: %s\n", err.msg);
        return NULL;
    }
    return mm;
}

/* Reads the fixture dataset `path` shaped like tensor i into out. */
static int read_like(const char *group, size_t i, float *out)
{
    const lm_param *p = &m->table.p[i];
    char path[128];
    snprintf(path, sizeof path, "%s/%s", group, p->name);
    size_t dims[2] = {p->rows, p->cols};
    lm_error err;
    if (lm_h5_read(fx, path, LM_H5_F32, out, p->cols ? 2 : 1, dims, &err)) {
        printf("%s\n", err.msg);
        return 0;
    }
    return 1;
}

static void test_forward_backward(void)
{
    int32_t x[T * B], y[T * B];
    size_t dxy[2] = {T, B}, ds[3] = {L, B, H}, dl[3] = {T, B, V};
    float state[2 * L * B * H], h1[L * B * H], c1[L * B * H], logits[T * B * V];
    double loss;
    lm_error err;
    CU_ASSERT_FATAL(lm_h5_read(fx, "/x", LM_H5_I32, x, 2, dxy, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/y", LM_H5_I32, y, 2, dxy, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/h0", LM_H5_F32, state, 3, ds, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/c0", LM_H5_F32, state + L * B * H, 3, ds, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/h1", LM_H5_F32, h1, 3, ds, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/c1", LM_H5_F32, c1, 3, ds, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/logits", LM_H5_F32, logits, 3, dl, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/loss", LM_H5_F64, &loss, 0, NULL, &err) == 0);

    lm_ws w;
    CU_ASSERT_FATAL(lm_ws_init(&w, m, T, B, &err) == 0);
    float *g = lm_alloc_floats(m->table.total);
    lm_ce_acc acc = {0};
    lm_net_window(m, &w, x, y, T, B, state, 0, 1, NULL, g, 1.0f / B, &acc);
    LM_ASSERT_CLOSE(acc.nll / acc.n, loss, 0, RTOL);
    CU_ASSERT(th_check_tensor("h1", state, h1, L * B * H, ATOL, RTOL));
    CU_ASSERT(th_check_tensor("c1", state + L * B * H, c1, L * B * H, ATOL, RTOL));
    /* Logits: recompute from the body output kept in the workspace. */
    float mine[T * B * V];
    const float *W = lm_tensor(m, m->params, m->i_head_w), *b = lm_tensor(m, m->params, m->i_head_b);
    for (size_t r = 0; r < T * B; r++)
        for (size_t j = 0; j < V; j++) {
            double s = b[j];
            for (size_t k = 0; k < H; k++)
                s += (double)w.out[r * H + k] * W[j * H + k];
            mine[r * V + j] = (float)s;
        }
    CU_ASSERT(th_check_tensor("logits", mine, logits, T * B * V, ATOL, RTOL));
    float *want = lm_alloc_floats(m->table.total);
    for (size_t i = 0; i < m->table.n; i++) {
        const lm_param *p = &m->table.p[i];
        CU_ASSERT_FATAL(read_like("/grads", i, want + p->offset));
        char nm[80];
        snprintf(nm, sizeof nm, "grad %s", p->name);
        CU_ASSERT(th_check_tensor(nm, g + p->offset, want + p->offset, lm_param_size(p), ATOL, RTOL));
    }
    /* One Adam step from these gradients. */
    float *mo = lm_alloc_floats(m->table.total), *vo = lm_alloc_floats(m->table.total);
    float *p = lm_alloc_floats(m->table.total);
    memcpy(p, m->params, m->table.total * sizeof(float));
    lm_adam_step(p, g, mo, vo, m->table.total, 1e-3f, 0.9f, 0.999f, 1e-8f, 0.0f, 1, 1.0f);
    for (size_t i = 0; i < m->table.n; i++) {
        const lm_param *q = &m->table.p[i];
        CU_ASSERT_FATAL(read_like("/adam", i, want + q->offset));
        char nm[80];
        snprintf(nm, sizeof nm, "adam %s", q->name);
        CU_ASSERT(th_check_tensor(nm, p + q->offset, want + q->offset, lm_param_size(q), ATOL, RTOL));
    }
    lm_free(mo);
    lm_free(vo);
    lm_free(p);
    lm_free(want);
    lm_free(g);
    lm_ws_free(&w);
}

static double run_loss[6];
static void record(void *ud, const lm_progress *p)
{
    (void)ud;
    if (p->step <= 5)
        run_loss[p->step] = p->loss;
}

static void test_sgd_loop(void)
{
    lm_net *mm = fixture_model();
    CU_ASSERT_FATAL(mm != NULL);
    int32_t stream[B * (5 * T + 1)];
    size_t dn[1] = {B * (5 * T + 1)}, d5[1] = {5};
    double want[5];
    lm_error err;
    CU_ASSERT_FATAL(lm_h5_read(fx, "/stream", LM_H5_I32, stream, 1, dn, &err) == 0);
    CU_ASSERT_FATAL(lm_h5_read(fx, "/sgd_losses", LM_H5_F64, want, 1, d5, &err) == 0);
    lm_train_opts o;
    lm_train_opts_init(&o);
    o.batch = B;
    o.bptt = T;
    o.epochs = 1;
    o.lr = 0.5;
    o.decay_start = 0;
    o.clip = 0.25;
    lm_trainer *t;
    CU_ASSERT_FATAL(lm_trainer_create(TH_M(mm), &o, stream, dn[0], NULL, 0, &t, &err) == 0);
    lm_trainer_set_progress(t, record, NULL, 1);
    lm_epoch_result r;
    CU_ASSERT_FATAL(lm_trainer_run_epoch(t, NULL, &r, &err) == 0);
    for (int k = 1; k <= 5; k++) {
        double step_loss = k * run_loss[k] - (k - 1) * run_loss[k - 1];
        LM_ASSERT_CLOSE(step_loss, want[k - 1], 0, RTOL);
    }
    lm_trainer_free(t);
    lm_net_free(mm);
}

/* ---- the adaptive softmax head ---------------------------------------------------------- */

/* float32 arithmetic against PyTorch's float64 on the same float32 values. */
#define ADAPTIVE_RTOL 1e-5
#define ADAPTIVE_ATOL 1e-6

static double worst_rel; /* the largest relative difference seen, for the log */

static int close_all(const char *name, const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        if (fabs((double)b[i]) > 1e-3 && d / fabs((double)b[i]) > worst_rel)
            worst_rel = d / fabs((double)b[i]);
    }
    return th_check_tensor(name, a, b, n, ADAPTIVE_ATOL, ADAPTIVE_RTOL);
}

/* Reads dataset path of n floats with the given shape (cols 0: a vector). */
static float *read_f32(lm_h5 *f, const char *path, size_t rows, size_t cols)
{
    size_t dims[2] = {rows, cols};
    float *x = lm_alloc_floats(rows * (cols ? cols : 1));
    lm_error err;
    if (lm_h5_read(f, path, LM_H5_F32, x, cols ? 2 : 1, dims, &err)) {
        printf("\n  %s\n", err.msg);
        lm_free(x);
        return NULL;
    }
    return x;
}

static void test_adaptive(void)
{
    lm_h5 *f;
    lm_error err;
    CU_ASSERT_FATAL(lm_h5_open(th_srcpath("tests/fixtures/adaptive_tiny.h5"), &f, &err) == 0);
    uint64_t D, Vv, Nn, K, cut[LM_MAX_CUTOFFS];
    size_t nc = 0;
    double div, loss;
    CU_ASSERT_FATAL(lm_h5_attr_u64(f, "/", "D", &D, &err) == 0 &&
                    lm_h5_attr_u64(f, "/", "V", &Vv, &err) == 0 &&
                    lm_h5_attr_u64(f, "/", "N", &Nn, &err) == 0 &&
                    lm_h5_attr_u64(f, "/", "K", &K, &err) == 0 &&
                    lm_h5_attr_u64s(f, "/", "cutoffs", cut, LM_MAX_CUTOFFS, &nc, &err) == 0 &&
                    lm_h5_attr_f64(f, "/", "div_value", &div, &err) == 0 &&
                    lm_h5_read(f, "/loss", LM_H5_F64, &loss, 0, NULL, &err) == 0);
    CU_ASSERT_FATAL(nc == K);
    size_t N = (size_t)Nn, Dw = (size_t)D;
    /* The sizes come from lstmlm's configuration; the datasets must have them exactly. */
    lm_config c;
    lm_config_init(&c);
    c.vocab = (size_t)Vv;
    c.softmax = LM_SOFTMAX_ADAPTIVE;
    c.n_cutoffs = nc;
    for (size_t i = 0; i < nc; i++)
        c.cutoffs[i] = (size_t)cut[i];
    c.div_value = (float)div;
    lm_adaptive a;
    lm_head_adaptive(&c, Dw, &a);
    size_t H = a.cut[0] + a.K;
    float *W = read_f32(f, "/params/head.weight", H, Dw), *b = read_f32(f, "/params/head.bias", H, 0);
    float *gW = read_f32(f, "/grads/head.weight", H, Dw), *gb = read_f32(f, "/grads/head.bias", H, 0);
    float *x = read_f32(f, "/x", N, Dw), *gx = read_f32(f, "/grads/x", N, Dw);
    float *lp = read_f32(f, "/log_prob", N, a.V), *outp = read_f32(f, "/output", N, 0);
    float *P[LM_ADAPTIVE_MAX] = {NULL}, *O[LM_ADAPTIVE_MAX] = {NULL};
    float *gP[LM_ADAPTIVE_MAX] = {NULL}, *gO[LM_ADAPTIVE_MAX] = {NULL};
    int ok = W && b && gW && gb && x && gx && lp && outp;
    for (size_t i = 0; i < a.K; i++) {
        char nm[96];
        size_t osz = a.cut[i + 1] - a.cut[i];
        snprintf(nm, sizeof nm, "/params/head.tail.%zu.proj.weight", i);
        ok &= (a.proj[i] = P[i] = read_f32(f, nm, a.dim[i], Dw)) != NULL;
        snprintf(nm, sizeof nm, "/params/head.tail.%zu.out.weight", i);
        ok &= (a.out[i] = O[i] = read_f32(f, nm, osz, a.dim[i])) != NULL;
        snprintf(nm, sizeof nm, "/grads/head.tail.%zu.proj.weight", i);
        ok &= (gP[i] = read_f32(f, nm, a.dim[i], Dw)) != NULL;
        snprintf(nm, sizeof nm, "/grads/head.tail.%zu.out.weight", i);
        ok &= (gO[i] = read_f32(f, nm, osz, a.dim[i])) != NULL;
    }
    int32_t *y = malloc(N * sizeof *y);
    size_t dn[1] = {N};
    ok = ok && lm_h5_read(f, "/y", LM_H5_I32, y, 1, dn, &err) == 0;
    CU_ASSERT_FATAL(ok);
    a.W = W;
    a.b = b;
    /* Mean loss: the kernel sums -log p; its gradients scaled by 1/N. Chunks of 5 rows. */
    lm_adaptive_grads g = {.W = lm_alloc_floats(H * Dw), .b = lm_alloc_floats(H)};
    for (size_t i = 0; i < a.K; i++) {
        g.proj[i] = lm_alloc_floats(a.dim[i] * Dw);
        g.out[i] = lm_alloc_floats((a.cut[i + 1] - a.cut[i]) * a.dim[i]);
    }
    size_t chunk = 5;
    float *scratch = lm_alloc_floats(chunk * lm_adaptive_row_floats(&a)), *dx = lm_alloc_floats(N * Dw);
    float *rows = lm_alloc_floats(N), *mine = lm_alloc_floats(N * a.V);
    int32_t idx[5];
    lm_ce_acc acc = {.rows = rows};
    worst_rel = 0;
    lm_adaptive_ce(&a, N, x, y, scratch, idx, chunk, &acc, 1.0f / (float)N, dx, &g);
    LM_ASSERT_CLOSE(acc.nll / (double)N, loss, 0, ADAPTIVE_RTOL);
    worst_rel = fmax(worst_rel, fabs(acc.nll / (double)N - loss) / loss);
    for (size_t r = 0; r < N; r++)
        rows[r] = -rows[r];
    CU_ASSERT(close_all("per-row log p(y)", rows, outp, N));
    for (size_t r = 0; r < N; r++)
        lm_adaptive_logprobs(&a, x + r * Dw, scratch, mine + r * a.V);
    CU_ASSERT(close_all("log_prob", mine, lp, N * a.V));
    CU_ASSERT(close_all("grad x", dx, gx, N * Dw));
    CU_ASSERT(close_all("grad head.weight", g.W, gW, H * Dw));
    CU_ASSERT(close_all("grad head.bias", g.b, gb, H));
    for (size_t i = 0; i < a.K; i++) {
        CU_ASSERT(close_all("grad tail proj", g.proj[i], gP[i], a.dim[i] * Dw));
        CU_ASSERT(close_all("grad tail out", g.out[i], gO[i], (a.cut[i + 1] - a.cut[i]) * a.dim[i]));
    }
    printf("\n  V %zu, D %zu, cutoffs %zu (tails %zu..%zu wide): largest relative difference "
           "%.2e", a.V, Dw, a.K, a.dim[0], a.dim[a.K - 1], worst_rel);
    for (size_t i = 0; i < a.K; i++) {
        lm_free(P[i]);
        lm_free(O[i]);
        lm_free(gP[i]);
        lm_free(gO[i]);
        lm_free(g.proj[i]);
        lm_free(g.out[i]);
    }
    float *all[] = {W, b, gW, gb, x, gx, lp, outp, g.W, g.b, scratch, dx, rows, mine};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
        lm_free(all[i]);
    free(y);
    lm_h5_close(f);
}

int main(void)
{
    lm_error err;
    if (lm_h5_open(th_srcpath("tests/fixtures/lstm_tiny.h5"), &fx, &err)) {
        printf("cannot open the fixture: %s\n", err.msg);
        return TEST_ERROR;
    }
    m = fixture_model();
    if (!m)
        return TEST_ERROR;
    static const th_test tests[] = {
        {"lstm lm forward, loss and gradients vs pytorch", test_forward_backward},
        {"five sgd steps with clipping and carried state vs pytorch", test_sgd_loop},
        {"adaptive softmax loss, log-probabilities and gradients vs pytorch", test_adaptive},
        {NULL, NULL},
    };
    int rc = th_run("torch", tests);
    lm_net_free(m);
    lm_h5_close(fx);
    return rc;
}
