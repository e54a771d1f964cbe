/* mix.c - a linear mixture of two models over the same vocabulary, itself a model:
 * p(w | h) = lambda_t p_a(w | h) + (1 - lambda_t) p_b(w | h), each part carrying its own state.
 *
 * With decay D = 0 the weight is fixed (lambda_t = lambda). With D in (0, 1] it follows the
 * parts' recent success, as Bayesian interpolation does (the posterior of "a made this text"
 * given the tokens so far, forgetting old evidence): logit lambda_t = logit lambda + r_t with
 * r_t = sum over earlier targets i < t of D^(t - i) (log p_a(x_i) - log p_b(x_i)), so
 * r_{t+1} = D (r_t + log p_a(x_t) - log p_b(x_t)). D = 1 is the exact posterior; a text that
 * one part knows by heart (a 5-gram recalling a line of its training data) soon leans on it. */
#include "lm/lm.h"
#include "nn/nn.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct mix {
    lm_model *a, *b;
    double lambda;
    double decay; /* 0: fixed weights */
    size_t V;
} mix;

/* The log-odds r are kept within this bound (also when a part rules a token out): a weight
 * within e^-30 of 0 or 1 can still recover after a few tokens. */
#define MIX_MAX_ODDS 30.0

typedef struct mix_state {
    lm_state *a, *b;
    float *tmp; /* (V) the second part's log-probabilities (with decay: of the last step) */
    float *pa;  /* (V) with decay: the first part's log-probabilities of the last step */
    double r;   /* with decay: the log-odds evidence for a so far */
    int have;   /* with decay: pa and tmp hold the last step's predictions */
} mix_state;

/* The weight of a given the evidence r (log lambda_t and log(1 - lambda_t)). */
static void mix_weights(const mix *x, double r, double *lla, double *llb)
{
    if (x->decay <= 0 || x->lambda <= 0 || x->lambda >= 1) {
        *lla = log(x->lambda);
        *llb = log1p(-x->lambda);
        return;
    }
    double z = log(x->lambda) - log1p(-x->lambda) + r;
    /* log sigma(z) = -softplus(-z), log(1 - sigma(z)) = -softplus(z). */
    *lla = z > 0 ? -log1p(exp(-z)) : z - log1p(exp(z));
    *llb = z > 0 ? -z - log1p(exp(-z)) : -log1p(exp(z));
}

/* r after seeing target x_t with the parts' log-probabilities la and lb. */
static double mix_evidence(const mix *x, double r, double la, double lb)
{
    double diff = la - lb; /* NaN only when both parts rule the token out: no evidence */
    r = x->decay * (r + (diff == diff ? diff : 0.0));
    return r > MIX_MAX_ODDS ? MIX_MAX_ODDS : r < -MIX_MAX_ODDS ? -MIX_MAX_ODDS : r;
}

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
    if (x->decay > 0)
        return (size_t)snprintf(buf, cap,
                                "mixture %.4g x (%s) + %.4g x (%s), weights following "
                                "the parts' recent success (decay %.4g)",
                                x->lambda, da, 1.0 - x->lambda, db, x->decay);
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
    snprintf(v, sizeof v, "%.4g%s", x->decay, x->decay > 0 ? "" : " (fixed weights)");
    fn(ud, "decay", v);
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
    free(s->pa);
    free(s);
}

