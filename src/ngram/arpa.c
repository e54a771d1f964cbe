/* arpa.c - the ARPA back-off text format: writing an n-gram model, and reading any writer's
 * file into one (lm_ngram, the same trie and the same scorer as a trained model).
 *
 * Interpolated Kneser-Ney fits the back-off form exactly: a listed n-gram h w carries the
 * interpolated p(w | h), and the weight gamma(h) with which h interpolates its lower order is
 * its back-off weight, so p(w | h) = bow(h) p(w | h') whenever h w is not listed. The trie
 * scorer (logprob10 in ngram.c) computes exactly that for any back-off model whose n-grams are
 * closed under prefixes and suffixes, which the reader checks.
 *
 * Sentence markers. The toolkit has one end-of-line token, <eot>, which ARPA files spell "</s>"
 * where it is predicted and "<s>" where it starts the next line's context. The writer spells an
 * <eot> that begins an n-gram of order >= 2 "<s>" and every other <eot> "</s>", and adds a
 * unigram "<s>" at -99 (never predicted) holding <eot>'s back-off weight. The reader maps both
 * back to <eot>: "</s>" gives <eot> its probability, "<s>" its back-off weight. N-grams that no
 * query of the toolkit reaches are dropped: "<s>" after the first word (IRSTLM writes "<s> <s>"
 * n-grams), "</s>" as the first of several words, and in a sentence model <eot> inside.
 */
#include "ngram/ngram.h"
#include "text/text.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer -------------------------------------------------------------------------------- */

/* The ARPA spelling of word w at position j of an n-gram of order n. */
static const char *arpa_word(const lm_ngram *m, int32_t w, size_t j, size_t n)
{
    if (w != LM_TOK_EOT)
        return lm_vocab_token(m->vocab, w);
    return j == 0 && n > 1 ? "<s>" : "</s>";
}

/* A word the format cannot hold: blanks inside, or the name of a sentence marker. */
static int unwritable(const char *s)
{
    return !*s || strpbrk(s, " \t\r\n") || !strcmp(s, "<s>") || !strcmp(s, "</s>");
}

static void write_body(const lm_ngram *m, FILE *f)
{
    size_t N = m->opts.order;
    fprintf(f, "# lstmlm %s ngram: order=%zu tokenize=%s lowercase=%d prune=%zu history=%s\n",
            lm_version_string(), N, lm_tokenize_name(m->opts.tokenize), m->opts.lowercase ? 1 : 0,
            m->opts.prune_singletons, m->opts.sentences ? "sentences" : "stream");
    fprintf(f, "# %s in back-off form. </s> is the toolkit's <eot> (end of a line),\n"
               "# <s> the <eot> before a line (at -99: never predicted); <unk> and <eoc> are "
               "words.\n",
            m->imported ? "An imported back-off model" : "Interpolated modified Kneser-Ney");
    if (!m->opts.sentences && N > 1)
        fprintf(f, "# A stream model: its history crosses line ends, so n-grams with </s> inside "
                   "are listed;\n# toolkits that restart at each <s> never use them.\n");
    fprintf(f, "\n\\data\\\n");
    for (size_t k = 0; k < N; k++)
        fprintf(f, "ngram %zu=%zu\n", k + 1, m->lv[k].n + (k == 0));
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
            int ctx = l->child && l->child[e] < l->child[e + 1];
            fprintf(f, "%.9g\t", (double)l->logprob[e]);
            for (size_t j = 0; j <= k; j++)
                fprintf(f, "%s%s", j ? " " : "", arpa_word(m, w[j], j, k + 1));
            /* The unigram </s> is only predicted; its context role is <s>'s. */
            if (ctx && !(k == 0 && e == LM_TOK_EOT))
                fprintf(f, "\t%.9g", (double)l->backoff[e]);
            fputc('\n', f);
            if (k == 0 && e == LM_TOK_EOT) {
                fprintf(f, "-99\t<s>");
                if (ctx)
                    fprintf(f, "\t%.9g", (double)l->backoff[e]);
                fputc('\n', f);
            }
        }
    }
    fprintf(f, "\n\\end\\\n");
}

