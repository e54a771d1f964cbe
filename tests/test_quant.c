/* test_quant.c - reduced-precision models: the half/bf16 conversions and q8 encoding, every
 * SIMD matrix-vector kernel against the plain one, and for each architecture (LSTM, RWKV,
 * transformer) a quantized model whose steps follow the float32 model's, whose perplexity moves
 * by a small bound, whose save/load is bit-exact and which the trainer refuses; the same with
 * the adaptive softmax head, whose tails are quantized like every other matrix. */
#include "base/bgemm.h"
#include "base/qgemv.h"
#include "harness.h"
#include "lm/lm.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tolerances. A SIMD kernel sums in another order than the plain loop: relative to the sum of
 * |w x| of the row. The f32 "quantization" runs the quantized kind's own step code over
 * unrounded weights, so its log-probabilities match the float model's to float rounding. */
#define KERNEL_RTOL 1e-5
#define F32_STEP_ATOL 2e-4
/* Random weights in [-0.3, 0.3]: bf16 keeps 8 bits of mantissa, int8 about 7 bits of each
 * block's range (and its steps round the activations the same way); the log-probabilities of
 * a 12-token vocabulary move by at most this much over 40 steps, and the perplexity of a
 * 600-token text by this fraction. The transformer moves the most (its layer norms rescale the
 * rounding): bf16 up to 0.033 on an AVX2 machine, whose float model rounds in another order
 * than an AVX-512 one's, so the bound leaves room for that; a wrong scale or layout moves the
 * log-probabilities by whole units. */
#define BF16_STEP_ATOL 0.06
#define Q8_STEP_ATOL 0.15
#define PPL_RTOL 0.01
/* lm_model_eval (decoded weights, batched GEMMs) against a sum over steps (the kernels): equal
 * to float rounding for f32 and bf16; int8 steps also round the activations, eval does not. */
#define EVAL_RTOL 1e-4
#define Q8_EVAL_RTOL 2e-3

enum { V = 12, NT = 600, STEPS = 40 };

static lm_rng rng = {0x9e3779b97f4a7c15ull};
static int32_t text[NT];

static float uni(float r)
{
    return (float)((2.0 * lm_rng_uniform(&rng) - 1.0) * r);
}

/* ---- conversions and kernels ------------------------------------------------------------- */

static void test_half(void)
{
    CU_ASSERT_EQUAL(lm_float_to_half(1.0f), 0x3c00);
    CU_ASSERT_EQUAL(lm_float_to_half(-2.0f), 0xc000);
    CU_ASSERT_EQUAL(lm_float_to_half(65504.0f), 0x7bff);
    CU_ASSERT_EQUAL(lm_float_to_half(1e6f), 0x7c00);
    CU_ASSERT_EQUAL(lm_float_to_half(0.0f), 0x0000);
    CU_ASSERT_EQUAL(lm_float_to_half(ldexpf(1.0f, -24)), 0x0001);        /* smallest subnormal */
    CU_ASSERT_EQUAL(lm_float_to_half(ldexpf(1.0f, -14)), 0x0400);        /* smallest normal */
    CU_ASSERT_EQUAL(lm_float_to_half(1.0f + ldexpf(1.0f, -11)), 0x3c00); /* tie to even */
    CU_ASSERT_EQUAL(lm_float_to_half(1.0f + 3 * ldexpf(1.0f, -11)), 0x3c02);
    /* Every finite half survives the round trip through float. */
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00u) == 0x7c00u)
            continue;
        bad += lm_float_to_half(lm_half_to_float((uint16_t)h)) != h;
    }
    CU_ASSERT_EQUAL(bad, 0);
    CU_ASSERT_EQUAL(lm_float_to_bf16(1.0f), 0x3f80);
    CU_ASSERT_EQUAL(lm_bf16_to_float(0x3f80), 1.0f);
    CU_ASSERT_EQUAL(lm_float_to_bf16(1.0f + ldexpf(1.0f, -8)), 0x3f80); /* tie to even */
}

/* Encoding error: bf16 within half a unit of its 8-bit mantissa, q8 within half a level of
 * the block's scale (plus the scale's own half-precision rounding). */
