/* test_nn.c - finite-difference gradient checks for every layer and the whole model. */
#include "harness.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Central differences in float need a step large enough to beat rounding. */
#define FD_EPS 1e-2
#define FD_RTOL 2e-2
#define FD_ATOL 2e-4

static lm_rng rng;

static void fill(float *x, size_t n, float r)
{
    for (size_t i = 0; i < n; i++)
        x[i] = (float)((2 * lm_rng_uniform(&rng) - 1) * r);
}

typedef th_loss_fn loss_fn;
static const th_fd FD = {FD_EPS, FD_RTOL, FD_ATOL, TH_FD_CENTRAL};
static int fd_check(const char *name, float *x, const float *g, size_t n, loss_fn f, void *ud)
{
    return th_fd_check(&FD, name, x, g, n, f, ud);
}

/* ---- LSTM stack over several steps with a carried state -------------------------------- */

enum { LT = 4, LB = 2, LE = 3, LH = 4, LL = 2 };
typedef struct lstm_case {
    lm_lstm_dims d;
    float *w[LL][4], *gw[LL][4];
    float *ws, *X, *Y, *R, *dX, *state0, *state;
} lstm_case;

static void lstm_bind(lstm_case *c, lm_lstm_params *p, lm_lstm_grads *g)
{
    for (int l = 0; l < LL; l++) {
        p->w_ih[l] = c->w[l][0];
        p->w_hh[l] = c->w[l][1];
        p->b_ih[l] = c->w[l][2];
        p->b_hh[l] = c->w[l][3];
        g->w_ih[l] = c->gw[l][0];
        g->w_hh[l] = c->gw[l][1];
        g->b_ih[l] = c->gw[l][2];
        g->b_hh[l] = c->gw[l][3];
    }
}

/* loss = sum(Y * R), starting from the carried state0. */
static double lstm_loss(void *ud)
{
    lstm_case *c = ud;
    lm_lstm_params p;
    lm_lstm_grads g;
    lstm_bind(c, &p, &g);
    memcpy(c->state, c->state0, 2 * LL * LB * LH * sizeof(float));
    lm_lstm_forward(&c->d, &p, c->ws, c->X, c->Y, c->state, LT, LB, 0, NULL);
    double s = 0;
    for (size_t i = 0; i < LT * LB * LH; i++)
        s += (double)c->Y[i] * c->R[i];
    return s;
}

/* min_steps selects the recurrence: 1 = packed W_hh split across the pool, SIZE_MAX = one
 * BLAS call per step. */
static void lstm_gradcheck(size_t min_steps)
{
    size_t keep = lm_lstm_pack_min_steps;
    lm_lstm_pack_min_steps = min_steps;
    lstm_case c = {.d = {.L = LL, .E = LE, .H = LH, .dropout = 0}};
    size_t sizes[4][2] = {{4 * LH, LE}, {4 * LH, LH}, {4 * LH, 1}, {4 * LH, 1}};
    for (int l = 0; l < LL; l++)
        for (int k = 0; k < 4; k++) {
            size_t n = sizes[k][0] * (k == 0 && l > 0 ? LH : sizes[k][1]);
            c.w[l][k] = lm_alloc_floats(n);
            c.gw[l][k] = lm_alloc_floats(n);
            fill(c.w[l][k], n, 0.5f);
        }
    c.ws = lm_alloc_floats(lm_lstm_ws_floats(&c.d, LT, LB));
    c.X = lm_alloc_floats(LT * LB * LE);
    c.Y = lm_alloc_floats(LT * LB * LH);
    c.R = lm_alloc_floats(LT * LB * LH);
    c.dX = lm_alloc_floats(LT * LB * LE);
    c.state0 = lm_alloc_floats(2 * LL * LB * LH);
    c.state = lm_alloc_floats(2 * LL * LB * LH);
    /* A first window makes a non-trivial carried state. */
    fill(c.X, LT * LB * LE, 1.0f);
    lm_lstm_params p;
    lm_lstm_grads g;
    lstm_bind(&c, &p, &g);
    lm_lstm_forward(&c.d, &p, c.ws, c.X, c.Y, c.state0, LT, LB, 0, NULL);
    CU_ASSERT(lm_sumsq(c.state0, 2 * LL * LB * LH) > 0.01);
    fill(c.X, LT * LB * LE, 1.0f);
    fill(c.R, LT * LB * LH, 1.0f);
    lstm_loss(&c);
    lm_lstm_backward(&c.d, &p, c.ws, c.X, c.R, c.dX, &g, LT, LB);
    const char *names[4] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
    for (int l = 0; l < LL; l++)
        for (int k = 0; k < 4; k++) {
            size_t n = sizes[k][0] * (k == 0 && l > 0 ? LH : sizes[k][1]);
            char nm[64];
            snprintf(nm, sizeof nm, "lstm.%s_l%d", names[k], l);
            float *ga = malloc(n * sizeof *ga);
            memcpy(ga, c.gw[l][k], n * sizeof *ga);
            CU_ASSERT(fd_check(nm, c.w[l][k], ga, n, lstm_loss, &c));
            free(ga);
        }
    float *gx = malloc(LT * LB * LE * sizeof *gx);
    memcpy(gx, c.dX, LT * LB * LE * sizeof *gx);
    CU_ASSERT(fd_check("lstm dX", c.X, gx, LT * LB * LE, lstm_loss, &c));
    free(gx);
    for (int l = 0; l < LL; l++)
        for (int k = 0; k < 4; k++) {
            lm_free(c.w[l][k]);
            lm_free(c.gw[l][k]);
        }
    lm_free(c.ws);
    lm_free(c.X);
    lm_free(c.Y);
    lm_free(c.R);
    lm_free(c.dX);
    lm_free(c.state0);
    lm_free(c.state);
    lm_lstm_pack_min_steps = keep;
}