int lm_ngram_write_arpa(const lm_ngram *m, const char *path, lm_error *err)
{
    for (int32_t w = LM_N_SPECIAL; (size_t)w < m->V; w++)
        if (unwritable(lm_vocab_token(m->vocab, w)))
            return lm_fail(err, LM_EINVAL, "%s: the word '%s' cannot be written in ARPA format "
                           "(blank inside or a sentence marker's name)", path,
                           lm_vocab_token(m->vocab, w));
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 5);
    if (!tmp)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    snprintf(tmp, plen + 5, "%s.tmp", path);
    int rc = LM_OK;
    FILE *f = fopen(tmp, "w");
    if (!f) {
        rc = lm_fail(err, LM_EIO, "%s: %s", tmp, strerror(errno));
        goto out;
    }
    write_body(m, f);
    int bad = ferror(f);
    if (fclose(f) != 0 || bad) {
        rc = lm_fail(err, LM_EIO, "%s: write error: %s", tmp, strerror(errno));
        remove(tmp);
        goto out;
    }
    if (rename(tmp, path) != 0) {
        rc = lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
        remove(tmp);
    }
out:
    free(tmp);
    return rc;
}

/* ---- reader -------------------------------------------------------------------------------- */

/* Word codes while reading, besides vocabulary ids. */
#define W_BOS (-2) /* "<s>" */
#define W_EOS (-3) /* "</s>" */

/* The n-grams of one order as read (then mapped to toolkit ids in place). */
typedef struct arpa_order {
    size_t n, cap;   /* records, announced count */
    int32_t *ids;    /* (cap, order) */
    float *lp, *bow; /* log10 */
    size_t *line;    /* where each record was read */
    uint8_t *keep;   /* 0: dropped (a query of the toolkit never reaches it) */
    uint32_t *slots; /* hash table of kept records, UINT32_MAX = empty */
    size_t nslots;
    uint32_t *pos;   /* index in the model's level, after sorting */
} arpa_order;

typedef struct arpa_reader {
    const char *path;
    size_t order;
    arpa_order o[LM_NGRAM_MAX_ORDER];
    lm_vocab *vocab;
    size_t *uni_line;          /* (vocabulary) line of each id's unigram, 0 = none */
    size_t bos_line, eos_line; /* lines of the unigrams <s> and </s>, 0 = none */
    lm_ngram_opts opts;
    int has_comment, has_history;
} arpa_reader;

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