static void test_encode(void)
{
    size_t R = 5, C = 75;
    float *w = malloc(R * C * sizeof *w), *back = malloc(R * C * sizeof *back);
    for (size_t i = 0; i < R * C; i++)
        w[i] = uni(2.0f);
    w[3] = 0.0f;
    for (size_t j = 32; j < 64; j++)
        w[2 * C + j] = 0.0f; /* an all-zero block */
    lm_qmat m;
    CU_ASSERT_FATAL(lm_qmat_alloc(&m, LM_QT_BF16, R, C) == LM_OK);
    lm_qmat_quantize(&m, w);
    lm_qmat_dequantize(&m, back);
    for (size_t i = 0; i < R * C; i++)
        CU_ASSERT(fabsf(back[i] - w[i]) <= fabsf(w[i]) * (1.0f / 256.0f));
    CU_ASSERT_EQUAL(lm_qmat_bytes(&m), 2 * R * C);
    lm_qmat_free(&m);
    CU_ASSERT_FATAL(lm_qmat_alloc(&m, LM_QT_Q8, R, C) == LM_OK);
    lm_qmat_quantize(&m, w);
    lm_qmat_dequantize(&m, back);
    CU_ASSERT_EQUAL(lm_qmat_bytes(&m), R * C + 2 * R * 3);
    for (size_t r = 0; r < R; r++)
        for (size_t b = 0; b < 3; b++) {
            float amax = 0, d = lm_half_to_float(m.scale[r * 3 + b]);
            size_t j1 = (b + 1) * 32 < C ? (b + 1) * 32 : C;
            for (size_t j = b * 32; j < j1; j++)
                amax = fmaxf(amax, fabsf(w[r * C + j]));
            CU_ASSERT(fabsf(d - amax / 127.0f) <= amax / 127.0f / 1024.0f);
            for (size_t j = b * 32; j < j1; j++)
                CU_ASSERT(fabsf(back[r * C + j] - w[r * C + j]) <= 0.5f * d + 1e-7f);
        }
    CU_ASSERT_EQUAL(back[3], 0.0f);
    CU_ASSERT_EQUAL(m.scale[2 * 3 + 1], 0);
    lm_qmat_free(&m);
    free(w);
    free(back);
}

/* Every kernel the CPU has against the plain loops, over shapes with and without tails. */
static void test_kernels(void)
{
    static const size_t rows[] = {1, 3, 17, 64};
    static const size_t cols[] = {1, 7, 8, 31, 32, 33, 64, 65, 100, 650};
    int tested = 0;
    for (int k = 1; k <= 3; k++) {
        if (!lm_qgemv_force(k))
            continue;
        for (int type = LM_QT_BF16; type <= LM_QT_Q8; type++)
            for (size_t a = 0; a < sizeof rows / sizeof rows[0]; a++)
                for (size_t b = 0; b < sizeof cols / sizeof cols[0]; b++) {
                    size_t R = rows[a], C = cols[b];
                    float *w = malloc(R * C * sizeof *w), *x = malloc(C * sizeof *x);
                    float *y0 = malloc(R * sizeof *y0), *y1 = malloc(R * sizeof *y1);
                    double *mag = calloc(R, sizeof *mag);
                    for (size_t i = 0; i < R * C; i++)
                        w[i] = uni(1.0f);
                    for (size_t j = 0; j < C; j++)
                        x[j] = uni(1.0f);
                    lm_qmat m;
                    CU_ASSERT_FATAL(lm_qmat_alloc(&m, type, R, C) == LM_OK);
                    lm_qmat_quantize(&m, w);
                    lm_qmat_dequantize(&m, w);
                    for (size_t r = 0; r < R; r++) {
                        y0[r] = y1[r] = (float)r;
                        for (size_t j = 0; j < C; j++)
                            mag[r] += fabs((double)w[r * C + j] * x[j]);
                    }
                    lm_qgemv_ref(&m, 0, R, x, y0);
                    /* int8 with VNNI: the row-major kernel, then the packed one. */
                    for (int packed = 0; packed < 2; packed++) {
                        if (packed) {
                            lm_qmat_pack(&m);
                            if (!m.pk)
                                break;
                        }
                        for (size_t r = 0; r < R; r++)
                            y1[r] = (float)r;
                        lm_qgemv_rows(&m, 0, R, x, y1);
                        for (size_t r = 0; r < R; r++)
                            if (fabs((double)y1[r] - y0[r]) > KERNEL_RTOL * (mag[r] + r + 1)) {
                                printf("\n  kernel %s%s, %s (%zu, %zu) row %zu: %g vs %g\n",
                                       lm_qgemv_kernel_name(), packed ? " (packed)" : "",
                                       lm_qtype_name(type), R, C, r, (double)y1[r],
                                       (double)y0[r]);
                                CU_FAIL("kernel differs from the plain loops");
                                break;
                            }
                        tested++;
                    }
                    lm_qmat_free(&m);
                    free(w);
                    free(x);
                    free(y0);
                    free(y1);
                    free(mag);
                }
    }
    lm_qgemv_force(-1);
    printf("(%d kernel cases) ", tested);
}