static void test_lstm_gradcheck(void)
{
    lstm_gradcheck(SIZE_MAX);
}

/* A generation state's (1, 1) workspace has no room for packed weights (it would be 4H^2
 * floats per state); a training window's has. */
static void test_lstm_workspace_sizes(void)
{
    lm_lstm_dims d = {.L = 2, .E = 650, .H = 650, .dropout = 0};
    size_t one = lm_lstm_ws_floats(&d, 1, 1), win = lm_lstm_ws_floats(&d, 35, 20);
    CU_ASSERT(one < 50000);
    CU_ASSERT(win > lm_pgemm_floats(650, 4 * 650));
}

static void test_lstm_gradcheck_packed(void)
{
    if (!lm_pgemm_available()) {
        printf("\n  skipped: no packed kernel on this CPU");
        return;
    }
    lstm_gradcheck(1);
}

/* The packed recurrence split over 1, 2 and 3 threads gives what the per-step BLAS path gives:
 * outputs, final state, input and weight gradients, for sizes off the panel width. */
static void test_lstm_packed_matches_blas(void)
{
    if (!lm_pgemm_available()) {
        printf("\n  skipped: no packed kernel on this CPU");
        return;
    }
    enum { T = 7, B = 5, E = 9, H = 37, L = 2 };
    lm_lstm_dims d = {.L = L, .E = E, .H = H, .dropout = 0};
    size_t nw = 0, off[L][4], sz[L][4];
    for (int l = 0; l < L; l++) {
        size_t in = l ? H : E, n[4] = {4 * H * in, 4 * H * H, 4 * H, 4 * H};
        for (int k = 0; k < 4; k++) {
            off[l][k] = nw;
            sz[l][k] = n[k];
            nw += n[k];
        }
    }
    float *w = lm_alloc_floats(nw), *X = lm_alloc_floats(T * B * E);
    float *R = lm_alloc_floats(T * B * H), *ws = lm_alloc_floats(lm_lstm_ws_floats(&d, T, B));
    fill(w, nw, 0.3f);
    fill(X, T * B * E, 1.0f);
    fill(R, T * B * H, 1.0f);
    float *ref[4] = {NULL}, *got[4] = {NULL};
    size_t sizes[4] = {T * B * H, 2 * L * B * H, T * B * E, nw};
    size_t keep_steps = lm_lstm_pack_min_steps, keep_threads = lm_pool_threads();
    for (int run = 0; run < 4; run++) {
        lm_lstm_pack_min_steps = run == 0 ? SIZE_MAX : 1;
        lm_pool_set_threads(run == 0 ? 1 : (size_t)run);
        float **out = run == 0 ? ref : got;
        for (int i = 0; i < 4; i++) {
            if (!out[i])
                out[i] = lm_alloc_floats(sizes[i]);
            memset(out[i], 0, sizes[i] * sizeof(float));
        }
        for (size_t i = 0; i < 2 * L * B * H; i++)
            out[1][i] = 0.1f * (float)((i % 7) - 3); /* a non-zero carried state */
        lm_lstm_params p;
        lm_lstm_grads g;
        for (int l = 0; l < L; l++) {
            p.w_ih[l] = w + off[l][0];
            p.w_hh[l] = w + off[l][1];
            p.b_ih[l] = w + off[l][2];
            p.b_hh[l] = w + off[l][3];
            g.w_ih[l] = out[3] + off[l][0];
            g.w_hh[l] = out[3] + off[l][1];
            g.b_ih[l] = out[3] + off[l][2];
            g.b_hh[l] = out[3] + off[l][3];
        }
        lm_lstm_forward(&d, &p, ws, X, out[0], out[1], T, B, 0, NULL);
        lm_lstm_backward(&d, &p, ws, X, R, out[2], &g, T, B);
        if (run == 0)
            continue;
        const char *names[4] = {"outputs", "final state", "dX", "weight gradients"};
        for (int i = 0; i < 4; i++)
            CU_ASSERT(th_check_tensor(names[i], got[i], ref[i], sizes[i], 1e-5, 1e-4));
    }
    (void)sz;
    lm_lstm_pack_min_steps = keep_steps;
    lm_pool_set_threads(keep_threads);
    for (int i = 0; i < 4; i++) {
        lm_free(ref[i]);
        lm_free(got[i]);
    }
    lm_free(w);
    lm_free(X);
    lm_free(R);
    lm_free(ws);
}

