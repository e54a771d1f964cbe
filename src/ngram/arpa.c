/* arpa.c - the ARPA back-off text format: export of an n-gram model, and an independent reader
 * and back-off scorer (hash tables of whole n-grams, no trie) that re-scores text from the file.
 *
 * Interpolated Kneser-Ney fits the back-off form exactly: a listed n-gram h w carries the
 * interpolated p(w | h), and the weight gamma(h) with which h interpolates its lower order is
 * its back-off weight, so p(w | h) = bow(h) p(w | h') whenever h w is not listed.
 */
#include "ngram/ngram.h"
#include "text/text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LN10 2.30258509299404568402

static const char *tok_name(int t)
{
    return t == LM_TOKENIZE_WHITESPACE ? "whitespace" : t == LM_TOKENIZE_CHARS ? "chars" : "words";
}

/* ---- writer -------------------------------------------------------------------------------- */

int lm_ngram_write_arpa(const lm_ngram *m, const char *path, lm_error *err)
{
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    snprintf(tmp, plen + 5, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        int rc = lm_fail(err, LM_EIO, "%s: %s", tmp, strerror(errno));
        free(tmp);
        return rc;
    }
    size_t N = m->opts.order;
    fprintf(f, "# lstmlm %s ngram: order=%zu tokenize=%s lowercase=%d prune=%zu\n",
            lm_version_string(), N, tok_name(m->opts.tokenize), m->opts.lowercase ? 1 : 0,
            m->opts.prune_singletons);
    fprintf(f, "# Interpolated modified Kneser-Ney in back-off form. Token names are the "
               "toolkit's:\n# <eot> ends every line (there is no <s> or </s>); <unk> and <eoc> "
               "are words.\n");
    fprintf(f, "\n\\data\\\n");
    for (size_t k = 0; k < N; k++)
        fprintf(f, "ngram %zu=%zu\n", k + 1, m->lv[k].n);
    int32_t w[LM_NGRAM_MAX_ORDER];
    for (size_t k = 0; k < N; k++) {
        const lm_ngram_level *l = &m->lv[k];
        fprintf(f, "\n\\%zu-grams:\n", k + 1);
        for (size_t e = 0; e < l->n; e++) {
            uint32_t x = (uint32_t)e;
            for (size_t j = k + 1; j-- > 0;) {
                w[j] = j ? m->lv[j].word[x] : (int32_t)x;
                if (j)
                    x = m->lv[j].parent[x];
            }
            fprintf(f, "%.9g\t", (double)l->logprob[e]);
            for (size_t j = 0; j <= k; j++)
                fprintf(f, "%s%s", j ? " " : "", lm_vocab_token(m->vocab, w[j]));
            if (l->child && l->child[e] < l->child[e + 1])
                fprintf(f, "\t%.9g", (double)l->backoff[e]);
            fputc('\n', f);
        }
    }
    fprintf(f, "\n\\end\\\n");
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        int rc = lm_fail(err, LM_EIO, "%s: write error: %s", tmp, strerror(errno));
        remove(tmp);
        free(tmp);
        return rc;
    }
    if (rename(tmp, path) != 0) {
        int rc = lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return rc;
    }
    free(tmp);
    return LM_OK;
}

/* ---- reader -------------------------------------------------------------------------------- */

typedef struct arpa_order {
    size_t n, cap;    /* entries, announced count */
    int32_t *ids;     /* (n, order) */
    float *lp, *bow;  /* log10 */
    uint32_t *slots;  /* hash table of entry indexes, UINT32_MAX = empty */
    size_t nslots;
} arpa_order;

struct lm_arpa {
    size_t order;
    arpa_order o[LM_NGRAM_MAX_ORDER];
    lm_vocab *vocab;
    int32_t *uni;     /* id -> unigram entry, -1 when the file lists none */
    lm_text_opts text;
    int has_text;
};

static uint64_t hash_ids(const int32_t *w, size_t n)
{
    uint64_t h = 0x9E3779B97F4A7C15ull ^ n;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)w[i];
        h *= 0xFF51AFD7ED558CCDull;
        h ^= h >> 32;
    }
    return h;
}

static uint32_t lookup(const lm_arpa *a, const int32_t *w, size_t n)
{
    const arpa_order *o = &a->o[n - 1];
    if (!o->nslots)
        return UINT32_MAX;
    size_t mask = o->nslots - 1, i = (size_t)hash_ids(w, n) & mask;
    for (;;) {
        uint32_t e = o->slots[i];
        if (e == UINT32_MAX)
            return e;
        if (!memcmp(o->ids + (size_t)e * n, w, n * sizeof *w))
            return e;
        i = (i + 1) & mask;
    }
}