/* The pool split (large matrices) gives the same values as one call. */
static void test_threads(void)
{
    size_t R = 600, C = 520;
    float *w = malloc(R * C * sizeof *w), *x = malloc(C * sizeof *x);
    float *y0 = calloc(R, sizeof *y0), *y1 = calloc(R, sizeof *y1);
    for (size_t i = 0; i < R * C; i++)
        w[i] = uni(1.0f);
    for (size_t j = 0; j < C; j++)
        x[j] = uni(1.0f);
    lm_qmat m;
    CU_ASSERT_FATAL(lm_qmat_alloc(&m, LM_QT_Q8, R, C) == LM_OK);
    lm_qmat_quantize(&m, w);
    size_t before = lm_pool_threads();
    lm_pool_set_threads(2);
    lm_qgemv(&m, x, y0);
    lm_pool_set_threads(1);
    lm_qgemv(&m, x, y1);
    lm_pool_set_threads(before);
    CU_ASSERT(memcmp(y0, y1, R * sizeof *y0) == 0);
    lm_qmat_free(&m);
    free(w);
    free(x);
    free(y0);
    free(y1);
}

/* Products over several rows of X (the transformer's re-encode) against sums in double over
 * the decoded weights: every type, one and several blocks of rows, the last one short; from 8
 * rows a bf16 matrix may go to the bf16 kernel (lm_qgemm_rounds), whose X is rounded to bf16,
 * and the sums are then those of the rounded X. Shapes cover a short last group of 16 rows and
 * panel of 48, an odd column count, several K blocks and several panels. */
static void test_qgemm(void)
{
    static const size_t shape[][2] = {{3, 7}, {40, 33}, {100, 2000}, {300, 64}};
    static const size_t ns[] = {1, 2, 7, 20, 37};
    for (int type = LM_QT_F32; type <= LM_QT_Q8; type++)
        for (size_t a = 0; a < sizeof shape / sizeof shape[0]; a++)
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++) {
                size_t R = shape[a][0], C = shape[a][1], n = ns[b];
                if (n == 1 && type == LM_QT_Q8)
                    continue; /* one row is lm_qgemv, which rounds x: test_kernels */
                float *w = malloc(R * C * sizeof *w), *X = malloc(n * C * sizeof *X);
                float *Y = malloc(n * R * sizeof *Y);
                for (size_t i = 0; i < R * C; i++)
                    w[i] = uni(1.0f);
                for (size_t i = 0; i < n * C; i++)
                    X[i] = uni(1.0f);
                for (size_t i = 0; i < n * R; i++)
                    Y[i] = (float)i;
                lm_qmat m;
                CU_ASSERT_FATAL(lm_qmat_alloc(&m, type, R, C) == LM_OK);
                lm_qmat_quantize(&m, w);
                lm_qmat_pack(&m);
                lm_qmat_dequantize(&m, w);
                bool rounds = lm_qgemm_rounds(&m, n);
                lm_qgemm(&m, n, X, Y);
                if (rounds)
                    for (size_t i = 0; i < n * C; i++)
                        X[i] = lm_bf16_to_float(lm_float_to_bf16(X[i]));
                int bad = 0;
                for (size_t t = 0; t < n && !bad; t++)
                    for (size_t r = 0; r < R && !bad; r++) {
                        double want = (double)(t * R + r), mag = fabs(want);
                        for (size_t j = 0; j < C; j++) {
                            want += (double)w[r * C + j] * X[t * C + j];
                            mag += fabs((double)w[r * C + j] * X[t * C + j]);
                        }
                        if (fabs(Y[t * R + r] - want) > 1e-5 * (mag + 1)) {
                            printf("\n  %s (%zu, %zu) x %zu rows: Y[%zu][%zu] %g vs %g\n",
                                   lm_qtype_name(type), R, C, n, t, r, (double)Y[t * R + r],
                                   want);
                            bad = 1;
                        }
                    }
                CU_ASSERT(!bad);
                lm_qmat_free(&m);
                free(w);
                free(X);
                free(Y);
            }
}