/* ---- softmax cross-entropy ------------------------------------------------------------- */

enum { SN = 5, SO = 4, SV = 7 };
typedef struct ce_case {
    float X[SN * SO], W[SV * SO], b[SV], scratch[SN * SV];
    int32_t y[SN];
} ce_case;

static double ce_loss(void *ud)
{
    ce_case *c = ud;
    lm_ce_acc acc = {0};
    lm_softmax_ce(SN, SO, SV, c->X, c->W, c->b, c->y, c->scratch, 2, &acc, 1.0f, NULL, NULL, NULL);
    return acc.nll;
}

static void test_softmax_ce_gradcheck(void)
{
    ce_case c;
    fill(c.X, SN * SO, 1.0f);
    fill(c.W, SV * SO, 1.0f);
    fill(c.b, SV, 1.0f);
    for (int i = 0; i < SN; i++)
        c.y[i] = (int32_t)(lm_rng_next(&rng) % SV);
    float dX[SN * SO], dW[SV * SO] = {0}, db[SV] = {0};
    lm_ce_acc acc = {0};
    /* Chunks of 2 rows exercise the chunk boundaries. */
    lm_softmax_ce(SN, SO, SV, c.X, c.W, c.b, c.y, c.scratch, 2, &acc, 1.0f, dX, dW, db);
    CU_ASSERT_EQUAL(acc.n, SN);
    LM_ASSERT_CLOSE(acc.nll, ce_loss(&c), 1e-9, 1e-9);
    CU_ASSERT(fd_check("softmax dX", c.X, dX, SN * SO, ce_loss, &c));
    CU_ASSERT(fd_check("head.weight", c.W, dW, SV * SO, ce_loss, &c));
    CU_ASSERT(fd_check("head.bias", c.b, db, SV, ce_loss, &c));
}

/* The loss equals -log softmax computed in double. */
static void test_softmax_ce_value(void)
{
    ce_case c;
    fill(c.X, SN * SO, 3.0f);
    fill(c.W, SV * SO, 3.0f);
    fill(c.b, SV, 3.0f);
    for (int i = 0; i < SN; i++)
        c.y[i] = i % SV;
    double want = 0;
    for (int r = 0; r < SN; r++) {
        double z[SV], mx = -1e300, s = 0;
        for (int j = 0; j < SV; j++) {
            z[j] = c.b[j];
            for (int k = 0; k < SO; k++)
                z[j] += (double)c.X[r * SO + k] * c.W[j * SO + k];
            mx = z[j] > mx ? z[j] : mx;
        }
        for (int j = 0; j < SV; j++)
            s += exp(z[j] - mx);
        want += mx + log(s) - z[c.y[r]];
    }
    LM_ASSERT_CLOSE(ce_loss(&c), want, 1e-5, 1e-6);
}

/* ---- adaptive softmax ------------------------------------------------------------------ */

/* V 13: a shortlist of 4 ids and three tail clusters [4, 7), [7, 10), [10, 13) projecting
 * D 5 to 3, 2 and 1 dimensions (div 1.5); 9 rows in chunks of 4, targets in every part. */
