/* mix.c - a linear mixture of two models over the same vocabulary, itself a model:
 * p(w | h) = lambda p_a(w | h) + (1 - lambda) p_b(w | h), each part carrying its own state. */
#include "lm/lm.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mix {
    lm_model *a, *b;
    double lambda;
    size_t V;
} mix;

typedef struct mix_state {
    lm_state *a, *b;
    float *tmp; /* (V) the second part's log-probabilities */
} mix_state;

static void mx_free(void *impl)
{
    mix *x = impl;
    if (!x)
        return;
    lm_model_free(x->a);
    lm_model_free(x->b);
    free(x);
}

static const char *mx_name(const void *impl)
{
    (void)impl;
    return "mixture";
}

static const lm_vocab *mx_vocab(const void *impl)
{
    return lm_model_vocab(((const mix *)impl)->a);
}

static void mx_text_opts(const void *impl, lm_text_opts *t)
{
    lm_model_text_opts(((const mix *)impl)->a, t);
}

static size_t mx_describe(const void *impl, char *buf, size_t cap)
{
    const mix *x = impl;
    char da[200], db[200];
    lm_model_describe(x->a, da, sizeof da);
    lm_model_describe(x->b, db, sizeof db);
    return (size_t)snprintf(buf, cap, "mixture %.4g x (%s) + %.4g x (%s)", x->lambda, da,
                            1.0 - x->lambda, db);
}

static void mx_facts(const void *impl, lm_fact_fn fn, void *ud)
{
    const mix *x = impl;
    char v[300];
    fn(ud, "arch", "mixture");
    snprintf(v, sizeof v, "%.4g", x->lambda);
    fn(ud, "lambda", v);
    lm_model_describe(x->a, v, sizeof v);
    fn(ud, "part 1", v);
    lm_model_describe(x->b, v, sizeof v);
    fn(ud, "part 2", v);
}

static size_t mx_n_params(const void *impl)
{
    const mix *x = impl;
    return lm_model_n_params(x->a) + lm_model_n_params(x->b);
}

/* The smaller non-zero window of the two. */
static size_t mx_context(const void *impl)
{
    const mix *x = impl;
    size_t ca = lm_model_context(x->a), cb = lm_model_context(x->b);
    return !ca ? cb : !cb ? ca : ca < cb ? ca : cb;
}

/* Both parts must read a text the same way for their targets to line up. */
static int mx_predicts_first(const void *impl)
{
    const mix *x = impl;
    return lm_model_predicts_first(x->a) && lm_model_predicts_first(x->b);
}

static void mx_state_free(void *st)
{
    mix_state *s = st;
    if (!s)
        return;
    lm_state_free(s->a);
    lm_state_free(s->b);
    free(s->tmp);
    free(s);
}

