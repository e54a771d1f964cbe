/* corpus_tools.c - whole-corpus tools: the conversation-level split and the description. */
#include "text/import.h"
#include "text/text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- split ---------------------------------------------------------------------------------- */

typedef struct conv_span {
    size_t start, end; /* byte range from the first turn to the end of the last one's line */
    size_t turns;
} conv_span;

/* How many of n conversations a fraction asks for: rounded, at least one when positive. */
static size_t share(double frac, size_t n)
{
    if (frac <= 0)
        return 0;
    size_t k = (size_t)llround(frac * (double)n);
    return k ? k : 1;
}

int lm_corpus_split(const char *path, double valid, double test, lm_rng *rng, FILE *const out[3],
                    lm_split_stats *stats, lm_error *err)
{
    LM_ASSERT(path && rng && out);
    if (!(valid >= 0 && valid < 1 && test >= 0 && test < 1 && valid + test < 1))
        return lm_fail(err, LM_EINVAL,
                       "split fractions must be in [0, 1) and sum below 1 (valid %g, test %g)",
                       valid, test);
    char *buf;
    size_t len;
    int rc = lm_import_read(path, &buf, &len, err);
    if (rc)
        return rc;
    conv_span *cv = NULL;
    size_t *perm = NULL;
    unsigned char *part = NULL;
    size_t n = 0, cap = 0;
    cursor c = {buf, buf + len, 0};
    const char *line;
    size_t ln;
    int open = 0;
    while (lm_imp_next_line(&c, &line, &ln)) {
        if (lm_imp_is_blank(line, ln)) {
            open = 0;
            continue;
        }
        if (!open) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                conv_span *p = realloc(cv, cap * sizeof *p);
                if (!p) {
                    rc = lm_fail(err, LM_ENOMEM, "out of memory");
                    goto out;
                }
                cv = p;
            }
            cv[n++] = (conv_span){(size_t)(line - buf), 0, 0};
            open = 1;
        }
        cv[n - 1].end = (size_t)(c.p - buf);
        cv[n - 1].turns++;
    }
    size_t nv = share(valid, n), nt = share(test, n);
    if (n == 0) {
        rc = lm_fail(err, LM_EFORMAT, "%s: no turns found", path);
        goto out;
    }
    if (nv + nt >= n) {
        rc = lm_fail(err, LM_EINVAL,
                     "%s: %zu conversation%s cannot be split into train, valid (%g) and test (%g) "
                     "(conversations are separated by blank lines)",
                     path, n, n == 1 ? "" : "s", valid, test);
        goto out;
    }
    perm = malloc(n * sizeof *perm);
    part = malloc(n);
    if (!perm || !part) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(lm_rng_next(rng) % (i + 1));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        part[perm[i]] = i < nv ? LM_SPLIT_VALID : i < nv + nt ? LM_SPLIT_TEST : LM_SPLIT_TRAIN;
    lm_split_stats st = {{0}, {0}};
    for (size_t i = 0; i < n; i++) {
        int p = part[i];
        st.conversations[p]++;
        st.turns[p] += cv[i].turns;
        FILE *f = out[p];
        if (!f)
            continue;
        cursor cc = {buf + cv[i].start, buf + cv[i].end, 0};
        int ok = 1;
        while (lm_imp_next_line(&cc, &line, &ln))
            ok &= fwrite(line, 1, ln, f) == ln && putc('\n', f) != EOF;
        if (!ok || putc('\n', f) == EOF) {
            rc = lm_fail(err, LM_EIO, "cannot write the split of %s: %s", path, strerror(errno));
            goto out;
        }
    }
    for (int p = 0; p < 3; p++)
        if (out[p] && (fflush(out[p]) != 0 || ferror(out[p]))) {
            rc = lm_fail(err, LM_EIO, "cannot write the split of %s: %s", path, strerror(errno));
            goto out;
        }
    if (stats)
        *stats = st;
out:
    free(part);
    free(perm);
    free(cv);
    free(buf);
    return rc;
}

/* ---- describe ------------------------------------------------------------------------------- */

int lm_corpus_describe(const char *path, const lm_text_opts *t, size_t max_vocab,
                       lm_corpus_desc *d, lm_error *err)
{
    LM_ASSERT(path && d);
    if (max_vocab && max_vocab <= LM_N_SPECIAL)
        return lm_fail(err, LM_EINVAL, "the vocabulary size must exceed %d (the special tokens)",
                       LM_N_SPECIAL);
    lm_text_opts def;
    if (!t) {
        lm_text_opts_init(&def);
        t = &def;
    }
    /* The full vocabulary is ordered as lm_vocab_build orders any vocabulary (count, then
     * bytes), so the vocabulary at max_vocab is its first max_vocab ids. */
    lm_vocab *v = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    lm_corpus_stats cs;
    int rc = lm_vocab_build(&path, 1, t, NULL, &v, err);
    if (!rc)
        rc = lm_corpus_read(path, t, v, &ids, &n, &cs, err);
    if (rc)
        goto out;
    memset(d, 0, sizeof *d);
    size_t V = lm_vocab_size(v);
    d->conversations = cs.conversations;
    d->turns = cs.lines;
    d->tokens = cs.tokens;
    d->types = V - LM_N_SPECIAL;
    d->vocab = max_vocab && max_vocab < V ? max_vocab : V;
    d->oov = cs.oov;
    for (size_t id = d->vocab; id < V; id++)
        d->oov += lm_vocab_count(v, (int32_t)id);
    size_t run = 0, conv = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == LM_TOK_EOT) {
            size_t bin = run ? (run - 1) / LM_DESC_BIN_WIDTH : 0;
            d->hist[bin < LM_DESC_BINS ? bin : LM_DESC_BINS - 1]++;
            if (run > d->longest_turn)
                d->longest_turn = run;
            run = 0;
            conv++;
        } else if (ids[i] == LM_TOK_EOC) {
            if (conv > d->longest_conversation)
                d->longest_conversation = conv;
            conv = 0;
        } else {
            run++;
            d->words++;
        }
    }
    if (conv > d->longest_conversation)
        d->longest_conversation = conv;
out:
    free(ids);
    lm_vocab_free(v);
    return rc;
}