/* The bf16 kernel on a grouped matrix (lm_bgemm_grouped, what lm_qgemm uses where bf16 dot
 * products are fast) against lm_bgemm_ref over the decoded weights, wherever the CPU has
 * AVX-512 BF16: both round X the same way, so they differ by float32 summation order only. */
static void test_qgemm_grouped(void)
{
    static const size_t shape[][3] = {{40, 33, 9}, {100, 2000, 20}, {300, 64, 37}, {17, 1, 8}};
    for (size_t a = 0; a < sizeof shape / sizeof shape[0]; a++) {
        size_t R = shape[a][0], C = shape[a][1], n = shape[a][2];
        float *w = malloc(R * C * sizeof *w), *X = malloc(n * C * sizeof *X);
        float *Y = malloc(n * R * sizeof *Y), *Z = malloc(n * R * sizeof *Z);
        for (size_t i = 0; i < R * C; i++)
            w[i] = uni(1.0f);
        for (size_t i = 0; i < n * C; i++)
            X[i] = uni(1.0f);
        for (size_t i = 0; i < n * R; i++)
            Y[i] = Z[i] = (float)i;
        lm_qmat m;
        CU_ASSERT_FATAL(lm_qmat_alloc(&m, LM_QT_BF16, R, C) == LM_OK);
        lm_qmat_quantize(&m, w);
        lm_qmat_pack(&m);
        lm_qmat_dequantize(&m, w);
        bool ran = m.pk && lm_bgemm_grouped(n, X, (const uint32_t *)(const void *)m.pk, R, C, Y);
        CU_ASSERT(ran == (m.pk != NULL && lm_bgemm_available()));
        if (ran) {
            lm_bgemm_ref(false, true, n, R, C, 1.0f, X, C, w, C, 1.0f, Z, R);
            double worst = 0;
            for (size_t i = 0; i < n * R; i++) {
                double d = fabs((double)Y[i] - Z[i]) / (fabs((double)Z[i]) + 1);
                worst = d > worst ? d : worst;
            }
            if (worst > 1e-5)
                printf("\n  grouped bf16 (%zu, %zu) x %zu rows: relative error %g\n", R, C, n,
                       worst);
            CU_ASSERT(worst <= 1e-5);
        }
        lm_qmat_free(&m);
        free(w);
        free(X);
        free(Y);
        free(Z);
    }
}

/* ---- models -------------------------------------------------------------------------------- */

static lm_vocab *vocab(void)
{
    lm_vocab *v = NULL;
    LM_ASSERT(lm_vocab_create(&v, NULL) == LM_OK);
    for (int i = LM_N_SPECIAL; i < V; i++) {
        char t[8];
        snprintf(t, sizeof t, "w%d", i);
        lm_vocab_add(v, t, strlen(t), (uint64_t)(100 - i));
    }
    return v;
}

/* Non-zero: the models have the adaptive softmax, a shortlist of 5 ids and tails [5, 8) and
 * [8, 12) (div 2: 18 and 9 wide on an LSTM's 36, 20 and 10 on the others' 40). */
static int adaptive;

/* A float model of the architecture with every parameter drawn uniform in [-0.3, 0.3]
 * (LayerNorm weights around 1), so no matrix is the zero the RWKV initialisation leaves.
 * Widths that are not multiples of 32 exercise the kernels' tails; the transformer's context
 * of 8 makes 40 steps wrap its cache. */