static void insert(arpa_order *o, size_t n, uint32_t e)
{
    size_t mask = o->nslots - 1, i = (size_t)hash_ids(o->ids + (size_t)e * n, n) & mask;
    while (o->slots[i] != UINT32_MAX)
        i = (i + 1) & mask;
    o->slots[i] = e;
}

void lm_arpa_free(lm_arpa *a)
{
    if (!a)
        return;
    for (size_t k = 0; k < LM_NGRAM_MAX_ORDER; k++) {
        free(a->o[k].ids);
        free(a->o[k].lp);
        free(a->o[k].bow);
        free(a->o[k].slots);
    }
    lm_vocab_free(a->vocab);
    free(a->uni);
    free(a);
}

size_t lm_arpa_order(const lm_arpa *a)
{
    return a->order;
}

size_t lm_arpa_count(const lm_arpa *a, size_t n)
{
    return n >= 1 && n <= a->order ? a->o[n - 1].n : 0;
}

const lm_vocab *lm_arpa_vocab(const lm_arpa *a)
{
    return a->vocab;
}

int lm_arpa_text_opts(const lm_arpa *a, lm_text_opts *t)
{
    if (a->has_text)
        *t = a->text;
    return a->has_text;
}

/* Next line of buf from *pos (without '\n' or '\r'); NULL at the end. */
static char *next_line(char *buf, size_t len, size_t *pos, size_t *lineno)
{
    if (*pos >= len)
        return NULL;
    char *s = buf + *pos;
    char *nl = memchr(s, '\n', len - *pos);
    size_t l = nl ? (size_t)(nl - s) : len - *pos;
    *pos += l + (nl ? 1 : 0);
    s[l] = '\0';
    if (l && s[l - 1] == '\r')
        s[l - 1] = '\0';
    (*lineno)++;
    return s;
}

static int blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return !*s;
}

static void parse_comment(lm_arpa *a, const char *s)
{
    if (strncmp(s, "# lstmlm ", 9))
        return;
    const char *t = strstr(s, "tokenize="), *l = strstr(s, "lowercase=");
    if (!t)
        return;
    t += 9;
    a->text.tokenize = !strncmp(t, "whitespace", 10) ? LM_TOKENIZE_WHITESPACE
                       : !strncmp(t, "chars", 5)     ? LM_TOKENIZE_CHARS
                                                     : LM_TOKENIZE_WORDS;
    a->text.lowercase = l && l[10] == '1';
    a->has_text = 1;
}

/* Parses one n-gram line of order n into entry e. */
static int parse_entry(lm_arpa *a, size_t n, char *s, const char *path, size_t lineno,
                       lm_error *err)
{
    arpa_order *o = &a->o[n - 1];
    if (o->n >= o->cap)
        return lm_fail(err, LM_EFORMAT, "%s:%zu: more %zu-grams than the header announces (%zu)",
                       path, lineno, n, o->cap);
    char *end;
    errno = 0;
    float lp = strtof(s, &end);
    if (end == s || errno || !isfinite(lp) || (*end != ' ' && *end != '\t'))
        return lm_fail(err, LM_EFORMAT, "%s:%zu: no log-probability", path, lineno);
    s = end;
    int32_t *ids = o->ids + o->n * n;
    for (size_t j = 0; j < n; j++) {
        while (*s == ' ' || *s == '\t')
            s++;
        char *w = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        size_t wl = (size_t)(s - w);
        if (!wl)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: %zu-gram with fewer than %zu words", path,
                           lineno, n, n);
        int32_t id;
        if (n == 1) {
            size_t before = lm_vocab_size(a->vocab);
            id = lm_vocab_add(a->vocab, w, wl, 0);
            if (id < 0)
                return lm_fail(err, LM_ENOMEM, "out of memory");
            if (lm_vocab_size(a->vocab) > before) {
                int32_t *u = realloc(a->uni, lm_vocab_size(a->vocab) * sizeof *u);
                if (!u)
                    return lm_fail(err, LM_ENOMEM, "out of memory");
                a->uni = u;
                a->uni[id] = -1;
            }
            if (a->uni[id] >= 0)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: unigram '%.*s' listed twice", path,
                               lineno, (int)wl, w);
            a->uni[id] = (int32_t)o->n;
        } else {
            id = lm_vocab_lookup(a->vocab, w, wl);
            if (a->uni[id] < 0 || (id == LM_TOK_UNK && (wl != 5 || memcmp(w, "<unk>", 5))))
                return lm_fail(err, LM_EFORMAT, "%s:%zu: word '%.*s' has no unigram", path,
                               lineno, (int)wl, w);
        }
        ids[j] = id;
    }
    float bow = 0;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s) {
        errno = 0;
        bow = strtof(s, &end);
        if (end == s || errno || !isfinite(bow) || !blank(end))
            return lm_fail(err, LM_EFORMAT, "%s:%zu: bad back-off weight or extra words", path,
                           lineno);
    }
    if (n > 1 && lookup(a, ids, n) != UINT32_MAX)
        return lm_fail(err, LM_EFORMAT, "%s:%zu: %zu-gram listed twice", path, lineno, n);
    o->lp[o->n] = lp;
    o->bow[o->n] = bow;
    if (n > 1)
        insert(o, n, (uint32_t)o->n);
    o->n++;
    return LM_OK;
}

