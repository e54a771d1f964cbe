/* test_lm.c - the language-model interface across kinds: one loader for neural, n-gram and
 * ARPA files, states and steps for each, and mixtures of two or more models. */
#include "harness.h"
#include "lm/lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { V = 12, NT = 600 };

static lm_rng rng;
static int32_t text[NT];

static lm_vocab *vocab(void)
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

static lm_model *neural(void)
{
    lm_config c;
    lm_config_init(&c);
    c.embed = 8;
    c.hidden = 8;
    c.layers = 1;
    c.init_range = 0.3f;
    lm_model *m = NULL;
    lm_error err;
    LM_ASSERT(lm_model_create(&c, vocab(), &rng, &m, &err) == LM_OK);
    return m;
}

static lm_model *ngram(size_t order)
{
    lm_ngram_opts o;
    lm_ngram_opts_init(&o);
    o.order = order;
    const int32_t *streams[1] = {text};
    size_t lens[1] = {NT / 2};
    lm_ngram *g = NULL;
    lm_model *m = NULL;
    lm_error err;
    LM_ASSERT(lm_ngram_train(&o, vocab(), streams, lens, 1, &g, &err) == LM_OK);
    LM_ASSERT(lm_model_from_ngram(g, &m, &err) == LM_OK);
    return m;
}

static double ppl(const lm_model *m, const int32_t *ids, size_t n)
{
    lm_eval_result r;
    lm_error err;
    if (lm_model_eval(m, ids, n, 1, 16, &r, &err) != LM_OK) {
        printf("\n  eval: %s\n", err.msg);
        return NAN;
    }
    return r.ppl;
}

/* One loader for every kind: the kind comes from the file, and the same text gets the same
 * perplexity from a model and from the file it was saved to (ARPA included). */