static lm_model *float_model(const char *arch)
{
    lm_config c;
    lm_config_init(&c);
    snprintf(c.arch, sizeof c.arch, "%s", arch);
    c.embed = 40;
    c.hidden = 36;
    c.layers = 2;
    c.heads = 2;
    c.ffn = 72;
    c.context = 8;
    if (adaptive) {
        c.softmax = LM_SOFTMAX_ADAPTIVE;
        c.n_cutoffs = 2;
        c.cutoffs[0] = 5;
        c.cutoffs[1] = 8;
        c.div_value = 2.0f;
    }
    lm_config_derive(&c);
    lm_model *m = NULL;
    lm_error err;
    LM_ASSERT(lm_model_create(&c, vocab(), &rng, &m, &err) == LM_OK);
    lm_net *n = lm_model_net(m);
    for (size_t k = 0; k < n->table.n; k++) {
        const lm_param *p = &n->table.p[k];
        float *x = lm_tensor(n, n->params, k);
        int ln = strstr(p->name, "ln") && strstr(p->name, "weight");
        for (size_t i = 0; i < lm_param_size(p); i++)
            x[i] = (ln ? 1.0f : 0.0f) + uni(0.3f);
    }
    return m;
}

static double ppl(const lm_model *m)
{
    lm_eval_result r;
    lm_error err;
    if (lm_model_eval(m, text, NT, 1, 16, &r, &err) != LM_OK) {
        printf("\n  eval: %s\n", err.msg);
        return NAN;
    }
    return r.ppl;
}

/* Perplexity of the text as one stream from the step (the kernels), for comparison with
 * lm_model_eval. */
static double ppl_by_steps(const lm_model *m)
{
    lm_state *s;
    lm_error err;
    float lp[V];
    CU_ASSERT_FATAL(lm_state_create(m, &s, &err) == LM_OK);
    double nll = 0;
    for (size_t t = 0; t + 1 < NT; t++) {
        CU_ASSERT_FATAL(lm_step(m, s, text[t], lp, &err) == LM_OK);
        nll -= lp[text[t + 1]];
    }
    lm_state_free(s);
    return exp(nll / (NT - 1));
}