/* The kept record of order n holding w[0..n), or UINT32_MAX. */
static uint32_t lookup(const arpa_reader *r, const int32_t *w, size_t n)
{
    const arpa_order *o = &r->o[n - 1];
    size_t mask = o->nslots - 1, i = (size_t)hash_ids(w, n) & mask;
    for (;;) {
        uint32_t e = o->slots[i];
        if (e == UINT32_MAX || !memcmp(o->ids + (size_t)e * n, w, n * sizeof *w))
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

static void reader_free(arpa_reader *r)
{
    for (size_t k = 0; k < LM_NGRAM_MAX_ORDER; k++) {
        arpa_order *o = &r->o[k];
        free(o->ids);
        free(o->lp);
        free(o->bow);
        free(o->line);
        free(o->keep);
        free(o->slots);
        free(o->pos);
    }
    free(r->uni_line);
    lm_vocab_free(r->vocab);
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

static const char *skip_blank(const char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    return s;
}

static int blank(const char *s)
{
    return !*skip_blank(s);
}

/* "# lstmlm VERSION ngram: order=3 tokenize=words lowercase=0 prune=0 history=sentences".
 * Returns 0, or -1 when the comment names a tokenizer this program does not know. */
static int parse_comment(arpa_reader *r, const char *s)
{
    if (strncmp(s, "# lstmlm ", 9))
        return 0;
    const char *t = strstr(s, "tokenize="), *l = strstr(s, "lowercase="),
               *p = strstr(s, "prune="), *h = strstr(s, "history=");
    if (!t)
        return 0;
    t += 9;
    char name[16];
    size_t tl = strcspn(t, " \t\r\n");
    snprintf(name, sizeof name, "%.*s", (int)(tl < 15 ? tl : 15), t);
    int k = lm_tokenize_parse(name);
    if (k < 0)
        return -1;
    r->opts.tokenize = k;
    r->opts.lowercase = l && l[10] == '1';
    if (p) {
        unsigned long v = strtoul(p + 6, NULL, 10);
        r->opts.prune_singletons = v >= 2 && v <= LM_NGRAM_MAX_ORDER ? (size_t)v : 0;
    }
    /* Exports written before history= existed are stream models. */
    r->opts.sentences = h && !strncmp(h + 8, "sentences", 9);
    r->has_comment = 1;
    r->has_history = h != NULL;
    return 0;
}

/* A number field: finite float, followed by a blank or the end. */
static int parse_float(const char *s, float *v, const char **end)
{
    char *e;
    errno = 0;
    *v = strtof(s, &e);
    if (e == s || errno || !isfinite(*v) || (*e && *e != ' ' && *e != '\t'))
        return 0;
    *end = e;
    return 1;
}

/* One n-gram line of order n: "logprob w1 .. wn [backoff]". */
static int parse_entry(arpa_reader *r, size_t n, const char *s, size_t lineno, lm_error *err)
{
    const char *path = r->path;
    arpa_order *o = &r->o[n - 1];
    if (o->n >= o->cap)
        return lm_fail(err, LM_EFORMAT, "%s:%zu: more %zu-grams than the header announces (%zu)",
                       path, lineno, n, o->cap);
    float lp, bow = 0;
    const char *end;
    if (!parse_float(s, &lp, &end))
        return lm_fail(err, LM_EFORMAT, "%s:%zu: no log-probability (a finite number) at the "
                       "start", path, lineno);
    if (lp > 1e-6f)
        return lm_fail(err, LM_EFORMAT, "%s:%zu: log-probability %g is above 0", path, lineno,
                       (double)lp);
    s = end;
    int32_t *ids = o->ids + o->n * n;
    for (size_t j = 0; j < n; j++) {
        s = skip_blank(s);
        const char *w = s;
        while (*s && *s != ' ' && *s != '\t')
            s++;
        size_t wl = (size_t)(s - w);
        if (!wl)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: a %zu-gram needs %zu words", path, lineno,
                           n, n);
        int32_t id;
        if (wl == 3 && !memcmp(w, "<s>", 3))
            id = W_BOS;
        else if (wl == 4 && !memcmp(w, "</s>", 4))
            id = W_EOS;
        else if (n == 1) {
            size_t before = lm_vocab_size(r->vocab);
            if (before >= (size_t)1 << 24)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: more than %d words", path, lineno,
                               1 << 24);
            if ((id = lm_vocab_add(r->vocab, w, wl, 0)) < 0)
                return lm_fail(err, LM_ENOMEM, "out of memory");
        } else {
            id = lm_vocab_lookup(r->vocab, w, wl);
            if (id == LM_TOK_UNK && (wl != 5 || memcmp(w, "<unk>", 5)))
                id = -1;
        }
        size_t *seen = id >= 0 ? &r->uni_line[id] : id == W_BOS ? &r->bos_line : &r->eos_line;
        if (id != -1 && n == 1) {
            if (*seen)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: unigram '%.*s' listed twice (line %zu)",
                               path, lineno, (int)wl, w, *seen);
            *seen = lineno;
        }
        if (id == -1 || !*seen)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: word '%.*s' has no unigram", path, lineno,
                           (int)wl, w);
        ids[j] = id;
    }
    s = skip_blank(s);
    if (*s && (!parse_float(s, &bow, &end) || !blank(end)))
        return lm_fail(err, LM_EFORMAT, "%s:%zu: %s", path, lineno,
                       parse_float(s, &bow, &end) ? "extra text after the back-off weight"
                                                  : "the back-off weight is not a finite number");
    o->lp[o->n] = lp;
    o->bow[o->n] = bow;
    o->line[o->n] = lineno;
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
    o->line = malloc(c * sizeof *o->line);
    o->keep = malloc(c);
    o->pos = malloc(c * sizeof *o->pos);
    o->nslots = 16;
    while (o->nslots < 2 * count)
        o->nslots *= 2;
    o->slots = malloc(o->nslots * sizeof *o->slots);
    if (!o->ids || !o->lp || !o->bow || !o->line || !o->keep || !o->pos || !o->slots)
        return LM_ENOMEM;
    memset(o->slots, 0xFF, o->nslots * sizeof *o->slots);
    return LM_OK;
}