static int alloc_order(arpa_order *o, size_t n, size_t count)
{
    o->cap = count;
    size_t c = count ? count : 1;
    o->ids = malloc(c * n * sizeof *o->ids);
    o->lp = malloc(c * sizeof *o->lp);
    o->bow = malloc(c * sizeof *o->bow);
    o->nslots = 16;
    while (o->nslots < 2 * count)
        o->nslots *= 2;
    o->slots = malloc(o->nslots * sizeof *o->slots);
    if (!o->ids || !o->lp || !o->bow || !o->slots)
        return LM_ENOMEM;
    memset(o->slots, 0xFF, o->nslots * sizeof *o->slots);
    return LM_OK;
}

static int parse(lm_arpa *a, char *buf, size_t len, const char *path, lm_error *err)
{
    size_t pos = 0, lineno = 0, counts[LM_NGRAM_MAX_ORDER] = {0};
    char *s;
    /* Text before \data\ is ignored, except our own comment with the tokenizer settings. */
    while ((s = next_line(buf, len, &pos, &lineno)) && strcmp(s, "\\data\\"))
        parse_comment(a, s);
    if (!s)
        return lm_fail(err, LM_EFORMAT, "%s: no \\data\\ header (not an ARPA file)", path);
    char *pending = NULL; /* a section line that ended the header without a blank line */
    while ((s = next_line(buf, len, &pos, &lineno))) {
        if (blank(s)) {
            if (a->order)
                break;
            continue;
        }
        if (s[0] == '\\') {
            pending = s;
            break;
        }
        unsigned long n, c;
        int used = 0;
        if (sscanf(s, "ngram %lu=%lu%n", &n, &c, &used) != 2 || !blank(s + used))
            return lm_fail(err, LM_EFORMAT, "%s:%zu: expected 'ngram N=COUNT'", path, lineno);
        if (n != a->order + 1 || n > LM_NGRAM_MAX_ORDER || c >= UINT32_MAX)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: unexpected 'ngram %lu=%lu' (orders 1..%d "
                           "in sequence)", path, lineno, n, c, LM_NGRAM_MAX_ORDER);
        counts[a->order++] = c;
    }
    if (!a->order)
        return lm_fail(err, LM_EFORMAT, "%s: the \\data\\ header lists no n-gram counts", path);
    for (size_t k = 0; k < a->order; k++)
        if (alloc_order(&a->o[k], k + 1, counts[k]))
            return lm_fail(err, LM_ENOMEM, "out of memory");
    a->uni = malloc(LM_N_SPECIAL * sizeof *a->uni);
    if (!a->uni)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    for (int i = 0; i < LM_N_SPECIAL; i++)
        a->uni[i] = -1;
    size_t cur = 0; /* order of the section being read, 0 = none yet */
    int ended = 0;
    while ((s = pending ? pending : next_line(buf, len, &pos, &lineno))) {
        pending = NULL;
        if (blank(s))
            continue;
        if (s[0] == '\\') {
            if (cur && a->o[cur - 1].n != a->o[cur - 1].cap)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: the header announces %zu %zu-grams but "
                               "the section holds %zu", path, lineno, a->o[cur - 1].cap, cur,
                               a->o[cur - 1].n);
            if (!strcmp(s, "\\end\\")) {
                ended = 1;
                break;
            }
            unsigned long n;
            int used = 0;
            if (sscanf(s, "\\%lu-grams:%n", &n, &used) != 1 || !blank(s + used) || n != cur + 1 ||
                n > a->order)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: unexpected section '%s'", path, lineno,
                               s);
            cur = n;
            continue;
        }
        if (!cur)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: n-gram outside a section", path, lineno);
        int rc = parse_entry(a, cur, s, path, lineno, err);
        if (rc)
            return rc;
    }
    if (!ended || cur != a->order)
        return lm_fail(err, LM_EFORMAT, "%s: truncated (no \\end\\ after the %zu-grams)", path,
                       a->order);
    /* Every n-gram's prefix and suffix must be listed (the back-off rule relies on it). */
    for (size_t n = 2; n <= a->order; n++) {
        const arpa_order *o = &a->o[n - 1];
        for (size_t e = 0; e < o->n; e++) {
            const int32_t *w = o->ids + e * n;
            int pre = n == 2 ? a->uni[w[0]] >= 0 : lookup(a, w, n - 1) != UINT32_MAX;
            int suf = n == 2 ? a->uni[w[1]] >= 0 : lookup(a, w + 1, n - 1) != UINT32_MAX;
            if (!pre || !suf)
                return lm_fail(err, LM_EFORMAT, "%s: the %zu-gram '%s ... %s' has no %s listed",
                               path, n, lm_vocab_token(a->vocab, w[0]),
                               lm_vocab_token(a->vocab, w[n - 1]), pre ? "suffix" : "prefix");
        }
    }
    return LM_OK;
}