enum { AN = 9, AD = 5, AV = 13, AK = 3, AH = 4 + AK };
static const size_t acut[AK + 1] = {4, 7, 10, AV}, adim[AK] = {3, 2, 1};
typedef struct ad_case {
    lm_adaptive a;
    float X[AN * AD], W[AH * AD], b[AH], proj[AK][3 * AD], out[AK][3 * 3];
    float scratch[AN * 32], rows[AN];
    int32_t y[AN], idx[AN];
} ad_case;

static void ad_setup(ad_case *c)
{
    memset(c, 0, sizeof *c);
    c->a = (lm_adaptive){.D = AD, .V = AV, .K = AK, .W = c->W, .b = c->b};
    for (int i = 0; i <= AK; i++)
        c->a.cut[i] = acut[i];
    for (int i = 0; i < AK; i++) {
        c->a.dim[i] = adim[i];
        c->a.proj[i] = c->proj[i];
        c->a.out[i] = c->out[i];
        fill(c->proj[i], adim[i] * AD, 1.0f);
        fill(c->out[i], (acut[i + 1] - acut[i]) * adim[i], 1.0f);
    }
    LM_ASSERT(lm_adaptive_row_floats(&c->a) <= 32);
    fill(c->X, AN * AD, 1.0f);
    fill(c->W, AH * AD, 1.0f);
    fill(c->b, AH, 1.0f);
    static const int32_t y[AN] = {0, 5, 12, 3, 7, 9, 1, 10, 6};
    memcpy(c->y, y, sizeof y);
}

static double ad_loss(void *ud)
{
    ad_case *c = ud;
    lm_ce_acc acc = {0};
    lm_adaptive_ce(&c->a, AN, c->X, c->y, c->scratch, c->idx, 4, &acc, 1.0f, NULL, NULL);
    return acc.nll;
}

/* -log p(y) of row r in double, from the definition. */
static double ad_ref(const ad_case *c, int r)
{
    const float *x = c->X + r * AD;
    double z[AH], mx = -1e300, s = 0;
    for (int j = 0; j < AH; j++) {
        z[j] = c->b[j];
        for (int k = 0; k < AD; k++)
            z[j] += (double)c->W[j * AD + k] * x[k];
        mx = z[j] > mx ? z[j] : mx;
    }
    for (int j = 0; j < AH; j++)
        s += exp(z[j] - mx);
    int32_t y = c->y[r];
    if (y < (int32_t)acut[0])
        return mx + log(s) - z[y];
    int i = 0;
    while (y >= (int32_t)acut[i + 1])
        i++;
    double nll = mx + log(s) - z[acut[0] + i], p[3] = {0}, t[3], tm = -1e300, ts = 0;
    size_t O = acut[i + 1] - acut[i];
    for (size_t k = 0; k < adim[i]; k++)
        for (int j = 0; j < AD; j++)
            p[k] += (double)c->proj[i][k * AD + j] * x[j];
    for (size_t o = 0; o < O; o++) {
        t[o] = 0;
        for (size_t k = 0; k < adim[i]; k++)
            t[o] += (double)c->out[i][o * adim[i] + k] * p[k];
        tm = t[o] > tm ? t[o] : tm;
    }
    for (size_t o = 0; o < O; o++)
        ts += exp(t[o] - tm);
    return nll + tm + log(ts) - t[y - acut[i]];
}

static void test_adaptive_gradcheck(void)
{
    ad_case c;
    ad_setup(&c);
    float dX[AN * AD], dW[AH * AD] = {0}, db[AH] = {0}, dP[AK][3 * AD] = {{0}}, dO[AK][9] = {{0}};
    lm_adaptive_grads g = {.W = dW, .b = db};
    for (int i = 0; i < AK; i++) {
        g.proj[i] = dP[i];
        g.out[i] = dO[i];
    }
    lm_ce_acc acc = {.rows = c.rows};
    lm_adaptive_ce(&c.a, AN, c.X, c.y, c.scratch, c.idx, 4, &acc, 1.0f, dX, &g);
    CU_ASSERT_EQUAL(acc.n, AN);
    CU_ASSERT_EQUAL(acc.n_unk, 1);
    double sum = 0;
    for (int r = 0; r < AN; r++) {
        LM_ASSERT_CLOSE(c.rows[r], ad_ref(&c, r), 1e-5, 1e-5);
        sum += ad_ref(&c, r);
    }
    LM_ASSERT_CLOSE(acc.nll, sum, 1e-5, 1e-6);
    LM_ASSERT_CLOSE(acc.nll - acc.nll_known, ad_ref(&c, 0), 1e-5, 1e-6);
    CU_ASSERT(fd_check("adaptive dX", c.X, dX, AN * AD, ad_loss, &c));
    CU_ASSERT(fd_check("adaptive head.weight", c.W, dW, AH * AD, ad_loss, &c));
    CU_ASSERT(fd_check("adaptive head.bias", c.b, db, AH, ad_loss, &c));
    for (int i = 0; i < AK; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "head.tail.%d.proj.weight", i);
        CU_ASSERT(fd_check(nm, c.proj[i], dP[i], adim[i] * AD, ad_loss, &c));
        snprintf(nm, sizeof nm, "head.tail.%d.out.weight", i);
        CU_ASSERT(fd_check(nm, c.out[i], dO[i], (acut[i + 1] - acut[i]) * adim[i], ad_loss, &c));
    }
}