/* "ngram N=COUNT", blanks allowed around the numbers (IRSTLM pads them). */
static int parse_count(const char *s, unsigned long *n, unsigned long *c)
{
    if (strncmp(s, "ngram", 5) || (s[5] != ' ' && s[5] != '\t'))
        return 0;
    char *e;
    s = skip_blank(s + 5);
    if (*s < '0' || *s > '9')
        return 0;
    *n = strtoul(s, &e, 10);
    s = skip_blank(e);
    if (*s++ != '=')
        return 0;
    s = skip_blank(s);
    if (*s < '0' || *s > '9')
        return 0;
    errno = 0;
    *c = strtoul(s, &e, 10);
    return !errno && blank(e);
}

/* Reads the header and the sections into the records. */
static int parse(arpa_reader *r, char *buf, size_t len, lm_error *err)
{
    const char *path = r->path;
    size_t pos = 0, lineno = 0, counts[LM_NGRAM_MAX_ORDER] = {0};
    char *s;
    /* Text before \data\ is ignored, except our own comment with the tokenizer settings and
     * IRSTLM's mark of its intermediate format, whose values are not back-off values yet. */
    while ((s = next_line(buf, len, &pos, &lineno)) && strcmp(s, "\\data\\")) {
        if (!strcmp(s, "iARPA"))
            return lm_fail(err, LM_EFORMAT, "%s:%zu: IRSTLM's intermediate iARPA format, not "
                           "ARPA (convert it with 'compile-lm FILE --text=yes OUT.arpa')", path,
                           lineno);
        if (parse_comment(r, s))
            return lm_fail(err, LM_EFORMAT, "%s:%zu: the lstmlm comment names an unknown "
                           "tokenizer (expected words, whitespace or chars)", path, lineno);
    }
    if (!s)
        return lm_fail(err, LM_EFORMAT, "%s: no \\data\\ header (not an ARPA file)", path);
    while ((s = next_line(buf, len, &pos, &lineno)) && s[0] != '\\') {
        if (blank(s))
            continue;
        unsigned long n, c;
        if (!parse_count(s, &n, &c))
            return lm_fail(err, LM_EFORMAT, "%s:%zu: expected 'ngram N=COUNT'", path, lineno);
        if (n != r->order + 1)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: 'ngram %lu=' out of sequence (expected "
                           "%zu)", path, lineno, n, r->order + 1);
        if (n > LM_NGRAM_MAX_ORDER)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: order %lu is above the %d this toolkit "
                           "handles", path, lineno, n, LM_NGRAM_MAX_ORDER);
        /* Each n-gram line takes at least 4 bytes ("0 a\n"). */
        if (c >= (unsigned long)INT32_MAX || c > len / 4 || (n == 1 && c == 0))
            return lm_fail(err, LM_EFORMAT, "%s:%zu: impossible count %lu for a file of %zu "
                           "bytes%s", path, lineno, c, len, c ? " (truncated?)" : "");
        counts[r->order++] = c;
    }
    if (!r->order)
        return lm_fail(err, LM_EFORMAT, "%s:%zu: the \\data\\ header lists no n-gram counts",
                       path, lineno);
    for (size_t k = 0; k < r->order; k++)
        if (alloc_order(&r->o[k], k + 1, counts[k]))
            return lm_fail(err, LM_ENOMEM, "out of memory");
    /* Unigrams may add up to counts[0] words beyond the specials. */
    r->uni_line = calloc(counts[0] + LM_N_SPECIAL, sizeof *r->uni_line);
    if (!r->uni_line)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    size_t cur = 0; /* order of the section being read, 0 = none yet */
    for (; s; s = next_line(buf, len, &pos, &lineno)) {
        if (blank(s))
            continue;
        if (s[0] == '\\') {
            if (cur && r->o[cur - 1].n != r->o[cur - 1].cap)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: the header announces %zu %zu-grams but "
                               "the section holds %zu", path, lineno, r->o[cur - 1].cap, cur,
                               r->o[cur - 1].n);
            if (!strcmp(s, "\\end\\"))
                break;
            unsigned long n;
            int used = 0;
            if (sscanf(s, "\\%lu-grams:%n", &n, &used) != 1 || !used || !blank(s + used) ||
                n != cur + 1 || n > r->order)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: unexpected section '%.40s'", path,
                               lineno, s);
            cur = n;
            continue;
        }
        if (!cur)
            return lm_fail(err, LM_EFORMAT, "%s:%zu: n-gram outside a section", path, lineno);
        int rc = parse_entry(r, cur, s, lineno, err);
        if (rc)
            return rc;
    }
    if (!s || cur != r->order)
        return lm_fail(err, LM_EFORMAT, "%s:%zu: truncated (no \\end\\ after the %zu-grams)",
                       path, lineno, r->order);
    if (r->uni_line[LM_TOK_EOT] && (r->bos_line || r->eos_line))
        return lm_fail(err, LM_EFORMAT, "%s:%zu: the unigram <eot> and the sentence markers <s> "
                       "and </s> stand for the same token", path, r->uni_line[LM_TOK_EOT]);
    return LM_OK;
}

