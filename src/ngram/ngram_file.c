/* ngram_file.c - n-gram models in the toolkit's HDF5 model file (format version 2; version 1
 * files, whose vocabulary is variable-length strings, still load).
 *
 *   /                 attrs format="lstmlm", format_version=2, arch="ngram", created_by
 *   /config           attrs order, vocab_size, tokenize ("words"|"whitespace"|"chars"),
 *                     lowercase, chars, prune (0 = none), tokens (training tokens counted),
 *                     sentences (1 = the history restarts after each <eot>; absent = 0),
 *                     imported (1 = read from an ARPA file: tokens, counts of counts and
 *                     discounts are 0, back-off weights may be positive, the unigrams need not
 *                     sum to 1; absent = 0)
 *   /vocab/bytes, /vocab/offsets, /vocab/counts   as in neural model files
 *   /ngram/<n>        one group per order n = 1..order, attrs count, D1, D2, D3, n1..n4,
 *                     fallback
 *   /ngram/<n>/word   int32 (count): last word of each n-gram (n >= 2)
 *   /ngram/<n>/parent int32 (count): index of its first n-1 words in /ngram/<n-1> (n >= 2);
 *                     the entries are sorted by (parent, word)
 *   /ngram/<n>/logprob  float32 (count): log10 p(word | first n-1 words), interpolated
 *   /ngram/<n>/backoff  float32 (count): log10 interpolation weight as a context (n < order)
 * Unigrams are the whole vocabulary in id order, so /ngram/1 has no word or parent.
 */
#include "ngram/ngram.h"
#include "model/h5.h"
#include "text/text.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FORMAT_VERSION 2

