/* ngram.c - n-gram counting and interpolated modified Kneser-Ney smoothing; lookups, the
 * next-token distribution and perplexity.
 *
 * Training, for a model of order N over id streams (one per file):
 *   1. Counting, one order at a time, by sorting: the n-gram starting at position i is packed
 *      into 64 bits as (index of its (n-1)-word prefix << 32 | last word), the keys of all
 *      positions are radix-sorted and run-length counted. The sorted unique keys are the level
 *      of order n, already in trie order. A binary search in the prefix's extension range then
 *      gives each position its n-gram index, the prefix index of the next order.
 *   2. Suffix links: the (n-1)-gram w2..wn of each n-gram w1..wn.
 *   3. Adjusted counts (Kneser-Ney): the raw count at order N; below N the continuation count,
 *      the number of distinct words seen before the n-gram (the number of entries of the next
 *      order whose suffix it is), plus one when the n-gram begins a stream, as if every stream
 *      were preceded by one start symbol. (KenLM keeps raw counts for n-grams starting with
 *      <s>; our streams have no <s>, and the +1 gives the first n-gram of a file a count.)
 *   4. Discounts D1, D2, D3+ per order from the count-of-counts n1..n4 of the adjusted counts.
 *   5. Interpolation: for an n-gram h w with adjusted count a,
 *          p(w | h) = (a - D(a)) / S(h) + gamma(h) p(w | h')
 *      where S(h) sums the adjusted counts of all extensions of h, h' drops the first word of
 *      h, and gamma(h) = 1 - sum over kept extensions of (a - D(a)) / S(h), which equals
 *      (D1 N1(h) + D2 N2(h) + D3+ N3+(h)) / S(h) when nothing is pruned. The unigrams
 *      interpolate with the uniform distribution 1/V over the whole vocabulary. Pruned
 *      n-grams (singletons of order >= K) keep their share in S(h), so their discounted mass
 *      moves to gamma(h) and the distribution still sums to 1.
 * A sentence model (opts.sentences) sees every stream as lines that each begin after an <eot>:
 * a virtual <eot> is put before each stream, no n-gram is counted that holds <eot> anywhere but
 * first or last (so none reaches back past the <eot> before its line), no stream-start +1 is
 * added, and an n-gram that starts with <eot> (the <s> role) keeps its raw count below the top
 * order, since no word can precede it (KenLM does this for n-grams starting with <s>).
 * The counts used for discounts and continuation counts are those before pruning (as KenLM).
 * Pruning on raw counts keeps the stored set closed under prefixes and suffixes, because a
 * prefix or suffix occurs at least as often as the n-gram.
 */
#include "ngram/ngram.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LN10 2.30258509299404568402

void lm_ngram_opts_init(lm_ngram_opts *o)
{
    memset(o, 0, sizeof *o);
    o->order = 5;
    o->prune_singletons = 0;
    o->tokenize = LM_TOKENIZE_WORDS;
    o->lowercase = 0;
    o->sentences = 0;
}

int lm_ngram_discounts_from(const uint64_t nk[4], double D[3])
{
    if (nk[0] && nk[1] && nk[2] && nk[3]) {
        double n1 = (double)nk[0], n2 = (double)nk[1], n3 = (double)nk[2], n4 = (double)nk[3];
        double Y = n1 / (n1 + 2 * n2);
        double d1 = 1 - 2 * Y * n2 / n1, d2 = 2 - 3 * Y * n3 / n2, d3 = 3 - 4 * Y * n4 / n3;
        if (d1 > 0 && d1 < 1 && d2 > 0 && d2 < 2 && d3 > 0 && d3 < 3) {
            D[0] = d1;
            D[1] = d2;
            D[2] = d3;
            return 0;
        }
    }
    D[0] = 0.5;
    D[1] = 1.0;
    D[2] = 1.5;
    return 1;
}

static void level_free(lm_ngram_level *l)
{
    free(l->word);
    free(l->parent);
    free(l->child);
    free(l->logprob);
    free(l->backoff);
    memset(l, 0, sizeof *l);
}