/* Maps the records of orders >= 2 to toolkit ids, drops those no query reaches, and checks
 * that no two are the same n-gram and that every kept one has its prefix and suffix. */
static int map_and_check(arpa_reader *r, lm_error *err)
{
    const char *path = r->path;
    for (size_t n = 2; n <= r->order; n++) {
        arpa_order *o = &r->o[n - 1];
        for (size_t e = 0; e < o->n; e++) {
            int32_t *w = o->ids + e * n;
            int keep = 1;
            for (size_t j = 0; j < n; j++) {
                if (w[j] == W_BOS) {
                    keep &= j == 0;
                    w[j] = LM_TOK_EOT;
                } else if (w[j] == W_EOS) {
                    keep &= j > 0;
                    w[j] = LM_TOK_EOT;
                }
                /* A sentence model's history never holds an <eot> but the first. */
                if (r->opts.sentences && w[j] == LM_TOK_EOT && j > 0 && j + 1 < n)
                    keep = 0;
            }
            o->keep[e] = (uint8_t)keep;
            if (!keep)
                continue;
            uint32_t d = lookup(r, w, n);
            if (d != UINT32_MAX)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: the same %zu-gram as line %zu", path,
                               o->line[e], n, o->line[d]);
            insert(o, n, (uint32_t)e);
        }
    }
    for (size_t n = 3; n <= r->order; n++) {
        const arpa_order *o = &r->o[n - 1];
        for (size_t e = 0; e < o->n; e++) {
            if (!o->keep[e])
                continue;
            const int32_t *w = o->ids + e * n;
            int pre = lookup(r, w, n - 1) != UINT32_MAX;
            if (!pre || lookup(r, w + 1, n - 1) == UINT32_MAX)
                return lm_fail(err, LM_EFORMAT, "%s:%zu: the %zu-gram's %s (its %s %zu words) is "
                               "not listed", path, o->line[e], n, pre ? "suffix" : "prefix",
                               pre ? "last" : "first", n - 1);
        }
    }
    return LM_OK;
}

typedef struct sort_key {
    uint64_t key; /* parent << 32 | word */
    uint32_t rec;
} sort_key;

static int cmp_key(const void *a, const void *b)
{
    uint64_t x = ((const sort_key *)a)->key, y = ((const sort_key *)b)->key;
    return x < y ? -1 : x > y;
}