int lm_arpa_load(const char *path, lm_arpa **out, lm_error *err)
{
    lm_arpa *a = calloc(1, sizeof *a);
    if (!a)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    lm_text_opts_init(&a->text);
    char *buf = NULL;
    size_t len = 0;
    int rc = lm_vocab_create(&a->vocab, err);
    if (!rc)
        rc = lm_read_file(path, &buf, &len, err);
    if (!rc && lm_find_nul(buf, len) < len)
        rc = lm_fail(err, LM_EFORMAT, "%s: binary data (not an ARPA file)", path);
    if (!rc)
        rc = parse(a, buf, len, path, err);
    free(buf);
    if (rc) {
        lm_arpa_free(a);
        return rc;
    }
    *out = a;
    return LM_OK;
}

/* log10 p(w | hist) by back-off: the longest listed n-gram ending in w, plus the back-off
 * weights of the longer contexts. */
static double arpa_lp10(const lm_arpa *a, const int32_t *hist, size_t nh, int32_t w)
{
    if (w < 0 || (size_t)w >= lm_vocab_size(a->vocab) || a->uni[w] < 0)
        return -INFINITY;
    size_t L = a->order - 1;
    if (nh < L)
        L = nh;
    int32_t buf[LM_NGRAM_MAX_ORDER];
    double lp = 0;
    size_t k = L + 1;
    while (k-- > 0) {
        if (k == 0) {
            lp = a->o[0].lp[a->uni[w]];
            break;
        }
        memcpy(buf, hist + nh - k, k * sizeof *buf);
        buf[k] = w;
        uint32_t e = lookup(a, buf, k + 1);
        if (e != UINT32_MAX) {
            lp = a->o[k].lp[e];
            break;
        }
    }
    for (size_t j = k + 1; j <= L; j++) {
        const int32_t *h = hist + nh - j;
        if (j == 1) {
            if (a->uni[h[0]] >= 0)
                lp += a->o[0].bow[a->uni[h[0]]];
        } else {
            uint32_t e = lookup(a, h, j);
            if (e != UINT32_MAX)
                lp += a->o[j - 1].bow[e];
        }
    }
    return lp;
}

double lm_arpa_logprob(const lm_arpa *a, const int32_t *hist, size_t n_hist, int32_t w)
{
    return arpa_lp10(a, hist, n_hist, w) * LN10;
}

int lm_arpa_eval(const lm_arpa *a, const int32_t *ids, size_t n, lm_eval_result *res,
                 lm_error *err)
{
    size_t V = lm_vocab_size(a->vocab);
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= V)
            return lm_fail(err, LM_EMISMATCH, "token id %d outside the ARPA vocabulary",
                           (int)ids[i]);
    if (n < 2)
        return lm_fail(err, LM_EINVAL, "need at least two tokens to evaluate");
    size_t ctx = a->order - 1, oov = 0;
    double nll = 0, known = 0;
    for (size_t i = 1; i < n; i++) {
        size_t h = i < ctx ? i : ctx;
        double lp = arpa_lp10(a, ids + i - h, h, ids[i]);
        if (!isfinite(lp))
            return lm_fail(err, LM_EFORMAT, "the ARPA model has no unigram for '%s'",
                           lm_vocab_token(a->vocab, ids[i]));
        double l = -lp * LN10;
        nll += l;
        if (ids[i] == LM_TOK_UNK)
            oov++;
        else
            known += l;
    }
    size_t tok = n - 1;
    memset(res, 0, sizeof *res);
    res->tokens = tok;
    res->oov = oov;
    res->nll = nll;
    res->nll_no_oov = known;
    res->ppl = exp(nll / (double)tok);
    res->ppl_no_oov = tok > oov ? exp(known / (double)(tok - oov)) : 0;
    res->bits_per_token = nll / (double)tok / log(2.0);
    return LM_OK;
}