/* Largest |log p_a - log p_b| over STEPS steps of the text; *kl the mean KL(a || b). */
static double step_diff(const lm_model *a, const lm_model *b, double *kl)
{
    lm_state *sa, *sb;
    lm_error err;
    float pa[V], pb[V];
    CU_ASSERT_FATAL(lm_state_create(a, &sa, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(b, &sb, &err) == LM_OK);
    double worst = 0, sum = 0;
    for (size_t t = 0; t < STEPS; t++) {
        CU_ASSERT_FATAL(lm_step(a, sa, text[t], pa, &err) == LM_OK);
        CU_ASSERT_FATAL(lm_step(b, sb, text[t], pb, &err) == LM_OK);
        for (size_t i = 0; i < V; i++) {
            worst = fmax(worst, fabs((double)pa[i] - pb[i]));
            sum += exp(pa[i]) * ((double)pa[i] - pb[i]);
        }
    }
    lm_state_free(sa);
    lm_state_free(sb);
    if (kl)
        *kl = sum / STEPS;
    return worst;
}

/* True when every step of a and b gives the same bits. */
static bool same_steps(const lm_model *a, const lm_model *b)
{
    lm_state *sa, *sb;
    lm_error err;
    float pa[V], pb[V];
    CU_ASSERT_FATAL(lm_state_create(a, &sa, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(b, &sb, &err) == LM_OK);
    bool same = true;
    for (size_t t = 0; t < STEPS && same; t++) {
        CU_ASSERT_FATAL(lm_step(a, sa, text[t], pa, &err) == LM_OK);
        CU_ASSERT_FATAL(lm_step(b, sb, text[t], pb, &err) == LM_OK);
        same = memcmp(pa, pb, sizeof pa) == 0;
    }
    lm_state_free(sa);
    lm_state_free(sb);
    return same;
}

static void check_arch(const char *arch)
{
    lm_model *f = float_model(arch);
    double pf = ppl(f);
    lm_error err;
    static const char *const types[] = {"f32", "bf16", "int8"};
    static const double tol[] = {F32_STEP_ATOL, BF16_STEP_ATOL, Q8_STEP_ATOL};
    for (int i = 0; i < 3; i++) {
        lm_model *q = NULL, *back = NULL;
        CU_ASSERT_FATAL(lm_model_quantize(f, types[i], &q, &err) == LM_OK);
        char name[32];
        snprintf(name, sizeof name, "%s-%s", arch, types[i]);
        CU_ASSERT_EQUAL(lm_model_config(q)->softmax, lm_model_config(f)->softmax);
        CU_ASSERT_STRING_EQUAL(lm_model_kind(q), name);
        CU_ASSERT_EQUAL(lm_model_n_params(q), lm_model_n_params(f));
        CU_ASSERT_PTR_NULL(lm_model_net(q));
        /* Steps follow the float model. */
        double kl, d = step_diff(f, q, &kl);
        printf("\n  %s: max |dlogp| %.2e, mean KL %.2e", name, d, kl);
        if (d > tol[i])
            CU_FAIL("quantized steps moved too far from the float model");
        /* Perplexity moves by a small bound, in the batched path (lm_model_eval over the
         * decoded weights) and by steps (the kernels). A recurrent model reads the text the
         * same way in both; a transformer attends within eval's windows, but its steps slide
         * a cache, so there the two readings are compared between the models only. */
        double pq = ppl(q), ps = ppl_by_steps(q), pfs = ppl_by_steps(f);
        double rtol = i == 0 ? EVAL_RTOL : PPL_RTOL;
        printf(", ppl %.4f -> %.4f (steps %.4f -> %.4f)", pf, pq, pfs, ps);
        LM_ASSERT_CLOSE(pq, pf, 0.0, rtol);
        LM_ASSERT_CLOSE(ps, pfs, 0.0, rtol);
        if (lm_model_context(q) == 0)
            LM_ASSERT_CLOSE(pq, ps, 0.0, i == 2 ? Q8_EVAL_RTOL : EVAL_RTOL);
        /* Save and load: the same bits from every step. */
        char path[512];
        snprintf(path, sizeof path, "%s/%s.h5", th_tmpdir(), name);
        CU_ASSERT_FATAL(lm_model_save(q, path, &err) == LM_OK);
        CU_ASSERT_FATAL(lm_model_load(path, &back, &err) == LM_OK);
        CU_ASSERT_STRING_EQUAL(lm_model_kind(back), name);
        CU_ASSERT(same_steps(q, back));
        CU_ASSERT_EQUAL(ppl(back), pq);
        /* Not trained: a quantized model is refused by the trainer and cannot be quantized. */
        lm_train_opts o;
        lm_train_opts_init(&o);
        lm_trainer *t = NULL;
        lm_model *qq = NULL;
        CU_ASSERT_EQUAL(lm_trainer_create(back, &o, text, NT, NULL, 0, &t, &err), LM_EINVAL);
        CU_ASSERT(strstr(err.msg, name) != NULL);
        CU_ASSERT_EQUAL(lm_model_quantize(back, "int8", &qq, &err), LM_EINVAL);
        lm_model_free(back);
        lm_model_free(q);
    }
    lm_model_free(f);
}

static void test_lstm(void)
{
    check_arch("lstm");
}

static void test_rwkv(void)
{
    check_arch("rwkv");
}

static void test_transformer(void)
{
    check_arch("transformer");
}

static void test_adaptive(void)
{
    adaptive = 1;
    check_arch("lstm");
    check_arch("rwkv");
    check_arch("transformer");
    adaptive = 0;
}

/* A tied LSTM (one matrix for embedding and head) and the state of a quantized model saved
 * and restored mid-text. */
static void test_tied_and_state(void)
{
    lm_config c;
    lm_config_init(&c);
    c.embed = c.hidden = 33;
    c.layers = 1;
    c.tied = 1;
    lm_model *f = NULL, *q = NULL;
    lm_error err;
    CU_ASSERT_FATAL(lm_model_create(&c, vocab(), &rng, &f, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_model_quantize(f, "int8", &q, &err) == LM_OK);
    double kl, d = step_diff(f, q, &kl);
    CU_ASSERT(d < Q8_STEP_ATOL);
    lm_state *a, *b;
    CU_ASSERT_FATAL(lm_state_create(q, &a, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(q, &b, &err) == LM_OK);
    float pa[V], pb[V];
    for (size_t t = 0; t < 10; t++)
        CU_ASSERT_FATAL(lm_step(q, a, text[t], pa, &err) == LM_OK);
    char path[512];
    snprintf(path, sizeof path, "%s/state.h5", th_tmpdir());
    CU_ASSERT_FATAL(lm_state_save(a, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_load(b, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(q, a, text[10], pa, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(q, b, text[10], pb, &err) == LM_OK);
    CU_ASSERT(memcmp(pa, pb, sizeof pa) == 0);
    /* The float model's states are another model's. */
    lm_state *fs;
    CU_ASSERT_FATAL(lm_state_create(f, &fs, &err) == LM_OK);
    CU_ASSERT_EQUAL(lm_state_load(fs, path, &err), LM_EMISMATCH);
    lm_state_free(fs);
    lm_state_free(a);
    lm_state_free(b);
    lm_model_free(q);
    lm_model_free(f);
}

/* Damaged files and wrong requests give error codes, never a crash. */
static void test_errors(void)
{
    lm_model *f = float_model("lstm"), *q = NULL, *x = NULL;
    lm_error err;
    CU_ASSERT_EQUAL(lm_model_quantize(f, "int4", &q, &err), LM_EINVAL);
    CU_ASSERT(strstr(err.msg, "int4") != NULL);
    CU_ASSERT_FATAL(lm_model_quantize(f, "int8", &q, &err) == LM_OK);
    char path[512], cut[512];
    snprintf(path, sizeof path, "%s/e.h5", th_tmpdir());
    snprintf(cut, sizeof cut, "%s/cut.h5", th_tmpdir());
    CU_ASSERT_FATAL(lm_model_save(q, path, &err) == LM_OK);
    /* Truncated at several lengths. */
    FILE *in = fopen(path, "rb");
    CU_ASSERT_FATAL(in != NULL);
    fseek(in, 0, SEEK_END);
    long len = ftell(in);
    char *buf = malloc((size_t)len);
    fseek(in, 0, SEEK_SET);
    CU_ASSERT_FATAL(fread(buf, 1, (size_t)len, in) == (size_t)len);
    fclose(in);
    for (int k = 1; k < 8; k++) {
        FILE *o = fopen(cut, "wb");
        fwrite(buf, 1, (size_t)(len * k / 8), o);
        fclose(o);
        int rc = lm_model_load(cut, &x, &err);
        CU_ASSERT(rc == LM_EFORMAT || rc == LM_EHDF5 || rc == LM_EIO);
        if (rc == LM_OK)
            lm_model_free(x);
    }
    free(buf);
    lm_model_free(q);
    lm_model_free(f);
}

int main(void)
{
    for (size_t i = 0; i < NT; i++)
        text[i] = (int32_t)(i < V ? i : lm_rng_next(&rng) % V);
    static const th_test tests[] = {
        {"half and bf16 conversions", test_half},
        {"bf16 and q8 encoding error", test_encode},
        {"SIMD kernels match the plain loops", test_kernels},
        {"the pool split matches one thread", test_threads},
        {"products over several rows (lm_qgemm)", test_qgemm},
        {"the bf16 kernel on a grouped matrix (lm_bgemm_grouped)", test_qgemm_grouped},
        {"lstm: steps, perplexity, save/load, trainer", test_lstm},
        {"rwkv: steps, perplexity, save/load, trainer", test_rwkv},
        {"transformer: steps, perplexity, save/load, trainer", test_transformer},
        {"adaptive softmax, every architecture: steps, perplexity, save/load", test_adaptive},
        {"tied weights and saved states", test_tied_and_state},
        {"errors", test_errors},
        {NULL, NULL},
    };
    return th_run("quant", tests);
}