/* Fills the model's levels from the kept records, each level sorted by (parent, word). */
static int build(arpa_reader *r, lm_ngram *m)
{
    size_t V = m->V;
    if (lm_ngram_level_alloc(m, 0, V))
        return LM_ENOMEM;
    lm_ngram_level *l0 = &m->lv[0];
    /* A special the file does not list is impossible: -99, the ARPA convention. */
    for (size_t w = 0; w < V; w++) {
        l0->logprob[w] = -99.0f;
        if (l0->backoff)
            l0->backoff[w] = 0;
    }
    const arpa_order *u = &r->o[0];
    for (size_t e = 0; e < u->n; e++) {
        int32_t w = u->ids[e];
        /* </s> is <eot> predicted, <s> is <eot> as a context; a literal <eot> is both. */
        if (w != W_BOS)
            l0->logprob[w == W_EOS ? LM_TOK_EOT : w] = u->lp[e];
        if (w != W_EOS && l0->backoff)
            l0->backoff[w == W_BOS ? LM_TOK_EOT : w] = u->bow[e];
    }
    sort_key *keys = NULL;
    for (size_t k = 1; k < r->order; k++) {
        arpa_order *o = &r->o[k];
        const arpa_order *lo = &r->o[k - 1];
        size_t n = k + 1, nk = 0;
        free(keys);
        keys = malloc((o->n ? o->n : 1) * sizeof *keys);
        if (!keys)
            return LM_ENOMEM;
        for (size_t e = 0; e < o->n; e++) {
            if (!o->keep[e])
                continue;
            const int32_t *w = o->ids + e * n;
            uint32_t parent = k == 1 ? (uint32_t)w[0] : lo->pos[lookup(r, w, k)];
            keys[nk].key = (uint64_t)parent << 32 | (uint32_t)w[k];
            keys[nk++].rec = (uint32_t)e;
        }
        qsort(keys, nk, sizeof *keys, cmp_key);
        if (lm_ngram_level_alloc(m, k, nk)) {
            free(keys);
            return LM_ENOMEM;
        }
        lm_ngram_level *l = &m->lv[k];
        for (size_t i = 0; i < nk; i++) {
            uint32_t e = keys[i].rec;
            o->pos[e] = (uint32_t)i;
            l->parent[i] = (uint32_t)(keys[i].key >> 32);
            l->word[i] = (int32_t)(uint32_t)keys[i].key;
            l->logprob[i] = o->lp[e];
            if (l->backoff)
                l->backoff[i] = o->bow[e];
        }
    }
    free(keys);
    return lm_ngram_link(m);
}

int lm_ngram_read_arpa(const char *path, lm_ngram **out, lm_error *err)
{
    arpa_reader r;
    memset(&r, 0, sizeof r);
    r.path = path;
    /* A file without our comment: pre-tokenized text, one sentence per line, as the other
     * toolkits expect. */
    lm_ngram_opts_init(&r.opts);
    r.opts.tokenize = LM_TOKENIZE_WHITESPACE;
    r.opts.sentences = 1;
    char *buf = NULL;
    size_t len = 0;
    lm_ngram *m = NULL;
    int rc = lm_vocab_create(&r.vocab, err);
    if (!rc)
        rc = lm_read_file(path, &buf, &len, err);
    if (!rc && lm_find_nul(buf, len) < len)
        rc = lm_fail(err, LM_EFORMAT, "%s: binary data (not an ARPA file)", path);
    if (!rc)
        rc = parse(&r, buf, len, err);
    if (!rc)
        rc = map_and_check(&r, err);
    if (rc)
        goto out;
    r.opts.order = r.order;
    if (r.opts.prune_singletons > r.order)
        r.opts.prune_singletons = 0;
    rc = lm_ngram_alloc(&r.opts, r.vocab, &m, err);
    r.vocab = NULL;
    if (rc)
        goto out;
    m->imported = 1;
    if ((rc = build(&r, m))) {
        rc = rc == LM_ENOMEM ? lm_fail(err, rc, "out of memory")
                             : lm_fail(err, LM_EFORMAT, "%s: inconsistent n-gram tables", path);
        goto out;
    }
    *out = m;
    m = NULL;
out:
    lm_ngram_free(m);
    free(buf);
    reader_free(&r);
    return rc;
}
