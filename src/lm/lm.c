/* lm.c - the language-model interface: one loader for every kind, states, the step, and
 * evaluation written once over the kinds' scoring. */
#include "lm/lm.h"
#include "model/model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Kinds that load from files, tried in order. */
static const lm_kind *const loaders[] = {&lm_kind_neural, &lm_kind_ngram, &lm_kind_quant,
                                          NULL};

int lm_model_wrap(const lm_kind *kind, void *impl, lm_model **out, lm_error *err)
{
    lm_model *m = calloc(1, sizeof *m);
    if (!m) {
        kind->free(impl);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    m->kind = kind;
    m->impl = impl;
    *out = m;
    return LM_OK;
}

int lm_model_create(const lm_config *cfg, lm_vocab *vocab, lm_rng *rng, lm_model **out,
                    lm_error *err)
{
    lm_net *n;
    int rc = lm_net_create(cfg, vocab, rng, &n, err);
    if (rc)
        return rc;
    lm_head_check_order(n);
    return lm_model_wrap(&lm_kind_neural, n, out, err);
}

int lm_model_load(const char *path, lm_model **out, lm_error *err)
{
    char arch[32];
    int rc = lm_h5_file_arch(path, arch, sizeof arch, err);
    if (rc < 0)
        return rc;
    const char *a = rc == 1 ? NULL : arch;
    for (size_t i = 0; loaders[i]; i++) {
        void *impl = NULL;
        rc = loaders[i]->load(path, a, &impl, err);
        if (rc == LM_OK)
            return lm_model_wrap(loaders[i], impl, out, err);
        if (rc < 0)
            return rc;
    }
    if (!a)
        return lm_fail(err, LM_EFORMAT, "%s: not a model file (neither HDF5 nor ARPA text)",
                       path);
    return lm_fail(err, LM_EFORMAT, "%s: model kind '%s' is not one this program knows", path,
                   arch);
}

void lm_model_free(lm_model *m)
{
    if (!m)
        return;
    m->kind->free(m->impl);
    free(m);
}

int lm_model_save(const lm_model *m, const char *path, lm_error *err)
{
    if (!m->kind->save)
        return lm_fail(err, LM_EINVAL, "%s: a %s model is not saved as one file", path,
                       m->kind->name(m->impl));
    return m->kind->save(m->impl, path, err);
}

int lm_model_from_ngram(lm_ngram *g, lm_model **out, lm_error *err)
{
    return lm_model_wrap(&lm_kind_ngram, g, out, err);
}

struct lm_net *lm_model_net(const lm_model *m)
{
    return m->kind->net ? m->kind->net(m->impl) : NULL;
}

const char *lm_model_kind(const lm_model *m)
{
    return m->kind->name(m->impl);
}

const lm_vocab *lm_model_vocab(const lm_model *m)
{
    return m->kind->vocab(m->impl);
}

void lm_model_text_opts(const lm_model *m, lm_text_opts *t)
{
    lm_text_opts_init(t);
    m->kind->text_opts(m->impl, t);
}

size_t lm_model_describe(const lm_model *m, char *buf, size_t cap)
{
    return m->kind->describe(m->impl, buf, cap);
}

void lm_model_facts(const lm_model *m, lm_fact_fn fn, void *ud)
{
    m->kind->facts(m->impl, fn, ud);
}

size_t lm_model_n_params(const lm_model *m)
{
    return m->kind->n_params(m->impl);
}

int lm_model_predicts_first(const lm_model *m)
{
    return m->kind->predicts_first ? m->kind->predicts_first(m->impl) : 0;
}

size_t lm_model_context(const lm_model *m)
{
    return m->kind->context ? m->kind->context(m->impl) : 0;
}

const lm_config *lm_model_config(const lm_model *m)
{
    return m->kind->config ? m->kind->config(m->impl) : NULL;
}

size_t lm_model_history(const lm_model *m, const lm_history_row **rows)
{
    *rows = NULL;
    return m->kind->history ? m->kind->history(m->impl, rows) : 0;
}

/* ---- states ------------------------------------------------------------------------------ */

int lm_state_create(const lm_model *m, lm_state **out, lm_error *err)
{
    lm_state *s = calloc(1, sizeof *s);
    if (!s)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    s->m = m;
    int rc = m->kind->state_new(m->impl, &s->impl, err);
    if (rc) {
        free(s);
        return rc;
    }
    *out = s;
    return LM_OK;
}

void lm_state_free(lm_state *s)
{
    if (!s)
        return;
    s->m->kind->state_free(s->impl);
    free(s);
}

void lm_state_reset(lm_state *s)
{
    s->pos = 0;
    s->m->kind->state_reset(s->m->impl, s->impl);
}

int lm_state_copy(lm_state *dst, const lm_state *src, lm_error *err)
{
    if (dst->m != src->m)
        return lm_fail(err, LM_EMISMATCH, "states of different models");
    int rc = src->m->kind->state_copy(src->m->impl, dst->impl, src->impl, src->pos, err);
    if (!rc)
        dst->pos = src->pos;
    return rc;
}

size_t lm_state_position(const lm_state *s)
{
    return s->pos;
}

size_t lm_state_bytes(const lm_state *s)
{
    return s->m->kind->state_bytes(s->m->impl, s->impl, s->pos);
}

int lm_step(const lm_model *m, lm_state *s, int32_t token, float *logp, lm_error *err)
{
    if (s->m != m)
        return lm_fail(err, LM_EMISMATCH, "the state belongs to another model");
    if (token < 0 || (size_t)token >= lm_vocab_size(lm_model_vocab(m)))
        return lm_fail(err, LM_EINVAL, "token id %d outside the vocabulary", (int)token);
    int rc = m->kind->step(m->impl, s->impl, s->pos, token, logp, err);
    if (!rc)
        s->pos++;
    return rc;
}

int lm_state_write(const lm_state *s, lm_h5 *h, const char *group, lm_error *err)
{
    const lm_model *m = s->m;
    int rc;
    if ((rc = lm_h5_attr_set_str(h, group, "format", "lstmlm-state", err)) ||
        (rc = lm_h5_attr_set_u64(h, group, "format_version", 1, err)) ||
        (rc = lm_h5_attr_set_str(h, group, "arch", lm_model_kind(m), err)) ||
        (rc = lm_h5_attr_set_u64(h, group, "vocab_size", lm_vocab_size(lm_model_vocab(m)),
                                 err)) ||
        (rc = lm_h5_attr_set_u64(h, group, "position", s->pos, err)))
        return rc;
    return m->kind->state_write(m->impl, s->impl, s->pos, h, group, err);
}

int lm_state_save(const lm_state *s, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_create(path, &h, err);
    if (rc)
        return rc;
    if ((rc = lm_state_write(s, h, "/", err))) {
        lm_h5_close(h);
        return rc;
    }
    return lm_h5_commit(h, err);
}

int lm_state_read(lm_state *s, lm_h5 *h, const char *group, lm_error *err)
{
    const char *path = lm_h5_path(h);
    const lm_model *m = s->m;
    char fmt[32], arch[32];
    uint64_t pos, vocab, version;
    int rc;
    if (!lm_h5_has_attr(h, group, "format"))
        return lm_fail(err, LM_EFORMAT, "%s: not a saved conversation state", path);
    if ((rc = lm_h5_attr_str(h, group, "format", fmt, sizeof fmt, err)))
        return rc;
    if (strcmp(fmt, "lstmlm-state"))
        return lm_fail(err, LM_EFORMAT, "%s: not a saved conversation state", path);
    if ((rc = lm_h5_attr_u64(h, group, "format_version", &version, err)) ||
        (rc = lm_h5_attr_str(h, group, "arch", arch, sizeof arch, err)) ||
        (rc = lm_h5_attr_u64(h, group, "position", &pos, err)) ||
        (rc = lm_h5_attr_u64(h, group, "vocab_size", &vocab, err)))
        return rc;
    if (version != 1)
        return lm_fail(err, LM_EFORMAT, "%s: state format version %llu is not supported", path,
                       (unsigned long long)version);
    if (strcmp(arch, lm_model_kind(m)) || vocab != lm_vocab_size(lm_model_vocab(m)))
        return lm_fail(err, LM_EMISMATCH,
                       "%s: state of a %s model with %llu tokens, not this model", path, arch,
                       (unsigned long long)vocab);
    if (pos > ((uint64_t)1 << 40))
        return lm_fail(err, LM_EFORMAT, "%s: absurd state position %llu", path,
                       (unsigned long long)pos);
    if ((rc = m->kind->state_read(m->impl, s->impl, (size_t)pos, h, group, err)))
        return rc;
    s->pos = (size_t)pos;
    return LM_OK;
}

int lm_state_load(lm_state *s, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    rc = lm_state_read(s, h, "/", err);
    lm_h5_close(h);
    return rc;
}

/* ---- scoring and evaluation -------------------------------------------------------------- */

/* Scoring by steps: one state per stream, the targets read from the step's distribution. */
static int score_by_steps(const lm_model *m, const int32_t *ids, size_t T, size_t B,
                          size_t from, float *lp, lm_error *err)
{
    size_t V = lm_vocab_size(lm_model_vocab(m));
    lm_state *s = NULL;
    float *row = malloc(V * sizeof *row);
    int rc = row ? lm_state_create(m, &s, err) : lm_fail(err, LM_ENOMEM, "out of memory");
    for (size_t b = 0; !rc && b < B; b++) {
        lm_state_reset(s);
        for (size_t t = 0; !rc && t + 1 < T; t++) {
            rc = lm_step(m, s, ids[t * B + b], t + 1 >= from ? row : NULL, err);
            if (!rc && t + 1 >= from)
                lp[(t + 1) * B + b] = row[ids[(t + 1) * B + b]];
        }
    }
    lm_state_free(s);
    free(row);
    return rc;
}

int lm_kind_score(const lm_model *m, const int32_t *ids, size_t T, size_t B, size_t bptt,
                  size_t from, float *lp, lm_error *err)
{
    LM_ASSERT(from >= 1 && bptt >= 1);
    if (m->kind->score)
        return m->kind->score(m->impl, ids, T, B, bptt, from, lp, err);
    return score_by_steps(m, ids, T, B, from, lp, err);
}

/* ids[0..n) as `batch` streams of n / batch tokens, time-major (the trainer's batcher
 * layout): *out[t * batch + b] = ids[b * L + t]. */
static int streams(const int32_t *ids, size_t n, size_t batch, int32_t **out, size_t *L,
                   lm_error *err)
{
    *L = n / batch;
    int32_t *x = malloc(*L * batch * sizeof *x);
    if (!x)
        return lm_fail(err, LM_ENOMEM, "out of memory for %zu tokens", n);
    for (size_t b = 0; b < batch; b++)
        for (size_t t = 0; t < *L; t++)
            x[t * batch + b] = ids[b * *L + t];
    *out = x;
    return LM_OK;
}

int lm_model_logprobs(const lm_model *m, const int32_t *ids, size_t n, size_t batch,
                      size_t bptt, float **lp, int32_t **targets, size_t *n_lp, lm_error *err)
{
    if (batch == 0 || bptt == 0)
        return lm_fail(err, LM_EINVAL, "batch and bptt must be positive");
    size_t V = lm_vocab_size(lm_model_vocab(m));
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V)
            return lm_fail(err, LM_EMISMATCH, "token id %d outside the model's vocabulary",
                           (int)ids[i]);
    /* A model that predicts the first token reads the text after an implied <eot>. */
    int32_t *with = NULL;
    if (lm_model_predicts_first(m) && n > 0) {
        if (!(with = malloc((n + 1) * sizeof *with)))
            return lm_fail(err, LM_ENOMEM, "out of memory for %zu tokens", n);
        with[0] = LM_TOK_EOT;
        memcpy(with + 1, ids, n * sizeof *ids);
        ids = with;
        n++;
    }
    if (n / batch < 2)
        batch = n >= 2 ? 1 : 0;
    int32_t *x = NULL;
    size_t L = 0;
    int rc = batch ? streams(ids, n, batch, &x, &L, err)
                   : lm_fail(err, LM_EINVAL, "need at least two tokens to evaluate");
    free(with);
    if (rc)
        return rc;
    float *p = malloc(L * batch * sizeof *p);
    if (!p) {
        free(x);
        return lm_fail(err, LM_ENOMEM, "out of memory for %zu tokens", n);
    }
    if ((rc = lm_kind_score(m, x, L, batch, bptt, 1, p, err))) {
        free(x);
        free(p);
        return rc;
    }
    /* The first step of every stream is context only. */
    size_t k = L * batch - batch;
    memmove(p, p + batch, k * sizeof *p);
    memmove(x, x + batch, k * sizeof *x);
    *lp = p;
    *targets = x;
    *n_lp = k;
    return LM_OK;
}

void lm_eval_sum(const float *lp, const int32_t *targets, size_t n, lm_eval_result *res)
{
    double nll = 0, known = 0;
    size_t unk = 0;
    for (size_t i = 0; i < n; i++) {
        double v = -(double)lp[i];
        nll += v;
        if (targets[i] == LM_TOK_UNK)
            unk++;
        else
            known += v;
    }
    res->tokens = n;
    res->oov = unk;
    res->nll = nll;
    res->nll_no_oov = known;
    res->ppl = n ? exp(nll / (double)n) : 0;
    res->ppl_no_oov = n > unk ? exp(known / (double)(n - unk)) : 0;
    res->bits_per_token = n ? nll / (double)n / log(2.0) : 0;
}

int lm_model_eval(const lm_model *m, const int32_t *ids, size_t n, size_t batch, size_t bptt,
                  lm_eval_result *res, lm_error *err)
{
    float *lp;
    int32_t *tg;
    size_t k;
    int rc = lm_model_logprobs(m, ids, n, batch, bptt, &lp, &tg, &k, err);
    if (rc)
        return rc;
    lm_eval_sum(lp, tg, k, res);
    free(lp);
    free(tg);
    return LM_OK;
}