static int write_model(const lm_ngram *m, lm_h5 *h, lm_error *err)
{
    char created[64];
    snprintf(created, sizeof created, "lstmlm %s", lm_version_string());
    int rc;
    const lm_ngram_opts *o = &m->opts;
    if ((rc = lm_h5_attr_set_str(h, "/", "format", "lstmlm", err)) ||
        (rc = lm_h5_attr_set_u64(h, "/", "format_version", FORMAT_VERSION, err)) ||
        (rc = lm_h5_attr_set_str(h, "/", "arch", "ngram", err)) ||
        (rc = lm_h5_attr_set_str(h, "/", "created_by", created, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "order", o->order, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "vocab_size", m->V, err)) ||
        (rc = lm_h5_attr_set_str(h, "/config", "tokenize", lm_tokenize_name(o->tokenize), err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "lowercase", o->lowercase ? 1 : 0, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "chars", o->tokenize == LM_TOKENIZE_CHARS, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "prune", o->prune_singletons, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "tokens", m->tokens, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "sentences", o->sentences ? 1 : 0, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/config", "imported", m->imported ? 1 : 0, err)))
        return rc;
    if ((rc = lm_vocab_write(h, m->vocab, err)))
        return rc;
    static const float dummy[1];
    for (size_t k = 0; k < o->order; k++) {
        const lm_ngram_level *l = &m->lv[k];
        char g[32], p[64];
        snprintf(g, sizeof g, "/ngram/%zu", k + 1);
        size_t d[1] = {l->n};
        /* HDF5 wants a buffer even for an empty dataset. */
        const void *wd = l->n ? (const void *)l->word : dummy;
        const void *pd = l->n ? (const void *)l->parent : dummy;
        const void *ld = l->n ? (const void *)l->logprob : dummy;
        const void *bd = l->n ? (const void *)l->backoff : dummy;
        if (k > 0) {
            snprintf(p, sizeof p, "%s/word", g);
            if ((rc = lm_h5_write(h, p, LM_H5_I32, wd, 1, d, err)))
                return rc;
            snprintf(p, sizeof p, "%s/parent", g);
            if ((rc = lm_h5_write(h, p, LM_H5_I32, pd, 1, d, err)))
                return rc;
        }
        snprintf(p, sizeof p, "%s/logprob", g);
        if ((rc = lm_h5_write(h, p, LM_H5_F32, ld, 1, d, err)))
            return rc;
        if (l->backoff) {
            snprintf(p, sizeof p, "%s/backoff", g);
            if ((rc = lm_h5_write(h, p, LM_H5_F32, bd, 1, d, err)))
                return rc;
        }
        static const char *const dn[3] = {"D1", "D2", "D3"};
        static const char *const nn[4] = {"n1", "n2", "n3", "n4"};
        if ((rc = lm_h5_attr_set_u64(h, g, "count", l->n, err)) ||
            (rc = lm_h5_attr_set_u64(h, g, "fallback", (uint64_t)m->fallback[k], err)))
            return rc;
        for (int i = 0; i < 3; i++)
            if ((rc = lm_h5_attr_set_f64(h, g, dn[i], m->D[k][i], err)))
                return rc;
        for (int i = 0; i < 4; i++)
            if ((rc = lm_h5_attr_set_u64(h, g, nn[i], m->nk[k][i], err)))
                return rc;
    }
    return LM_OK;
}

int lm_ngram_save(const lm_ngram *m, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_create(path, &h, err);
    if (rc)
        return rc;
    if ((rc = write_model(m, h, err))) {
        lm_h5_close(h);
        return rc;
    }
    return lm_h5_commit(h, err);
}

static int cfg_u64(lm_h5 *h, const char *name, uint64_t lo, uint64_t hi, uint64_t *v,
                   lm_error *err)
{
    int rc = lm_h5_attr_u64(h, "/config", name, v, err);
    if (rc)
        return rc;
    if (*v < lo || *v > hi)
        return lm_fail(err, LM_EFORMAT, "%s: /config/%s = %llu is out of range", lm_h5_path(h),
                       name, (unsigned long long)*v);
    return LM_OK;
}

static int read_level(lm_ngram *m, lm_h5 *h, size_t k, lm_error *err)
{
    const char *path = lm_h5_path(h);
    char g[32], p[64];
    snprintf(g, sizeof g, "/ngram/%zu", k + 1);
    uint64_t count, fb, nk[4];
    double D[3];
    int rc;
    static const char *const dn[3] = {"D1", "D2", "D3"};
    static const char *const nn[4] = {"n1", "n2", "n3", "n4"};
    if ((rc = lm_h5_attr_u64(h, g, "count", &count, err)) ||
        (rc = lm_h5_attr_u64(h, g, "fallback", &fb, err)))
        return rc;
    for (int i = 0; i < 3; i++)
        if ((rc = lm_h5_attr_f64(h, g, dn[i], &D[i], err)))
            return rc;
    for (int i = 0; i < 4; i++)
        if ((rc = lm_h5_attr_u64(h, g, nn[i], &nk[i], err)))
            return rc;
    if (count >= (uint64_t)INT32_MAX || (k == 0 && count != m->V))
        return lm_fail(err, LM_EFORMAT, "%s: %s holds an impossible count %llu", path, g,
                       (unsigned long long)count);
    for (int i = 0; i < 3; i++)
        if (!(D[i] >= 0 && D[i] <= i + 1))
            return lm_fail(err, LM_EFORMAT, "%s: %s/%s = %g is not a valid discount", path, g,
                           dn[i], D[i]);
    memcpy(m->D[k], D, sizeof D);
    memcpy(m->nk[k], nk, sizeof nk);
    m->fallback[k] = fb != 0;
    if (lm_ngram_level_alloc(m, k, (size_t)count))
        return lm_fail(err, LM_ENOMEM, "out of memory");
    lm_ngram_level *l = &m->lv[k];
    size_t d[1] = {l->n};
    if (k > 0) {
        snprintf(p, sizeof p, "%s/word", g);
        if ((rc = lm_h5_read(h, p, LM_H5_I32, l->word, 1, d, err)))
            return rc;
        snprintf(p, sizeof p, "%s/parent", g);
        if ((rc = lm_h5_read(h, p, LM_H5_I32, l->parent, 1, d, err)))
            return rc;
    }
    snprintf(p, sizeof p, "%s/logprob", g);
    if ((rc = lm_h5_read(h, p, LM_H5_F32, l->logprob, 1, d, err)))
        return rc;
    for (size_t i = 0; i < l->n; i++)
        if (!isfinite(l->logprob[i]) || l->logprob[i] > 1e-6f)
            return lm_fail(err, LM_EFORMAT, "%s: %s[%zu] = %g is not a log-probability", path, p,
                           i, (double)l->logprob[i]);
    if (l->backoff) {
        snprintf(p, sizeof p, "%s/backoff", g);
        if ((rc = lm_h5_read(h, p, LM_H5_F32, l->backoff, 1, d, err)))
            return rc;
        /* Interpolation weights are at most 1; an imported back-off weight may be above. */
        for (size_t i = 0; i < l->n; i++)
            if (!isfinite(l->backoff[i]) || (!m->imported && l->backoff[i] > 1e-6f))
                return lm_fail(err, LM_EFORMAT, "%s: %s[%zu] = %g is not a log-weight", path, p,
                               i, (double)l->backoff[i]);
    }
    return LM_OK;
}

int lm_ngram_load(const char *path, lm_ngram **out, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    lm_ngram *m = NULL;
    lm_vocab *v = NULL;
    char buf[64];
    uint64_t ver, order, V, lower, prune, tokens, sent = 0, imported = 0;
    if (lm_h5_attr_str(h, "/", "format", buf, sizeof buf, err) || strcmp(buf, "lstmlm")) {
        rc = lm_fail(err, LM_EFORMAT, "%s: not an lstmlm model file", path);
        goto out;
    }
    if ((rc = lm_h5_attr_u64(h, "/", "format_version", &ver, err)))
        goto out;
    if (ver < 1 || ver > FORMAT_VERSION) {
        rc = lm_fail(err, LM_EFORMAT, "%s: format version %llu is not supported (this is %d)",
                     path, (unsigned long long)ver, FORMAT_VERSION);
        goto out;
    }
    if ((rc = lm_h5_attr_str(h, "/", "arch", buf, sizeof buf, err)))
        goto out;
    if (strcmp(buf, "ngram")) {
        rc = lm_fail(err, LM_EFORMAT, "%s: holds a '%s' model, not an n-gram model", path, buf);
        goto out;
    }
    if ((rc = cfg_u64(h, "order", 1, LM_NGRAM_MAX_ORDER, &order, err)) ||
        (rc = cfg_u64(h, "vocab_size", LM_N_SPECIAL, (uint64_t)1 << 24, &V, err)) ||
        (rc = cfg_u64(h, "lowercase", 0, 1, &lower, err)) ||
        (rc = cfg_u64(h, "prune", 0, UINT32_MAX, &prune, err)))
        goto out;
    /* Files written before these attributes existed hold trained stream models. */
    if ((lm_h5_has_attr(h, "/config", "sentences") &&
         (rc = cfg_u64(h, "sentences", 0, 1, &sent, err))) ||
        (lm_h5_has_attr(h, "/config", "imported") &&
         (rc = cfg_u64(h, "imported", 0, 1, &imported, err))) ||
        (rc = cfg_u64(h, "tokens", imported ? 0 : 1, UINT64_MAX, &tokens, err)) ||
        (rc = lm_h5_attr_str(h, "/config", "tokenize", buf, sizeof buf, err)))
        goto out;
    lm_ngram_opts o;
    lm_ngram_opts_init(&o);
    o.order = (size_t)order;
    o.lowercase = (int)lower;
    o.prune_singletons = (size_t)prune;
    o.sentences = (int)sent;
    if ((o.tokenize = lm_tokenize_parse(buf)) < 0) {
        rc = lm_fail(err, LM_EFORMAT, "%s: unknown /config/tokenize '%s'", path, buf);
        goto out;
    }
    if (prune == 1) {
        rc = lm_fail(err, LM_EFORMAT, "%s: /config/prune = 1 is out of range", path);
        goto out;
    }
    if ((rc = lm_vocab_read(h, (size_t)V, &v, err)))
        goto out;
    rc = lm_ngram_alloc(&o, v, &m, err);
    v = NULL;
    if (rc)
        goto out;
    m->tokens = tokens;
    m->imported = (int)imported;
    for (size_t k = 0; k < o.order; k++)
        if ((rc = read_level(m, h, k, err)))
            goto out;
    if ((rc = lm_ngram_link(m))) {
        rc = rc == LM_ENOMEM ? lm_fail(err, rc, "out of memory")
                             : lm_fail(err, LM_EFORMAT, "%s: an n-gram table is not sorted or "
                                       "refers outside its prefix table or the vocabulary", path);
        goto out;
    }
    /* A trained unigram distribution sums to 1 (float32 log values: a loose bound); an
     * imported one is what its ARPA file gave. */
    double sum = 0;
    for (size_t w = 0; w < m->V; w++)
        sum += pow(10.0, m->lv[0].logprob[w]);
    if (!m->imported && fabs(sum - 1.0) > 1e-3) {
        rc = lm_fail(err, LM_EFORMAT, "%s: the unigram probabilities sum to %g, not 1", path, sum);
        goto out;
    }
    *out = m;
    m = NULL;
out:
    lm_ngram_free(m);
    lm_vocab_free(v);
    lm_h5_close(h);
    return rc;
}