static void test_one_loader(void)
{
    lm_model *n = neural(), *g = ngram(3);
    char pn[512], pg[512], pa[512], pt[512];
    snprintf(pn, sizeof pn, "%s/n.h5", th_tmpdir());
    snprintf(pg, sizeof pg, "%s/g.h5", th_tmpdir());
    snprintf(pa, sizeof pa, "%s/g.arpa", th_tmpdir());
    snprintf(pt, sizeof pt, "%s/not-a-model.txt", th_tmpdir());
    lm_error err;
    CU_ASSERT_FATAL(lm_model_save(n, pn, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_model_save(g, pg, &err) == LM_OK);
    lm_ngram *raw = NULL;
    CU_ASSERT_FATAL(lm_ngram_load(pg, &raw, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_ngram_write_arpa(raw, pa, &err) == LM_OK);
    lm_ngram_free(raw);
    FILE *f = fopen(pt, "w");
    fputs("hello\n", f);
    fclose(f);
    lm_model *ln = NULL, *lg = NULL, *la = NULL, *lt = NULL;
    CU_ASSERT_FATAL(lm_model_load(pn, &ln, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_model_load(pg, &lg, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_model_load(pa, &la, &err) == LM_OK);
    CU_ASSERT(lm_model_load(pt, &lt, &err) == LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not-a-model.txt"));
    CU_ASSERT_STRING_EQUAL(lm_model_kind(ln), "lstm");
    CU_ASSERT_STRING_EQUAL(lm_model_kind(lg), "ngram");
    CU_ASSERT_STRING_EQUAL(lm_model_kind(la), "ngram");
    CU_ASSERT_PTR_NULL(lm_model_config(lg));
    CU_ASSERT_PTR_NOT_NULL(lm_model_config(ln));
    const int32_t *test = text + NT / 2;
    size_t nt = NT / 2;
    LM_ASSERT_CLOSE(ppl(ln, test, nt), ppl(n, test, nt), 0, 1e-6);
    LM_ASSERT_CLOSE(ppl(lg, test, nt), ppl(g, test, nt), 0, 1e-6);
    LM_ASSERT_CLOSE(ppl(la, test, nt), ppl(g, test, nt), 0, 1e-4);
    lm_model_free(n);
    lm_model_free(g);
    lm_model_free(ln);
    lm_model_free(lg);
    lm_model_free(la);
}

/* Steps through the first n tokens of ids from a fresh state s: each step's distribution is
 * normalised and gives the target the log-probability lp (the scoring's) within tol. */
static int steps_match(const lm_model *m, lm_state *s, const int32_t *ids, size_t n,
                       const float *lp, double tol)
{
    lm_error err;
    float row[V];
    int ok = 1;
    for (size_t i = 0; i + 1 < n; i++) {
        if (lm_step(m, s, ids[i], row, &err) != LM_OK)
            return 0;
        double sum = 0;
        for (int w = 0; w < V; w++)
            sum += exp((double)row[w]);
        ok &= fabs(sum - 1) < 1e-5 && fabs(row[ids[i + 1]] - lp[i]) < tol;
    }
    return ok;
}

/* The n-gram state is its last order-1 ids: copies, saves and loads continue exactly, and
 * each step is a normalised distribution that agrees with the model's scoring. */
static void test_ngram_state(void)
{
    lm_model *g = ngram(4);
    lm_state *s = NULL, *c = NULL, *l = NULL;
    lm_error err;
    CU_ASSERT_FATAL(lm_state_create(g, &s, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(g, &c, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(g, &l, &err) == LM_OK);
    float a[V], b[V], d[V];
    size_t n = 40;
    float *lp = NULL;
    int32_t *tg = NULL;
    size_t k = 0;
    CU_ASSERT_FATAL(lm_model_logprobs(g, text, n, 1, 8, &lp, &tg, &k, &err) == LM_OK);
    CU_ASSERT_EQUAL(k, n - 1);
    CU_ASSERT(steps_match(g, s, text, n, lp, 1e-5));
    CU_ASSERT_EQUAL(lm_state_bytes(s), 3 * sizeof(int32_t));
    char path[512];
    snprintf(path, sizeof path, "%s/ngram-state.h5", th_tmpdir());
    CU_ASSERT_FATAL(lm_state_copy(c, s, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_save(s, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_load(l, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(g, s, 5, a, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(g, c, 5, b, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(g, l, 5, d, &err) == LM_OK);
    CU_ASSERT(!memcmp(a, b, sizeof a) && !memcmp(a, d, sizeof a));
    /* A state of another model is refused. */
    lm_model *n4 = neural();
    lm_state *other = NULL;
    CU_ASSERT_FATAL(lm_state_create(n4, &other, &err) == LM_OK);
    CU_ASSERT(lm_state_load(other, path, &err) == LM_EMISMATCH);
    lm_state_free(other);
    lm_model_free(n4);
    free(lp);
    free(tg);
    lm_state_free(s);
    lm_state_free(c);
    lm_state_free(l);
    lm_model_free(g);
}

/* p = lambda p_a + (1 - lambda) p_b, token by token and over a text. */
static void test_mixture(void)
{
    lm_error err;
    const int32_t *test = text + NT / 2;
    size_t nt = NT / 2;
    lm_model *n = neural(), *g = ngram(3);
    float *la, *lb;
    int32_t *ta, *tb;
    size_t ka, kb;
    CU_ASSERT_FATAL(lm_model_logprobs(n, test, nt, 1, 16, &la, &ta, &ka, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_model_logprobs(g, test, nt, 1, 16, &lb, &tb, &kb, &err) == LM_OK);
    double want = 0;
    for (size_t i = 0; i < ka; i++)
        want -= log(0.3 * exp((double)la[i]) + 0.7 * exp((double)lb[i]));
    want = exp(want / (double)ka);
    lm_model *x = NULL;
    CU_ASSERT_FATAL(lm_model_mix(n, g, 0.3, &x, &err) == LM_OK);
    CU_ASSERT_STRING_EQUAL(lm_model_kind(x), "mixture");
    LM_ASSERT_CLOSE(ppl(x, test, nt), want, 0, 1e-5);
    /* Steps are normalised and agree with the scoring; states save and load. */
    lm_state *s = NULL, *l = NULL;
    CU_ASSERT_FATAL(lm_state_create(x, &s, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(x, &l, &err) == LM_OK);
    float row[V], row2[V];
    float *lp;
    int32_t *tg;
    size_t k;
    CU_ASSERT_FATAL(lm_model_logprobs(x, test, 30, 1, 16, &lp, &tg, &k, &err) == LM_OK);
    CU_ASSERT(steps_match(x, s, test, 30, lp, 1e-4));
    CU_ASSERT_EQUAL(lm_state_bytes(s), (8 + 8) * 1 * sizeof(float) + 2 * sizeof(int32_t));
    char path[512];
    snprintf(path, sizeof path, "%s/mix-state.h5", th_tmpdir());
    CU_ASSERT_FATAL(lm_state_save(s, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_load(l, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(x, s, 4, row, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(x, l, 4, row2, &err) == LM_OK);
    CU_ASSERT(!memcmp(row, row2, sizeof row));
    /* A mixture is not saved as one file. */
    CU_ASSERT(lm_model_save(x, path, &err) == LM_EINVAL);
    free(lp);
    free(tg);
    free(la);
    free(lb);
    free(ta);
    free(tb);
    lm_state_free(s);
    lm_state_free(l);
    lm_model_free(x);
}

/* The tuned weight is a minimum: no worse than either model alone or the even mixture. */
static void test_tune(void)
{
    lm_error err;
    lm_model *n = neural(), *g = ngram(3);
    const int32_t *valid = text + NT / 2;
    size_t nv = NT / 2;
    double lambda = -1, best = 0;
    CU_ASSERT_FATAL(lm_mix_tune(n, g, valid, nv, 16, &lambda, &best, &err) == LM_OK);
    CU_ASSERT(lambda >= 0 && lambda <= 1);
    double pn = ppl(n, valid, nv), pg = ppl(g, valid, nv);
    lm_model *x = NULL;
    CU_ASSERT_FATAL(lm_model_mix(n, g, lambda, &x, &err) == LM_OK);
    double px = ppl(x, valid, nv);
    printf("\n  neural %.3f, 3-gram %.3f, mixture %.3f at lambda %.3f", pn, pg, px, lambda);
    LM_ASSERT_CLOSE(px, best, 0, 1e-3);
    CU_ASSERT(px <= pn * (1 + 1e-6) && px <= pg * (1 + 1e-6));
    lm_model_free(x);
}

/* Three parts: lm_model_mix_n's nesting gives p = 0.2 p_n + 0.3 p_g3 + 0.5 p_g1 exactly, and
 * lm_mix_tune_n's weights are a minimum no worse than the tuned two-part mixture (its special
 * case with the third weight at 0) nor than the even one. */
static void test_mixture_n(void)
{
    lm_error err;
    const int32_t *test = text + NT / 2;
    size_t nt = NT / 2;
    lm_model *p[3] = {neural(), ngram(3), ngram(1)};
    float *l[3];
    int32_t *t[3];
    size_t k[3];
    for (int i = 0; i < 3; i++)
        CU_ASSERT_FATAL(lm_model_logprobs(p[i], test, nt, 1, 16, &l[i], &t[i], &k[i], &err) ==
                        LM_OK);
    CU_ASSERT_FATAL(k[0] == k[1] && k[1] == k[2]);
    double want = 0;
    for (size_t i = 0; i < k[0]; i++)
        want -= log(0.2 * exp((double)l[0][i]) + 0.3 * exp((double)l[1][i]) +
                    0.5 * exp((double)l[2][i]));
    want = exp(want / (double)k[0]);
    double w3[3] = {0.2, 0.3, 0.5}, tuned[3], best3 = 0, lambda = 0, best2 = 0;
    CU_ASSERT_FATAL(lm_mix_tune_n((const lm_model *const *)p, 3, test, nt, 16, tuned, &best3,
                                  &err) == LM_OK);
    CU_ASSERT_FATAL(lm_mix_tune(p[0], p[1], test, nt, 16, &lambda, &best2, &err) == LM_OK);
    LM_ASSERT_CLOSE(tuned[0] + tuned[1] + tuned[2], 1.0, 0, 1e-9);
    CU_ASSERT(best3 <= best2 * (1 + 1e-4));
    lm_model *x = NULL;
    CU_ASSERT_FATAL(lm_model_mix_n(p, 3, w3, &x, &err) == LM_OK);
    LM_ASSERT_CLOSE(ppl(x, test, nt), want, 0, 1e-5);
    lm_model_free(x);
    lm_model *q[3] = {neural(), ngram(3), ngram(1)}, *y = NULL;
    double even[3] = {1 / 3.0, 1 / 3.0, 1 / 3.0};
    CU_ASSERT_FATAL(lm_model_mix_n(q, 3, even, &y, &err) == LM_OK);
    CU_ASSERT(best3 <= ppl(y, test, nt) * (1 + 1e-6));
    printf("\n  tuned %.3f,%.3f,%.3f: %.3f (two parts %.3f)", tuned[0], tuned[1], tuned[2], best3,
           best2);
    lm_model_free(y);
    /* Weights that do not sum to 1 are refused, and the parts freed. */
    lm_model *r[2] = {neural(), ngram(3)};
    double bad[2] = {0.5, 0.6};
    CU_ASSERT(lm_model_mix_n(r, 2, bad, &y, &err) == LM_EINVAL);
    for (int i = 0; i < 3; i++) {
        free(l[i]);
        free(t[i]);
    }
}

/* With a decay, each target's weight follows the evidence so far, as written out here in
 * double precision; steps agree with the scoring; states copy, save and load mid-text with
 * their evidence; decay 0 is the fixed mixture; a decay outside [0, 1] is refused. */
static void test_mixture_dynamic(void)
{
    lm_error err;
    const int32_t *test = text + NT / 2;
    size_t nt = NT / 2;
    const double lambda = 0.4, D = 0.8;
    lm_rng_seed(&rng, 7);
    lm_model *parts[2] = {neural(), ngram(3)}, *x = NULL;
    float *la, *lb;
    int32_t *ta, *tb;
    size_t ka, kb;
    CU_ASSERT_FATAL(lm_model_logprobs(parts[0], test, nt, 1, 16, &la, &ta, &ka, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_model_logprobs(parts[1], test, nt, 1, 16, &lb, &tb, &kb, &err) == LM_OK);
    double want = 0, fixed = 0, r = 0, moved = 0;
    for (size_t i = 0; i < ka; i++) {
        double lt = 1 / (1 + exp(-(log(lambda / (1 - lambda)) + r)));
        want -= log(lt * exp((double)la[i]) + (1 - lt) * exp((double)lb[i]));
        fixed -= log(lambda * exp((double)la[i]) + (1 - lambda) * exp((double)lb[i]));
        moved = fmax(moved, fabs(lt - lambda));
        r = fmin(30, fmax(-30, D * (r + la[i] - lb[i])));
    }
    want = exp(want / (double)ka);
    fixed = exp(fixed / (double)ka);
    double w[2] = {lambda, 1 - lambda};
    CU_ASSERT_FATAL(lm_model_mix_dyn(parts, 2, w, D, &x, &err) == LM_OK);
    printf("\n  fixed %.4f, decay %.1f %.4f (weight moved up to %.3f)", fixed, D, want, moved);
    CU_ASSERT(moved > 0.1);
    LM_ASSERT_CLOSE(ppl(x, test, nt), want, 0, 1e-5);
    lm_rng_seed(&rng, 7);
    lm_model *y = NULL, *q[2] = {neural(), ngram(3)};
    CU_ASSERT_FATAL(lm_model_mix_dyn(q, 2, w, 0.0, &y, &err) == LM_OK);
    LM_ASSERT_CLOSE(ppl(y, test, nt), fixed, 0, 1e-5);
    /* Steps: normalised, the scoring's targets, and states that continue exactly. */
    lm_state *s = NULL, *c = NULL, *l = NULL, *st = NULL;
    CU_ASSERT_FATAL(lm_state_create(x, &s, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(x, &c, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_create(x, &l, &err) == LM_OK);
    float row[V], row2[V], row3[V];
    float *lp;
    int32_t *tg;
    size_t k;
    CU_ASSERT_FATAL(lm_model_logprobs(x, test, 60, 1, 16, &lp, &tg, &k, &err) == LM_OK);
    CU_ASSERT(steps_match(x, s, test, 60, lp, 1e-5));
    CU_ASSERT_EQUAL(lm_state_bytes(s), 2 * V * sizeof(float) + sizeof(double) + 16 * sizeof(float) +
                                           2 * sizeof(int32_t));
    char path[512];
    snprintf(path, sizeof path, "%s/mix-dyn-state.h5", th_tmpdir());
    CU_ASSERT_FATAL(lm_state_copy(c, s, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_save(s, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_state_load(l, path, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(x, s, test[60], row, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(x, c, test[60], row2, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(x, l, test[60], row3, &err) == LM_OK);
    CU_ASSERT(!memcmp(row, row2, sizeof row) && !memcmp(row, row3, sizeof row));
    /* A fixed mixture's state has no evidence: refused, and the state left as it was. */
    CU_ASSERT_FATAL(lm_state_create(y, &st, &err) == LM_OK);
    snprintf(path, sizeof path, "%s/mix-fixed-state.h5", th_tmpdir());
    CU_ASSERT_FATAL(lm_state_save(st, path, &err) == LM_OK);
    CU_ASSERT(lm_state_load(l, path, &err) != LM_OK);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "evidence"));
    CU_ASSERT_FATAL(lm_step(x, l, test[61], row3, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_step(x, s, test[61], row, &err) == LM_OK);
    CU_ASSERT(!memcmp(row, row3, sizeof row));
    lm_model *bad[2] = {neural(), ngram(3)}, *z = NULL;
    CU_ASSERT(lm_model_mix_dyn(bad, 2, w, 1.5, &z, &err) == LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "decay"));
    free(lp);
    free(tg);
    free(la);
    free(lb);
    free(ta);
    free(tb);
    lm_state_free(s);
    lm_state_free(c);
    lm_state_free(l);
    lm_state_free(st);
    lm_model_free(x);
    lm_model_free(y);
}

/* A text whose stretches one part knows by heart (copies of the 5-gram's training text) and
 * others it does not (uniform noise): choosing the decay finds one above 0, beats the best
 * fixed weights, and the model built with what it chose scores what it reported. */
static void test_tune_dynamic(void)
{
    enum { N = 480, BLOCK = 40 };
    static int32_t mixed[N];
    lm_rng r;
    lm_rng_seed(&r, 5);
    for (size_t i = 0; i < N; i++)
        mixed[i] = (i / BLOCK) % 2 ? (int32_t)(LM_N_SPECIAL + lm_rng_next(&r) % (V - LM_N_SPECIAL))
                                   : text[i % (NT / 2)];
    lm_rng_seed(&rng, 7);
    lm_model *p[2] = {neural(), ngram(5)};
    lm_error err;
    double wf[2], wd[2], df = 0, dd = -1, pf = 0, pd = 0, d9 = 0.9, w9[2], p9 = 0;
    CU_ASSERT_FATAL(
        lm_mix_tune_dyn((const lm_model *const *)p, 2, mixed, N, 16, wf, &df, &pf, &err) == LM_OK);
    CU_ASSERT_FATAL(
        lm_mix_tune_dyn((const lm_model *const *)p, 2, mixed, N, 16, wd, &dd, &pd, &err) == LM_OK);
    CU_ASSERT_FATAL(
        lm_mix_tune_dyn((const lm_model *const *)p, 2, mixed, N, 16, w9, &d9, &p9, &err) == LM_OK);
    printf("\n  fixed %.3f at %.3f; decay %.2f: %.3f at %.3f; decay 0.9: %.3f at %.3f", pf, wf[0],
           dd, pd, wd[0], p9, w9[0]);
    CU_ASSERT(df == 0 && d9 == 0.9);
    CU_ASSERT(dd > 0 && pd < 0.97 * pf && pd <= p9 * (1 + 1e-6));
    LM_ASSERT_CLOSE(wd[0] + wd[1], 1.0, 0, 1e-9);
    lm_model *x = NULL;
    CU_ASSERT_FATAL(lm_model_mix_dyn(p, 2, wd, dd, &x, &err) == LM_OK);
    LM_ASSERT_CLOSE(ppl(x, mixed, N), pd, 0, 1e-4);
    lm_model_free(x);
    /* The weight tuned at decay 0.9 is a minimum there. */
    for (double dw = -0.05; dw <= 0.051; dw += 0.1) {
        double w[2] = {fmin(1, fmax(0, w9[0] + dw)), 0};
        w[1] = 1 - w[0];
        lm_rng_seed(&rng, 7);
        lm_model *a[2] = {neural(), ngram(5)}, *m = NULL;
        CU_ASSERT_FATAL(lm_model_mix_dyn(a, 2, w, 0.9, &m, &err) == LM_OK);
        CU_ASSERT(ppl(m, mixed, N) >= p9 * (1 - 1e-6));
        lm_model_free(m);
    }
}

/* Mixing models of different vocabularies is refused and frees both. */
static void test_mismatch(void)
{
    lm_error err;
    lm_model *n = neural();
    lm_vocab *v = vocab();
    lm_vocab_add(v, "extra", 5, 1);
    lm_config c;
    lm_config_init(&c);
    c.embed = c.hidden = 4;
    c.layers = 1;
    lm_model *o = NULL, *x = NULL;
    CU_ASSERT_FATAL(lm_model_create(&c, v, &rng, &o, &err) == LM_OK);
    CU_ASSERT(lm_model_mix(n, o, 0.5, &x, &err) == LM_EMISMATCH);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "vocabularies differ"));
    CU_ASSERT_PTR_NULL(x);
    n = neural();
    o = neural();
    CU_ASSERT(lm_model_mix(n, o, 1.5, &x, &err) == LM_EINVAL);
}

int main(void)
{
    lm_rng_seed(&rng, 99);
    /* A text with structure both kinds can learn: a noisy cycle. */
    for (int i = 0; i < NT; i++)
        text[i] = (int32_t)(LM_N_SPECIAL + (lm_rng_uniform(&rng) < 0.8
                                                ? (uint64_t)(i % 5)
                                                : lm_rng_next(&rng) % (V - LM_N_SPECIAL)));
    static const th_test tests[] = {
        {"one loader: neural, n-gram and ARPA files", test_one_loader},
        {"n-gram states and steps", test_ngram_state},
        {"a mixture is a model: scoring, steps, states", test_mixture},
        {"the tuned mixture weight is a minimum", test_tune},
        {"mixtures refuse a vocabulary mismatch and a bad weight", test_mismatch},
        {"three-part mixtures: the weights exact, the tuned ones a minimum", test_mixture_n},
        {"mixture weights that follow the evidence: exact, steps, states", test_mixture_dynamic},
        {"choosing the mixture decay beats fixed weights where one part recalls", test_tune_dynamic},
        {NULL, NULL},
    };
    return th_run("lm", tests);
}