static int mx_state_new(const void *impl, void **out, lm_error *err)
{
    const mix *x = impl;
    mix_state *s = calloc(1, sizeof *s);
    if (!s || !(s->tmp = malloc(x->V * sizeof *s->tmp))) {
        free(s);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    int rc;
    if ((rc = lm_state_create(x->a, &s->a, err)) || (rc = lm_state_create(x->b, &s->b, err))) {
        mx_state_free(s);
        return rc;
    }
    *out = s;
    return LM_OK;
}

static void mx_state_reset(const void *impl, void *st)
{
    mix_state *s = st;
    (void)impl;
    lm_state_reset(s->a);
    lm_state_reset(s->b);
}

static int mx_state_copy(const void *impl, void *dst, const void *src, size_t pos,
                         lm_error *err)
{
    mix_state *d = dst;
    const mix_state *s = src;
    (void)impl, (void)pos;
    int rc = lm_state_copy(d->a, s->a, err);
    return rc ? rc : lm_state_copy(d->b, s->b, err);
}

static size_t mx_state_bytes(const void *impl, const void *st, size_t pos)
{
    const mix_state *s = st;
    (void)impl, (void)pos;
    return lm_state_bytes(s->a) + lm_state_bytes(s->b);
}

static int mx_state_write(const void *impl, const void *st, size_t pos, lm_h5 *h,
                          const char *group, lm_error *err)
{
    const mix_state *s = st;
    char ga[256], gb[256];
    (void)impl, (void)pos;
    lm_h5_join(ga, sizeof ga, group, "a");
    lm_h5_join(gb, sizeof gb, group, "b");
    int rc = lm_state_write(s->a, h, ga, err);
    return rc ? rc : lm_state_write(s->b, h, gb, err);
}

/* Both parts are read into fresh states first, so a failure changes nothing. */
static int mx_state_read(const void *impl, void *st, size_t pos, lm_h5 *h, const char *group,
                         lm_error *err)
{
    const mix *x = impl;
    mix_state *s = st;
    char ga[256], gb[256];
    (void)pos;
    lm_h5_join(ga, sizeof ga, group, "a");
    lm_h5_join(gb, sizeof gb, group, "b");
    lm_state *a = NULL, *b = NULL;
    int rc;
    if (!(rc = lm_state_create(x->a, &a, err)) && !(rc = lm_state_create(x->b, &b, err)) &&
        !(rc = lm_state_read(a, h, ga, err)) && !(rc = lm_state_read(b, h, gb, err))) {
        lm_state *t = s->a;
        s->a = a, a = t;
        t = s->b;
        s->b = b, b = t;
    }
    lm_state_free(a);
    lm_state_free(b);
    return rc;
}

/* log(lambda e^la + (1 - lambda) e^lb), given log lambda and log(1 - lambda). */
static float mix_logp(double lla, double llb, float la, float lb)
{
    float t[2] = {(float)(lla + la), (float)(llb + lb)};
    return (float)lm_logsumexp(t, 2);
}

static int mx_step(const void *impl, void *st, size_t pos, int32_t tok, float *logp,
                   lm_error *err)
{
    const mix *x = impl;
    mix_state *s = st;
    (void)pos;
    int rc;
    if ((rc = lm_step(x->a, s->a, tok, logp, err)) ||
        (rc = lm_step(x->b, s->b, tok, logp ? s->tmp : NULL, err)))
        return rc;
    if (logp) {
        double lla = log(x->lambda), llb = log1p(-x->lambda);
        for (size_t w = 0; w < x->V; w++)
            logp[w] = mix_logp(lla, llb, logp[w], s->tmp[w]);
    }
    return LM_OK;
}

/* Each part scores the streams with its own fast path; the mixture combines per target. */
static int mx_score(const void *impl, const int32_t *ids, size_t T, size_t B, size_t bptt,
                    size_t from, float *lp, lm_error *err)
{
    const mix *x = impl;
    float *tmp = malloc(T * B * sizeof *tmp);
    if (!tmp)
        return lm_fail(err, LM_ENOMEM, "out of memory for scoring %zu streams", B);
    int rc;
    if (!(rc = lm_kind_score(x->a, ids, T, B, bptt, from, lp, err)) &&
        !(rc = lm_kind_score(x->b, ids, T, B, bptt, from, tmp, err))) {
        double lla = log(x->lambda), llb = log1p(-x->lambda);
        for (size_t i = from * B; i < T * B; i++)
            lp[i] = mix_logp(lla, llb, lp[i], tmp[i]);
    }
    free(tmp);
    return rc;
}

const lm_kind lm_kind_mixture = {
    .free = mx_free,
    .name = mx_name,
    .vocab = mx_vocab,
    .text_opts = mx_text_opts,
    .describe = mx_describe,
    .facts = mx_facts,
    .predicts_first = mx_predicts_first,
    .n_params = mx_n_params,
    .context = mx_context,
    .state_new = mx_state_new,
    .state_free = mx_state_free,
    .state_reset = mx_state_reset,
    .state_copy = mx_state_copy,
    .state_bytes = mx_state_bytes,
    .state_write = mx_state_write,
    .state_read = mx_state_read,
    .step = mx_step,
    .score = mx_score,
};

/* LM_EMISMATCH unless a and b read text the same way into the same vocabulary. */
static int check_pair(const lm_model *a, const lm_model *b, lm_error *err)
{
    if (!lm_vocab_equal(lm_model_vocab(a), lm_model_vocab(b)))
        return lm_fail(err, LM_EMISMATCH,
                       "the two models' vocabularies differ (%zu and %zu tokens): a mixture "
                       "needs models trained with the same vocabulary",
                       lm_vocab_size(lm_model_vocab(a)), lm_vocab_size(lm_model_vocab(b)));
    lm_text_opts ta, tb;
    lm_model_text_opts(a, &ta);
    lm_model_text_opts(b, &tb);
    if (ta.tokenize != tb.tokenize || ta.lowercase != tb.lowercase)
        return lm_fail(err, LM_EMISMATCH, "the two models tokenize text differently");
    return LM_OK;
}

int lm_model_mix(lm_model *a, lm_model *b, double lambda, lm_model **out, lm_error *err)
{
    int rc = LM_OK;
    if (!(lambda >= 0.0 && lambda <= 1.0))
        rc = lm_fail(err, LM_EINVAL, "mixture weight %g outside [0, 1]", lambda);
    else
        rc = check_pair(a, b, err);
    mix *x = rc ? NULL : calloc(1, sizeof *x);
    if (!rc && !x)
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
    if (rc) {
        lm_model_free(a);
        lm_model_free(b);
        return rc;
    }
    x->a = a;
    x->b = b;
    x->lambda = lambda;
    x->V = lm_vocab_size(lm_model_vocab(a));
    return lm_model_wrap(&lm_kind_mixture, x, out, err);
}

int lm_model_mix_n(lm_model **parts, size_t n, const double *weights, lm_model **out,
                   lm_error *err)
{
    double sum = 0;
    int ok = n >= 1;
    for (size_t i = 0; ok && i < n; i++) {
        ok = weights[i] >= 0.0 && weights[i] <= 1.0;
        sum += weights[i];
    }
    if (!ok || fabs(sum - 1.0) > 1e-6) {
        for (size_t i = 0; i < n; i++)
            lm_model_free(parts[i]);
        return lm_fail(err, LM_EINVAL, "mixture weights must lie in [0, 1] and sum to 1 (they "
                                       "sum to %g)", sum);
    }
    /* ((p0 + p1) + p2) + ...: part i joins with weight w_i / (w_0 + ... + w_i). */
    lm_model *m = parts[0];
    double acc = weights[0];
    for (size_t i = 1; i < n; i++) {
        double tot = acc + weights[i];
        int rc = lm_model_mix(m, parts[i], tot > 0 ? acc / tot : 1.0, &m, err);
        acc = tot;
        if (rc) {
            for (size_t j = i + 1; j < n; j++)
                lm_model_free(parts[j]);
            return rc;
        }
    }
    *out = m;
    return LM_OK;
}

/* EM for the weights of a linear mixture (the objective is concave in them): each weight
 * becomes the mean over targets of its part's posterior. */
int lm_mix_tune_n(const lm_model *const *parts, size_t n, const int32_t *ids, size_t n_ids,
                  size_t bptt, double *weights, double *ppl, lm_error *err)
{
    if (n < 1)
        return lm_fail(err, LM_EINVAL, "a mixture needs at least one part");
    int rc = LM_OK;
    for (size_t j = 1; j < n && !rc; j++)
        rc = check_pair(parts[0], parts[j], err);
    float **lp = rc ? NULL : calloc(n, sizeof *lp);
    double *post = rc ? NULL : calloc(2 * n, sizeof *post), *pw = post ? post + n : NULL;
    if (!rc && (!lp || !post))
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
    size_t k = 0;
    for (size_t j = 0; j < n && !rc; j++) {
        int32_t *tg = NULL;
        size_t kj = 0;
        rc = lm_model_logprobs(parts[j], ids, n_ids, 1, bptt, &lp[j], &tg, &kj, err);
        free(tg);
        LM_ASSERT(rc || j == 0 || kj == k);
        k = kj;
    }
    if (!rc && k == 0)
        rc = lm_fail(err, LM_EINVAL, "no tokens to tune the mixture weights on");
    if (rc)
        goto out;
    for (size_t j = 0; j < n; j++)
        weights[j] = 1.0 / (double)n;
    double nll = 0;
    for (int it = 0; it < 500; it++) {
        memset(post, 0, n * sizeof *post);
        nll = 0;
        for (size_t i = 0; i < k; i++) {
            double p = 0;
            for (size_t j = 0; j < n; j++)
                p += pw[j] = weights[j] * exp((double)lp[j][i]);
            if (p > 0) {
                for (size_t j = 0; j < n; j++)
                    post[j] += pw[j] / p;
                nll -= log(p);
            }
        }
        double change = 0, tot = 0;
        for (size_t j = 0; j < n; j++)
            tot += post[j];
        for (size_t j = 0; j < n; j++) {
            double next = tot > 0 ? post[j] / tot : weights[j];
            change = fmax(change, fabs(next - weights[j]));
            weights[j] = next;
        }
        if (change < 1e-6)
            break;
    }
    if (ppl)
        *ppl = exp(nll / (double)k);
out:
    for (size_t j = 0; lp && j < n; j++)
        free(lp[j]);
    free(lp);
    free(post);
    return rc;
}

int lm_mix_tune(const lm_model *a, const lm_model *b, const int32_t *ids, size_t n,
                size_t bptt, double *lambda, double *ppl, lm_error *err)
{
    const lm_model *parts[2] = {a, b};
    double w[2];
    int rc = lm_mix_tune_n(parts, 2, ids, n, bptt, w, ppl, err);
    if (!rc)
        *lambda = w[0];
    return rc;
}
