/* test_torch.c - cross-checks the LSTM language model against PyTorch reference outputs
 * (tests/fixtures/lstm_tiny.h5, made by tests/gen_fixtures.py): logits, final state, loss, every
 * gradient, one Adam step, and five steps of the SGD training loop. */
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
        {NULL, NULL},
    };
    int rc = th_run("torch", tests);
    lm_net_free(m);
    lm_h5_close(fx);
    return rc;
}