void lm_ngram_free(lm_ngram *m)
{
    if (!m)
        return;
    for (size_t k = 0; k < LM_NGRAM_MAX_ORDER; k++)
        level_free(&m->lv[k]);
    lm_vocab_free(m->vocab);
    free(m);
}

const lm_ngram_opts *lm_ngram_options(const lm_ngram *m)
{
    return &m->opts;
}

const lm_vocab *lm_ngram_vocab(const lm_ngram *m)
{
    return m->vocab;
}

void lm_ngram_get_info(const lm_ngram *m, lm_ngram_info *info)
{
    memset(info, 0, sizeof *info);
    info->order = m->opts.order;
    info->vocab = m->V;
    info->imported = m->imported;
    info->tokens = m->tokens;
    for (size_t k = 0; k < m->opts.order; k++) {
        info->count[k] = m->lv[k].n;
        memcpy(info->count_of_counts[k], m->nk[k], sizeof m->nk[k]);
        memcpy(info->discount[k], m->D[k], sizeof m->D[k]);
        info->fallback[k] = m->fallback[k];
    }
}

int lm_ngram_alloc(const lm_ngram_opts *o, lm_vocab *vocab, lm_ngram **out, lm_error *err)
{
    lm_ngram *m = calloc(1, sizeof *m);
    if (!m) {
        lm_vocab_free(vocab);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    m->opts = *o;
    m->vocab = vocab;
    m->V = lm_vocab_size(vocab);
    *out = m;
    return LM_OK;
}

int lm_ngram_level_alloc(lm_ngram *m, size_t k, size_t n)
{
    lm_ngram_level *l = &m->lv[k];
    level_free(l);
    l->n = n;
    size_t c = n ? n : 1;
    l->logprob = malloc(c * sizeof *l->logprob);
    if (k > 0) {
        l->word = malloc(c * sizeof *l->word);
        l->parent = malloc(c * sizeof *l->parent);
    }
    if (k + 1 < m->opts.order)
        l->backoff = malloc(c * sizeof *l->backoff);
    if (!l->logprob || (k > 0 && (!l->word || !l->parent)) ||
        (k + 1 < m->opts.order && !l->backoff))
        return LM_ENOMEM;
    return LM_OK;
}

/* Builds lv[k-1].child from lv[k].parent; checks the (parent, word) order. */
static int link_level(lm_ngram *m, size_t k)
{
    lm_ngram_level *lo = &m->lv[k - 1], *up = &m->lv[k];
    free(lo->child);
    lo->child = calloc(lo->n + 1, sizeof *lo->child);
    if (!lo->child)
        return LM_ENOMEM;
    for (size_t i = 0; i < up->n; i++) {
        uint32_t p = up->parent[i];
        int32_t w = up->word[i];
        if (p >= lo->n || w < 0 || (size_t)w >= m->V)
            return LM_EFORMAT;
        if (i && (up->parent[i - 1] > p || (up->parent[i - 1] == p && up->word[i - 1] >= w)))
            return LM_EFORMAT;
        lo->child[p + 1]++;
    }
    for (size_t p = 0; p < lo->n; p++)
        lo->child[p + 1] += lo->child[p];
    return LM_OK;
}

int lm_ngram_link(lm_ngram *m)
{
    for (size_t k = 1; k < m->opts.order; k++) {
        int rc = link_level(m, k);
        if (rc)
            return rc;
    }
    if (m->opts.order) {
        free(m->lv[m->opts.order - 1].child);
        m->lv[m->opts.order - 1].child = NULL;
    }
    return LM_OK;
}

uint32_t lm_ngram_find_child(const lm_ngram *m, size_t k, uint32_t parent, int32_t w)
{
    const lm_ngram_level *lo = &m->lv[k - 1];
    size_t a = lo->child[parent], b = lo->child[parent + 1];
    const int32_t *word = m->lv[k].word;
    while (a < b) {
        size_t mid = a + (b - a) / 2;
        if (word[mid] < w)
            a = mid + 1;
        else if (word[mid] > w)
            b = mid;
        else
            return (uint32_t)mid;
    }
    return LM_NGRAM_NONE;
}

uint32_t lm_ngram_find(const lm_ngram *m, const int32_t *w, size_t len)
{
    if (len == 0 || len > m->opts.order || w[0] < 0 || (size_t)w[0] >= m->V)
        return LM_NGRAM_NONE;
    uint32_t idx = (uint32_t)w[0];
    for (size_t j = 1; j < len && idx != LM_NGRAM_NONE; j++)
        idx = lm_ngram_find_child(m, j, idx, w[j]);
    return idx;
}

/* ---- counting ----------------------------------------------------------------------------- */

/* LSD radix sort of 64-bit keys, 8 bits per pass; passes where every key has the same byte are
 * skipped (prefix indexes and word ids leave most high bytes zero). */
static void radix_sort(uint64_t *a, uint64_t *tmp, size_t n)
{
    uint64_t *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 64; shift += 8) {
        size_t cnt[256] = {0};
        for (size_t i = 0; i < n; i++)
            cnt[(src[i] >> shift) & 255]++;
        if (n == 0 || cnt[(src[0] >> shift) & 255] == n)
            continue;
        size_t sum = 0;
        for (size_t b = 0; b < 256; b++) {
            size_t c = cnt[b];
            cnt[b] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[cnt[(src[i] >> shift) & 255]++] = src[i];
        uint64_t *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

static double disc(const double D[3], uint64_t a)
{
    return a == 0 ? 0.0 : a == 1 ? D[0] : a == 2 ? D[1] : D[2];
}

typedef struct train_tmp {
    uint32_t *raw[LM_NGRAM_MAX_ORDER];   /* raw counts per entry */
    uint32_t *adj[LM_NGRAM_MAX_ORDER];   /* adjusted counts */
    uint32_t *suf[LM_NGRAM_MAX_ORDER];   /* suffix link into the level below (k >= 1) */
    uint8_t *start[LM_NGRAM_MAX_ORDER];  /* begins a stream */
    int32_t *first[LM_NGRAM_MAX_ORDER];  /* first word (sentence models, 1 <= k < N-1) */
    double *prob[LM_NGRAM_MAX_ORDER];    /* interpolated p */
    double *gamma[LM_NGRAM_MAX_ORDER];   /* interpolation weight as a context */
    uint32_t *remap[LM_NGRAM_MAX_ORDER]; /* index after pruning, or NONE */
    int32_t *x;
    uint32_t *idx_a, *idx_b;
    uint64_t *keys, *ktmp;
} train_tmp;

static void tmp_free(train_tmp *t)
{
    for (size_t k = 0; k < LM_NGRAM_MAX_ORDER; k++) {
        free(t->raw[k]);
        free(t->adj[k]);
        free(t->suf[k]);
        free(t->start[k]);
        free(t->first[k]);
        free(t->prob[k]);
        free(t->gamma[k]);
        free(t->remap[k]);
    }
    free(t->x);
    free(t->idx_a);
    free(t->idx_b);
    free(t->keys);
    free(t->ktmp);
}

/* Counts every order; fills the levels' word/parent arrays and child links, raw counts and
 * stream-start flags. x holds the streams back to back, seg[0..ns] their offsets. */
static int count_all(lm_ngram *m, train_tmp *t, const size_t *seg, size_t ns, size_t T)
{
    size_t N = m->opts.order, V = m->V;
    if (lm_ngram_level_alloc(m, 0, V))
        return LM_ENOMEM;
    t->raw[0] = calloc(V, sizeof *t->raw[0]);
    t->start[0] = calloc(V, 1);
    t->idx_a = malloc((T ? T : 1) * sizeof *t->idx_a);
    t->idx_b = malloc((T ? T : 1) * sizeof *t->idx_b);
    if (!t->raw[0] || !t->start[0] || !t->idx_a || !t->idx_b)
        return LM_ENOMEM;
    for (size_t i = 0; i < T; i++) {
        t->raw[0][t->x[i]]++;
        t->idx_a[i] = (uint32_t)t->x[i];
    }
    int sent = m->opts.sentences;
    for (size_t s = 0; s < ns && !sent; s++)
        if (seg[s + 1] > seg[s])
            t->start[0][t->x[seg[s]]] = 1;
    if (N == 1)
        return LM_OK;
    t->keys = malloc(T * sizeof *t->keys);
    t->ktmp = malloc(T * sizeof *t->ktmp);
    if (!t->keys || !t->ktmp)
        return LM_ENOMEM;
    uint32_t *prev = t->idx_a, *cur = t->idx_b;
    /* In a sentence model the n-gram at i of order k+1 is counted when its prefix was and the
     * prefix's last word, now inside, is not <eot>; the others get LM_NGRAM_NONE. */
#define SKIP(i) (sent && (prev[i] == LM_NGRAM_NONE || (k >= 2 && t->x[(i) + k - 1] == LM_TOK_EOT)))
    for (size_t k = 1; k < N; k++) {
        size_t n = k + 1, nk = 0;
        for (size_t s = 0; s < ns; s++)
            for (size_t i = seg[s]; i + n <= seg[s + 1]; i++)
                if (!SKIP(i))
                    t->keys[nk++] = (uint64_t)prev[i] << 32 | (uint32_t)t->x[i + k];
        radix_sort(t->keys, t->ktmp, nk);
        size_t u = 0;
        for (size_t i = 0; i < nk; i++)
            if (i == 0 || t->keys[i] != t->keys[i - 1])
                u++;
        if (u >= (size_t)INT32_MAX)
            return LM_EINVAL;
        if (lm_ngram_level_alloc(m, k, u))
            return LM_ENOMEM;
        t->raw[k] = calloc(u ? u : 1, sizeof *t->raw[k]);
        if (k + 1 < N)
            t->start[k] = calloc(u ? u : 1, 1);
        if (!t->raw[k] || (k + 1 < N && !t->start[k]))
            return LM_ENOMEM;
        lm_ngram_level *l = &m->lv[k];
        size_t j = 0;
        for (size_t i = 0; i < nk; i++) {
            if (i && t->keys[i] == t->keys[i - 1]) {
                t->raw[k][j - 1]++;
                continue;
            }
            l->parent[j] = (uint32_t)(t->keys[i] >> 32);
            l->word[j] = (int32_t)(uint32_t)t->keys[i];
            t->raw[k][j++] = 1;
        }
        int rc = link_level(m, k);
        if (rc)
            return rc == LM_EFORMAT ? LM_EINVAL : rc;
        for (size_t s = 0; s < ns; s++) {
            for (size_t i = seg[s]; i + n <= seg[s + 1]; i++) {
                if (SKIP(i)) {
                    cur[i] = LM_NGRAM_NONE;
                    continue;
                }
                cur[i] = lm_ngram_find_child(m, k, prev[i], t->x[i + k]);
                LM_ASSERT(cur[i] != LM_NGRAM_NONE);
            }
            if (!sent && k + 1 < N && seg[s] + n <= seg[s + 1])
                t->start[k][cur[seg[s]]] = 1;
        }
        uint32_t *sw = prev;
        prev = cur;
        cur = sw;
    }
#undef SKIP
    free(t->keys);
    free(t->ktmp);
    t->keys = t->ktmp = NULL;
    return LM_OK;
}

/* Suffix links, adjusted counts, discounts, interpolated probabilities and weights. */
static int smooth(lm_ngram *m, train_tmp *t)
{
    size_t N = m->opts.order, V = m->V;
    for (size_t k = 1; k < N; k++) {
        const lm_ngram_level *l = &m->lv[k];
        t->suf[k] = malloc((l->n ? l->n : 1) * sizeof *t->suf[k]);
        if (!t->suf[k])
            return LM_ENOMEM;
        for (size_t e = 0; e < l->n; e++) {
            if (k == 1)
                t->suf[k][e] = (uint32_t)l->word[e];
            else
                t->suf[k][e] =
                    lm_ngram_find_child(m, k - 1, t->suf[k - 1][l->parent[e]], l->word[e]);
            LM_ASSERT(t->suf[k][e] != LM_NGRAM_NONE);
        }
    }
    for (size_t k = 0; k < N; k++) {
        size_t n = m->lv[k].n;
        if (k + 1 == N) {
            t->adj[k] = t->raw[k];
            t->raw[k] = NULL;
            t->raw[k] = malloc((n ? n : 1) * sizeof *t->raw[k]);
            if (!t->raw[k])
                return LM_ENOMEM;
            memcpy(t->raw[k], t->adj[k], n * sizeof *t->raw[k]);
        } else {
            t->adj[k] = malloc((n ? n : 1) * sizeof *t->adj[k]);
            if (!t->adj[k])
                return LM_ENOMEM;
            for (size_t e = 0; e < n; e++)
                t->adj[k][e] = t->start[k][e];
            for (size_t e = 0; e < m->lv[k + 1].n; e++)
                t->adj[k][t->suf[k + 1][e]]++;
            /* Sentence models: nothing precedes an n-gram that starts with <eot>. */
            if (m->opts.sentences && k >= 1) {
                const lm_ngram_level *l = &m->lv[k];
                t->first[k] = malloc((n ? n : 1) * sizeof *t->first[k]);
                if (!t->first[k])
                    return LM_ENOMEM;
                for (size_t e = 0; e < n; e++) {
                    t->first[k][e] = k == 1 ? (int32_t)l->parent[e] : t->first[k - 1][l->parent[e]];
                    if (t->first[k][e] == LM_TOK_EOT)
                        t->adj[k][e] = t->raw[k][e];
                }
            }
        }
        memset(m->nk[k], 0, sizeof m->nk[k]);
        for (size_t e = 0; e < n; e++)
            if (t->adj[k][e] >= 1 && t->adj[k][e] <= 4)
                m->nk[k][t->adj[k][e] - 1]++;
        m->fallback[k] = lm_ngram_discounts_from(m->nk[k], m->D[k]);
    }
    /* What survives pruning. */
    size_t K = m->opts.prune_singletons;
    for (size_t k = 0; k < N; k++) {
        size_t n = m->lv[k].n;
        t->remap[k] = malloc((n ? n : 1) * sizeof *t->remap[k]);
        if (!t->remap[k])
            return LM_ENOMEM;
        uint32_t j = 0;
        for (size_t e = 0; e < n; e++) {
            int drop = K && k + 1 >= K && k > 0 && t->raw[k][e] == 1;
            t->remap[k][e] = drop ? LM_NGRAM_NONE : j++;
        }
    }
    /* Interpolation weights of every entry as a context of the next order. */
    for (size_t k = 0; k + 1 < N; k++) {
        const lm_ngram_level *l = &m->lv[k];
        t->gamma[k] = malloc((l->n ? l->n : 1) * sizeof *t->gamma[k]);
        if (!t->gamma[k])
            return LM_ENOMEM;
        const double *D = m->D[k + 1];
        for (size_t c = 0; c < l->n; c++) {
            double S = 0, kept = 0;
            for (uint32_t e = l->child[c]; e < l->child[c + 1]; e++) {
                uint32_t a = t->adj[k + 1][e];
                S += a;
                if (t->remap[k + 1][e] != LM_NGRAM_NONE)
                    kept += a - disc(D, a);
            }
            t->gamma[k][c] = S > 0 ? 1.0 - kept / S : 1.0;
        }
    }
    /* Unigrams: interpolated with the uniform distribution. */
    double S0 = 0, kept0 = 0;
    for (size_t w = 0; w < V; w++) {
        S0 += t->adj[0][w];
        kept0 += t->adj[0][w] - disc(m->D[0], t->adj[0][w]);
    }
    LM_ASSERT(S0 > 0);
    double g0 = 1.0 - kept0 / S0;
    t->prob[0] = malloc(V * sizeof *t->prob[0]);
    if (!t->prob[0])
        return LM_ENOMEM;
    for (size_t w = 0; w < V; w++) {
        uint32_t a = t->adj[0][w];
        t->prob[0][w] = (a - disc(m->D[0], a)) / S0 + g0 / (double)V;
    }
    for (size_t k = 1; k < N; k++) {
        const lm_ngram_level *lo = &m->lv[k - 1];
        t->prob[k] = malloc((m->lv[k].n ? m->lv[k].n : 1) * sizeof *t->prob[k]);
        if (!t->prob[k])
            return LM_ENOMEM;
        for (size_t c = 0; c < lo->n; c++) {
            double S = 0;
            for (uint32_t e = lo->child[c]; e < lo->child[c + 1]; e++)
                S += t->adj[k][e];
            for (uint32_t e = lo->child[c]; e < lo->child[c + 1]; e++) {
                uint32_t a = t->adj[k][e];
                t->prob[k][e] = (a - disc(m->D[k], a)) / S +
                                t->gamma[k - 1][c] * t->prob[k - 1][t->suf[k][e]];
            }
        }
    }
    return LM_OK;
}

/* Writes log10 values and drops pruned entries (their prefixes are kept, so kept entries keep
 * their order and their parents stay valid through remap). */
static int store(lm_ngram *m, train_tmp *t)
{
    size_t N = m->opts.order;
    for (size_t k = 0; k < N; k++) {
        lm_ngram_level *l = &m->lv[k];
        size_t j = 0;
        for (size_t e = 0; e < l->n; e++) {
            if (t->remap[k][e] == LM_NGRAM_NONE)
                continue;
            LM_ASSERT(t->remap[k][e] == j);
            if (k > 0) {
                uint32_t p = t->remap[k - 1][l->parent[e]];
                LM_ASSERT(p != LM_NGRAM_NONE);
                l->parent[j] = p;
                l->word[j] = l->word[e];
            }
            l->logprob[j] = (float)log10(t->prob[k][e]);
            if (l->backoff)
                l->backoff[j] = (float)log10(t->gamma[k][e]);
            j++;
        }
        l->n = j;
    }
    int rc = lm_ngram_link(m);
    return rc == LM_EFORMAT ? LM_EINVAL : rc;
}

int lm_ngram_train(const lm_ngram_opts *o, lm_vocab *vocab, const int32_t *const *streams,
                   const size_t *lens, size_t n_streams, lm_ngram **out, lm_error *err)
{
    if (!vocab)
        return lm_fail(err, LM_EINVAL, "no vocabulary");
    if (o->order < 1 || o->order > LM_NGRAM_MAX_ORDER) {
        lm_vocab_free(vocab);
        return lm_fail(err, LM_EINVAL, "order %zu is outside 1..%d", o->order,
                       LM_NGRAM_MAX_ORDER);
    }
    if (o->prune_singletons == 1) {
        lm_vocab_free(vocab);
        return lm_fail(err, LM_EINVAL, "singletons can be pruned from order 2 up, not 1");
    }
    lm_ngram *m;
    int rc = lm_ngram_alloc(o, vocab, &m, err);
    if (rc)
        return rc;
    size_t V = m->V, T = 0;
    for (size_t s = 0; s < n_streams; s++) {
        T += lens[s];
        for (size_t i = 0; i < lens[s]; i++)
            if (streams[s][i] < 0 || (size_t)streams[s][i] >= V) {
                lm_ngram_free(m);
                return lm_fail(err, LM_EINVAL, "token id %d outside the vocabulary (%zu types)",
                               (int)streams[s][i], V);
            }
    }
    if (T == 0) {
        lm_ngram_free(m);
        return lm_fail(err, LM_EINVAL, "no tokens to count");
    }
    if (T + n_streams >= (size_t)INT32_MAX) {
        lm_ngram_free(m);
        return lm_fail(err, LM_EINVAL, "%zu tokens are more than this counter handles", T);
    }
    m->tokens = T;
    /* A sentence model puts the <eot> that precedes a line before each stream. */
    size_t lead = o->sentences && o->order > 1 ? 1 : 0, TX = T + lead * n_streams;
    train_tmp t;
    memset(&t, 0, sizeof t);
    size_t *seg = malloc((n_streams + 1) * sizeof *seg);
    t.x = malloc(TX * sizeof *t.x);
    if (!seg || !t.x) {
        rc = LM_ENOMEM;
        goto out;
    }
    seg[0] = 0;
    for (size_t s = 0; s < n_streams; s++) {
        if (lead)
            t.x[seg[s]] = LM_TOK_EOT;
        if (lens[s])
            memcpy(t.x + seg[s] + lead, streams[s], lens[s] * sizeof *t.x);
        seg[s + 1] = seg[s] + lead + lens[s];
    }
    if ((rc = count_all(m, &t, seg, n_streams, TX)) || (rc = smooth(m, &t)) ||
        (rc = store(m, &t)))
        goto out;
out:
    tmp_free(&t);
    free(seg);
    if (rc) {
        lm_ngram_free(m);
        return rc == LM_ENOMEM ? lm_fail(err, rc, "out of memory counting n-grams")
                               : lm_fail(err, rc, "too many distinct n-grams to count");
    }
    *out = m;
    return LM_OK;
}

/* ---- probabilities ------------------------------------------------------------------------ */

const int32_t *lm_ngram_history(const lm_ngram *m, const int32_t *hist, size_t *nh)
{
    if (!m->opts.sentences)
        return hist;
    size_t n = *nh, L = m->opts.order - 1;
    for (size_t j = n; j-- > 0 && n - j <= L;)
        if (hist[j] == LM_TOK_EOT) {
            *nh = n - j;
            return hist + j;
        }
    return hist;
}

/* log10 p(w | the last order-1 ids of hist). */
static double logprob10(const lm_ngram *m, const int32_t *hist, size_t nh, int32_t w)
{
    hist = lm_ngram_history(m, hist, &nh);
    size_t L = m->opts.order - 1;
    if (nh < L)
        L = nh;
    double lp = m->lv[0].logprob[w];
    for (size_t k = 1; k <= L; k++) {
        uint32_t c = lm_ngram_find(m, hist + nh - k, k);
        if (c == LM_NGRAM_NONE)
            break;
        const lm_ngram_level *lo = &m->lv[k - 1];
        if (lo->child[c] == lo->child[c + 1])
            break;
        uint32_t e = lm_ngram_find_child(m, k, c, w);
        if (e != LM_NGRAM_NONE)
            lp = m->lv[k].logprob[e];
        else
            lp += lo->backoff[c];
    }
    return lp;
}

double lm_ngram_logprob(const lm_ngram *m, const int32_t *hist, size_t n_hist, int32_t w)
{
    LM_ASSERT(w >= 0 && (size_t)w < m->V);
    return logprob10(m, hist, n_hist, w) * LN10;
}

void lm_ngram_dist(const lm_ngram *m, const int32_t *hist, size_t nh, double *p)
{
    hist = lm_ngram_history(m, hist, &nh);
    size_t L = m->opts.order - 1;
    if (nh < L)
        L = nh;
    for (size_t w = 0; w < m->V; w++)
        p[w] = pow(10.0, m->lv[0].logprob[w]);
    for (size_t k = 1; k <= L; k++) {
        uint32_t c = lm_ngram_find(m, hist + nh - k, k);
        if (c == LM_NGRAM_NONE)
            break;
        const lm_ngram_level *lo = &m->lv[k - 1], *up = &m->lv[k];
        if (lo->child[c] == lo->child[c + 1])
            break;
        double g = pow(10.0, lo->backoff[c]);
        for (size_t w = 0; w < m->V; w++)
            p[w] *= g;
        for (uint32_t e = lo->child[c]; e < lo->child[c + 1]; e++)
            p[up->word[e]] = pow(10.0, up->logprob[e]);
    }
}

int lm_ngram_eval(const lm_ngram *m, const int32_t *ids, size_t n, lm_eval_result *res,
                  lm_error *err)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] < 0 || (size_t)ids[i] >= m->V)
            return lm_fail(err, LM_EMISMATCH, "token id %d outside the model's vocabulary",
                           (int)ids[i]);
    if (n < 2)
        return lm_fail(err, LM_EINVAL, "need at least two tokens to evaluate");
    size_t ctx = m->opts.order - 1, oov = 0, from = m->opts.sentences ? 0 : 1;
    double nll = 0, known = 0;
    int32_t buf[LM_NGRAM_MAX_ORDER];
    for (size_t i = from; i < n; i++) {
        size_t h = i < ctx ? i : ctx;
        const int32_t *hp = ids + i - h;
        if (from == 0 && i < ctx) {
            /* A sentence model: the text begins a line, after a virtual <eot>. */
            buf[0] = LM_TOK_EOT;
            memcpy(buf + 1, ids, i * sizeof *buf);
            hp = buf;
            h = i + 1;
        }
        double l = -logprob10(m, hp, h, ids[i]) * LN10;
        nll += l;
        if (ids[i] == LM_TOK_UNK)
            oov++;
        else
            known += l;
    }
    size_t tok = n - from;
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