/* Every row's full distribution sums to 1 and gives each target the loss's probability; the
 * loss and gradients do not depend on the thread split. */
static void test_adaptive_logprobs(void)
{
    ad_case c;
    ad_setup(&c);
    lm_ce_acc acc = {.rows = c.rows};
    lm_adaptive_ce(&c.a, AN, c.X, c.y, c.scratch, c.idx, 4, &acc, 1.0f, NULL, NULL);
    for (int r = 0; r < AN; r++) {
        float lp[AV];
        lm_adaptive_logprobs(&c.a, c.X + r * AD, c.scratch, lp);
        double s = 0;
        for (int j = 0; j < AV; j++)
            s += exp((double)lp[j]);
        LM_ASSERT_CLOSE(s, 1.0, 1e-6, 0);
        LM_ASSERT_CLOSE(-lp[c.y[r]], c.rows[r], 1e-5, 1e-5);
    }
    size_t keep = lm_pool_threads();
    float dX[2][AN * AD], dW[2][AH * AD];
    double nll[2];
    for (int run = 0; run < 2; run++) {
        lm_pool_set_threads(run ? 3 : 1);
        float db[AH] = {0}, dP[AK][3 * AD] = {{0}}, dO[AK][9] = {{0}};
        memset(dW[run], 0, sizeof dW[run]);
        lm_adaptive_grads g = {.W = dW[run], .b = db};
        for (int i = 0; i < AK; i++) {
            g.proj[i] = dP[i];
            g.out[i] = dO[i];
        }
        lm_ce_acc a2 = {0};
        lm_adaptive_ce(&c.a, AN, c.X, c.y, c.scratch, c.idx, AN, &a2, 0.5f, dX[run], &g);
        nll[run] = a2.nll;
    }
    lm_pool_set_threads(keep);
    LM_ASSERT_CLOSE(nll[1], nll[0], 1e-9, 1e-9);
    CU_ASSERT(th_check_tensor("dX, 3 threads", dX[1], dX[0], AN * AD, 1e-7, 1e-6));
    CU_ASSERT(th_check_tensor("dW, 3 threads", dW[1], dW[0], AH * AD, 1e-7, 1e-6));
}

/* The whole model's gradients, for every architecture, are in test_contract.c. */

/* Dropout keeps the expected value and zeroes about p of the units. */
static void test_dropout_mask(void)
{
    enum { N = 100000 };
    float *m = lm_alloc_floats(N);
    lm_dropout_mask(m, N, 0.25f, &rng);
    double s = 0;
    size_t zeros = 0;
    for (size_t i = 0; i < N; i++) {
        s += m[i];
        zeros += m[i] == 0.0f;
    }
    LM_ASSERT_CLOSE(s / N, 1.0, 0.01, 0);
    LM_ASSERT_CLOSE((double)zeros / N, 0.25, 0.01, 0);
    lm_free(m);
}

int main(void)
{
    lm_rng_seed(&rng, 42);
    static const th_test tests[] = {
        {"lstm stack gradients, carried state", test_lstm_gradcheck},
        {"lstm stack gradients, packed recurrence", test_lstm_gradcheck_packed},
        {"lstm packed recurrence matches per-step BLAS", test_lstm_packed_matches_blas},
        {"lstm workspace sizes", test_lstm_workspace_sizes},
        {"softmax cross-entropy gradients", test_softmax_ce_gradcheck},
        {"softmax cross-entropy value", test_softmax_ce_value},
        {"adaptive softmax gradients and loss", test_adaptive_gradcheck},
        {"adaptive softmax log-probabilities, thread split", test_adaptive_logprobs},
        {"dropout mask", test_dropout_mask},
        {NULL, NULL},
    };
    return th_run("nn", tests);
}