static int mx_state_new(const void *impl, void **out, lm_error *err)
{
    const mix *x = impl;
    mix_state *s = calloc(1, sizeof *s);
    if (!s || !(s->tmp = malloc(x->V * sizeof *s->tmp)) ||
        (x->decay > 0 && !(s->pa = malloc(x->V * sizeof *s->pa)))) {
        if (s)
            free(s->tmp);
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
    s->r = 0;
    s->have = 0;
}

static int mx_state_copy(const void *impl, void *dst, const void *src, size_t pos, lm_error *err)
{
    const mix *x = impl;
    mix_state *d = dst;
    const mix_state *s = src;
    (void)pos;
    int rc = lm_state_copy(d->a, s->a, err);
    if (rc || (rc = lm_state_copy(d->b, s->b, err)))
        return rc;
    if (x->decay > 0) {
        memcpy(d->pa, s->pa, x->V * sizeof *d->pa);
        memcpy(d->tmp, s->tmp, x->V * sizeof *d->tmp);
        d->r = s->r;
        d->have = s->have;
    }
    return LM_OK;
}

static size_t mx_state_bytes(const void *impl, const void *st, size_t pos)
{
    const mix *x = impl;
    const mix_state *s = st;
    (void)pos;
    return lm_state_bytes(s->a) + lm_state_bytes(s->b) +
           (x->decay > 0 ? 2 * x->V * sizeof(float) + sizeof s->r : 0);
}

/* With decay, the state also has "evidence" (2 doubles: r and the flag have) and
 * "predictions" (2 x V floats: the two parts' last log-probabilities). */
static int mx_state_write(const void *impl, const void *st, size_t pos, lm_h5 *h, const char *group,
                          lm_error *err)
{
    const mix *x = impl;
    const mix_state *s = st;
    char ga[256], gb[256];
    (void)pos;
    lm_h5_join(ga, sizeof ga, group, "a");
    lm_h5_join(gb, sizeof gb, group, "b");
    int rc = lm_state_write(s->a, h, ga, err);
    if (rc || (rc = lm_state_write(s->b, h, gb, err)) || x->decay <= 0)
        return rc;
    double e[2] = {s->r, s->have};
    size_t ne = 2, dims[2] = {2, x->V};
    float *p = malloc(2 * x->V * sizeof *p);
    if (!p)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    memcpy(p, s->pa, x->V * sizeof *p);
    memcpy(p + x->V, s->tmp, x->V * sizeof *p);
    lm_h5_join(ga, sizeof ga, group, "evidence");
    lm_h5_join(gb, sizeof gb, group, "predictions");
    if (!(rc = lm_h5_write(h, ga, LM_H5_F64, e, 1, &ne, err)))
        rc = lm_h5_write(h, gb, LM_H5_F32, p, 2, dims, err);
    free(p);
    return rc;
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
    double e[2] = {0, 0};
    size_t ne = 2, dims[2] = {2, x->V};
    float *p = x->decay > 0 ? malloc(2 * x->V * sizeof *p) : NULL;
    int rc = x->decay > 0 && !p ? lm_fail(err, LM_ENOMEM, "out of memory") : LM_OK;
    if (!rc && p) {
        char ge[256], gp[256];
        lm_h5_join(ge, sizeof ge, group, "evidence");
        lm_h5_join(gp, sizeof gp, group, "predictions");
        if (!(rc = lm_h5_read(h, ge, LM_H5_F64, e, 1, &ne, err)) &&
            !(fabs(e[0]) <= MIX_MAX_ODDS && (e[1] == 0 || e[1] == 1))) /* NaN fails too */
            rc = lm_fail(err, LM_EFORMAT,
                         "%s: %s is not a mixture's evidence (log-odds %g, "
                         "flag %g)",
                         lm_h5_path(h), ge, e[0], e[1]);
        if (!rc)
            rc = lm_h5_read(h, gp, LM_H5_F32, p, 2, dims, err);
        for (size_t i = 0; !rc && i < 2 * x->V; i++)
            if (!(p[i] <= 1e-4)) /* log-probabilities (rounding may pass 0); NaN fails */
                rc = lm_fail(err, LM_EFORMAT, "%s: %s holds a log-probability of %g", lm_h5_path(h),
                             gp, (double)p[i]);
    }
    if (!rc && !(rc = lm_state_create(x->a, &a, err)) && !(rc = lm_state_create(x->b, &b, err)) &&
        !(rc = lm_state_read(a, h, ga, err)) && !(rc = lm_state_read(b, h, gb, err))) {
        lm_state *t = s->a;
        s->a = a, a = t;
        t = s->b;
        s->b = b, b = t;
        if (p) {
            s->r = e[0];
            s->have = e[1] != 0;
            memcpy(s->pa, p, x->V * sizeof *p);
            memcpy(s->tmp, p + x->V, x->V * sizeof *p);
        }
    }
    free(p);
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

/* With decay the evidence needs both parts' predictions of every token, wanted or not, kept in
 * the state (pa, tmp); a fixed mixture lets the first part write straight into logp and skips
 * the predictions nobody wants. */
static int mx_step(const void *impl, void *st, size_t pos, int32_t tok, float *logp, lm_error *err)
{
    const mix *x = impl;
    mix_state *s = st;
    (void)pos;
    int dyn = x->decay > 0;
    if (dyn && s->have)
        s->r = mix_evidence(x, s->r, s->pa[tok], s->tmp[tok]);
    s->have = 0;
    float *la = dyn ? s->pa : logp, *lb = dyn || logp ? s->tmp : NULL;
    int rc;
    if ((rc = lm_step(x->a, s->a, tok, la, err)) || (rc = lm_step(x->b, s->b, tok, lb, err)))
        return rc;
    s->have = dyn;
    if (logp) {
        double lla, llb;
        mix_weights(x, s->r, &lla, &llb);
        for (size_t w = 0; w < x->V; w++)
            logp[w] = mix_logp(lla, llb, la[w], s->tmp[w]);
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
        /* Each stream's evidence starts at its first scored target, as a fresh state's. */
        double lla, llb;
        mix_weights(x, 0.0, &lla, &llb);
        for (size_t b = 0; b < B; b++) {
            double r = 0;
            for (size_t t = from; t < T; t++) {
                size_t i = t * B + b;
                if (x->decay > 0)
                    mix_weights(x, r, &lla, &llb);
                float la = lp[i];
                lp[i] = mix_logp(lla, llb, la, tmp[i]);
                if (x->decay > 0)
                    r = mix_evidence(x, r, la, tmp[i]);
            }
        }
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

static int mix_new(lm_model *a, lm_model *b, double lambda, double decay, lm_model **out,
                   lm_error *err)
{
    int rc = LM_OK;
    if (!(lambda >= 0.0 && lambda <= 1.0))
        rc = lm_fail(err, LM_EINVAL, "mixture weight %g outside [0, 1]", lambda);
    else if (!(decay >= 0.0 && decay <= 1.0))
        rc = lm_fail(err, LM_EINVAL, "mixture decay %g outside [0, 1]", decay);
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
    x->decay = decay;
    x->V = lm_vocab_size(lm_model_vocab(a));
    return lm_model_wrap(&lm_kind_mixture, x, out, err);
}

int lm_model_mix(lm_model *a, lm_model *b, double lambda, lm_model **out, lm_error *err)
{
    return mix_new(a, b, lambda, 0.0, out, err);
}

/* The weight of the first i parts within the first i + 1 (the nested node's lambda) from the
 * parts' weights, and back. */
static void flat_to_nested(const double *w, size_t n, double *lam)
{
    double acc = w[0];
    for (size_t i = 1; i < n; i++) {
        double tot = acc + w[i];
        lam[i] = tot > 0 ? acc / tot : 1.0;
        acc = tot;
    }
}

static void nested_to_flat(const double *lam, size_t n, double *w)
{
    double acc = 1.0;
    for (size_t i = n - 1; i >= 1; i--) {
        w[i] = acc * (1.0 - lam[i]);
        acc *= lam[i];
    }
    w[0] = acc;
}

int lm_model_mix_dyn(lm_model **parts, size_t n, const double *weights, double decay,
                     lm_model **out, lm_error *err)
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
        return lm_fail(err, LM_EINVAL,
                       "mixture weights must lie in [0, 1] and sum to 1 (they "
                       "sum to %g)",
                       sum);
    }
    /* ((p0 + p1) + p2) + ...: part i joins with weight w_i / (w_0 + ... + w_i). */
    lm_model *m = parts[0];
    double acc = weights[0];
    for (size_t i = 1; i < n; i++) {
        double tot = acc + weights[i];
        int rc = mix_new(m, parts[i], tot > 0 ? acc / tot : 1.0, decay, &m, err);
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

int lm_model_mix_n(lm_model **parts, size_t n, const double *weights, lm_model **out, lm_error *err)
{
    return lm_model_mix_dyn(parts, n, weights, 0.0, out, err);
}

/* The negative log-likelihood of the nested mixture with node weights lam[1..n) and decay D
 * over the k targets of one stream (lp[j][i]: part j's log-probability of target i), computed
 * as mx_score does; r is scratch for n values. */
static double nested_nll(float *const *lp, size_t n, size_t k, const double *lam, double D,
                         double *r)
{
    for (size_t j = 0; j < n; j++)
        r[j] = 0;
    double nll = 0;
    for (size_t i = 0; i < k; i++) {
        float l = lp[0][i];
        for (size_t j = 1; j < n; j++) {
            mix node = {.lambda = lam[j], .decay = D};
            double lla, llb;
            mix_weights(&node, r[j], &lla, &llb);
            float t = mix_logp(lla, llb, l, lp[j][i]);
            if (D > 0)
                r[j] = mix_evidence(&node, r[j], l, lp[j][i]);
            l = t;
        }
        nll -= l;
    }
    return nll;
}

/* The tuner's working set: the parts' target log-probabilities, the nested node weights (the
 * starting ones, the ones being tuned, the best so far) and scratch for the evidence. */
typedef struct tuner {
    float *const *lp;
    size_t n, k;
    double *start, *lam, *best, *r;
    double best_nll, best_d;
    size_t j; /* the node tune_node is searching */
    double D; /* the decay tune_node searches at */
} tuner;

/* Golden-section search of f over [lo, hi] (iters narrowing steps): the best point seen, its
 * value in *fbest. */
static double golden_min(double lo, double hi, int iters, double (*f)(tuner *, double), tuner *t,
                         double *fbest)
{
    const double g = 0.5 * (sqrt(5.0) - 1.0);
    double x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo);
    double f1 = f(t, x1), f2 = f(t, x2);
    for (int it = 0; it < iters; it++) {
        if (f1 <= f2) {
            hi = x2, x2 = x1, f2 = f1;
            x1 = hi - g * (hi - lo);
            f1 = f(t, x1);
        } else {
            lo = x1, x1 = x2, f1 = f2;
            x2 = lo + g * (hi - lo);
            f2 = f(t, x2);
        }
    }
    *fbest = f1 <= f2 ? f1 : f2;
    return f1 <= f2 ? x1 : x2;
}

/* The nll with node t->j's weight at x, the others as they are. */
static double node_nll(tuner *t, double x)
{
    t->lam[t->j] = x;
    return nested_nll(t->lp, t->n, t->k, t->lam, t->D, t->r);
}

/* Node j's weight in [0, 1] with the least nll at decay D, the other nodes fixed; leaves it in
 * lam[j] and returns its nll. */
static double tune_node(tuner *t, size_t j, double D)
{
    double f;
    t->j = j;
    t->D = D;
    t->lam[j] = golden_min(0, 1, 24, node_nll, t, &f);
    return f;
}

/* The decays lm_mix_tune_dyn tries first when asked to choose one. */
static const double tune_decays[] = {0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 1.0};

/* The node weights tuned at decay D into lam, coordinate-wise from start; their nll. */
static double tune_at(tuner *t, double D)
{
    memcpy(t->lam, t->start, t->n * sizeof *t->lam);
    double f = INFINITY;
    for (int round = 0; round < (t->n == 2 ? 1 : 2); round++)
        for (size_t j = 1; j < t->n; j++)
            f = tune_node(t, j, D);
    return f;
}

/* tune_at D, kept as the best when it beats the best so far. */
static void try_decay(tuner *t, double D)
{
    double f = tune_at(t, D);
    if (f < t->best_nll) {
        t->best_nll = f, t->best_d = D;
        memcpy(t->best, t->lam, t->n * sizeof *t->best);
    }
}

/* From EM's fixed weights: the node weights tuned at *decay, or, for *decay < 0, at each decay
 * of the grid, then at decays between the best one's neighbours by golden-section search
 * (rounded to 0.001, so that the printed value repeats the result); keeps the best, the fixed
 * weights (decay 0) when nothing beats them. */
static int tune_decay(float *const *lp, size_t n, size_t k, double *weights, double *decay,
                      double *nll, lm_error *err)
{
    double *buf = calloc(4 * n, sizeof *buf);
    if (!buf)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    tuner t = {.lp = lp,
               .n = n,
               .k = k,
               .lam = buf,
               .best = buf + n,
               .start = buf + 2 * n,
               .r = buf + 3 * n};
    flat_to_nested(weights, n, t.start);
    memcpy(t.best, t.start, n * sizeof *t.best);
    if (*decay >= 0) {
        t.best_nll = INFINITY, t.best_d = *decay;
        try_decay(&t, *decay);
    } else {
        size_t n_grid = sizeof tune_decays / sizeof *tune_decays;
        t.best_nll = nested_nll(lp, n, k, t.start, 0.0, t.r), t.best_d = 0;
        for (size_t g = 0; g < n_grid; g++)
            try_decay(&t, tune_decays[g]);
        if (t.best_d > 0) {
            size_t g = 0;
            while (tune_decays[g] != t.best_d)
                g++;
            double lo = g ? tune_decays[g - 1] : 0.0,
                   hi = g + 1 < n_grid ? tune_decays[g + 1] : 1.0, f;
            double d = golden_min(lo, hi, 12, tune_at, &t, &f);
            try_decay(&t, round(1000.0 * d) / 1000.0);
        }
    }
    nested_to_flat(t.best, n, weights);
    *decay = t.best_d;
    *nll = t.best_nll;
    free(buf);
    return LM_OK;
}

/* EM for the weights of a linear mixture with fixed weights (the objective is concave in
 * them): each weight becomes the mean over targets of its part's posterior. Then, for a decay
 * other than 0, the search above. */
int lm_mix_tune_dyn(const lm_model *const *parts, size_t n, const int32_t *ids, size_t n_ids,
                    size_t bptt, double *weights, double *decay, double *ppl, lm_error *err)
{
    if (n < 1)
        return lm_fail(err, LM_EINVAL, "a mixture needs at least one part");
    if (!(*decay <= 1.0))
        return lm_fail(err, LM_EINVAL, "mixture decay %g above 1", *decay);
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
    if (n >= 2 && *decay != 0)
        rc = tune_decay(lp, n, k, weights, decay, &nll, err);
    else
        *decay = 0;
    if (!rc && ppl)
        *ppl = exp(nll / (double)k);
out:
    for (size_t j = 0; lp && j < n; j++)
        free(lp[j]);
    free(lp);
    free(post);
    return rc;
}

int lm_mix_tune_n(const lm_model *const *parts, size_t n, const int32_t *ids, size_t n_ids,
                  size_t bptt, double *weights, double *ppl, lm_error *err)
{
    double decay = 0;
    return lm_mix_tune_dyn(parts, n, ids, n_ids, bptt, weights, &decay, ppl, err);
}

int lm_mix_tune(const lm_model *a, const lm_model *b, const int32_t *ids, size_t n, size_t bptt,
                double *lambda, double *ppl, lm_error *err)
{
    const lm_model *parts[2] = {a, b};
    double w[2];
    int rc = lm_mix_tune_n(parts, 2, ids, n, bptt, w, ppl, err);
    if (!rc)
        *lambda = w[0];
    return rc;
}
