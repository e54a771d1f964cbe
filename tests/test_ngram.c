/* test_ngram.c - modified Kneser-Ney n-grams: probabilities computed by hand on a 13-token
 * corpus, distributions that sum to 1, pruning, several files, save/load bit-exact and damaged
 * files refused, sentence models (no n-gram across a line end), ARPA export well-formed and
 * read back to bit-identical log-probabilities, foreign and malformed ARPA files, and (when
 * ../shared is present) the PTB 5-gram against Mikolov et al.'s KN-5 figure. */
#include "harness.h"
#include "model/h5.h"
#include "ngram/ngram.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Distributions: sum to 1 within this (float32 log values in the tables). */
#define SUM_TOL 1e-6
/* Hand-computed probabilities against the float32 tables. */
#define HAND_RTOL 1e-6

static const char *tmp(const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ & 7];
    snprintf(p, 512, "%s/%s", th_tmpdir(), name);
    return p;
}

static const char *write_text(const char *name, const char *text)
{
    const char *p = tmp(name);
    FILE *f = fopen(p, "w");
    if (!f)
        return NULL;
    fputs(text, f);
    fclose(f);
    return p;
}

/* The whole file as a NUL-terminated malloc'd string; 0 or -1. */
static int read_all(const char *path, char **out, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(b, cap *= 2);
            if (!nb)
                free(b);
            b = nb;
        }
    }
    fclose(f);
    if (!b)
        return -1;
    b[n] = 0;
    *out = b;
    *len = n;
    return 0;
}

/* Trains an n-gram model on the files, returns it (NULL on failure, printed). */
static lm_ngram *train_files_s(const char *const *paths, size_t n, int tokenize, size_t order,
                               size_t prune, int sentences)
{
    lm_text_opts t = {tokenize, 0};
    lm_vocab_opts vo;
    lm_vocab_opts_init(&vo);
    lm_vocab *v;
    lm_error err = {0};
    if (lm_vocab_build(paths, n, &t, &vo, &v, &err)) {
        printf("\n  %s\n", err.msg);
        return NULL;
    }
    int32_t *ids[8];
    size_t lens[8];
    for (size_t i = 0; i < n; i++)
        if (lm_corpus_read(paths[i], &t, v, &ids[i], &lens[i], NULL, &err)) {
            printf("\n  %s\n", err.msg);
            return NULL;
        }
    lm_ngram_opts o;
    lm_ngram_opts_init(&o);
    o.order = order;
    o.prune_singletons = prune;
    o.tokenize = tokenize;
    o.sentences = sentences;
    lm_ngram *m = NULL;
    if (lm_ngram_train(&o, v, (const int32_t *const *)ids, lens, n, &m, &err))
        printf("\n  %s\n", err.msg);
    for (size_t i = 0; i < n; i++)
        free(ids[i]);
    return m;
}

static lm_ngram *train_files(const char *const *paths, size_t n, int tokenize, size_t order,
                             size_t prune)
{
    return train_files_s(paths, n, tokenize, order, prune, 0);
}

static lm_ngram *train_text(const char *text, size_t order, size_t prune)
{
    const char *p = write_text("hand.txt", text);
    return train_files(&p, 1, LM_TOKENIZE_WHITESPACE, order, prune);
}

static int32_t id_of(const lm_ngram *m, const char *w)
{
    return lm_vocab_lookup(lm_ngram_vocab(m), w, strlen(w));
}

/* p(w | context words), the context given as a space-separated string ("" = none). */
static double P(const lm_ngram *m, const char *ctx, const char *w)
{
    int32_t h[8];
    size_t n = 0;
    char buf[64];
    snprintf(buf, sizeof buf, "%s", ctx);
    for (char *s = strtok(buf, " "); s; s = strtok(NULL, " "))
        h[n++] = id_of(m, s);
    return exp(lm_ngram_logprob(m, h, n, id_of(m, w)));
}

/* The hand corpus: 4 lines, 13 tokens with <eot> (E below):
 *     b a c a E d a b E c E d E
 * positions 0..12. Vocabulary (lm_vocab_build): <unk>=0 <eot>=1 <eoc>=2, then by count
 * a(3)=3, b(2)=4, c(2)=5, d(2)=6 (ties in byte order); V = 7. */
static const char *hand = "b a c a\nd a b\nc\nd\n";

static void test_discount_formula(void)
{
    /* n1..n4 = 1, 2, 1, 1: Y = 1/(1+4) = 0.2, D1 = 1 - 2*0.2*2/1 = 0.2,
     * D2 = 2 - 3*0.2*1/2 = 1.7, D3+ = 3 - 4*0.2*1/1 = 2.2. */
    double D[3];
    CU_ASSERT_EQUAL(lm_ngram_discounts_from((const uint64_t[4]){1, 2, 1, 1}, D), 0);
    LM_ASSERT_CLOSE(D[0], 0.2, 1e-12, 0);
    LM_ASSERT_CLOSE(D[1], 1.7, 1e-12, 0);
    LM_ASSERT_CLOSE(D[2], 2.2, 1e-12, 0);
    /* PTB-like bigram counts n = 187850, 35141, 14498, 7632: Y = 187850/258132 = 0.727728...,
     * D1 = 1 - 2Y*35141/187850 = 0.727728 (= Y, as always), D2 = 2 - 3Y*14498/35141 = 1.0993,
     * D3+ = 3 - 4Y*7632/14498 = 1.4676. */
    CU_ASSERT_EQUAL(lm_ngram_discounts_from((const uint64_t[4]){187850, 35141, 14498, 7632}, D), 0);
    double Y = 187850.0 / 258132.0;
    LM_ASSERT_CLOSE(D[0], Y, 1e-12, 0);
    LM_ASSERT_CLOSE(D[1], 2 - 3 * Y * 14498.0 / 35141.0, 1e-12, 0);
    LM_ASSERT_CLOSE(D[1], 1.0993, 1e-4, 0);
    LM_ASSERT_CLOSE(D[2], 1.4676, 1e-4, 0);
    /* A zero count-of-count, or discounts outside (0, c): the fallback 0.5, 1, 1.5. */
    CU_ASSERT_EQUAL(lm_ngram_discounts_from((const uint64_t[4]){10, 1, 0, 0}, D), 1);
    CU_ASSERT(D[0] == 0.5 && D[1] == 1.0 && D[2] == 1.5);
    CU_ASSERT_EQUAL(lm_ngram_discounts_from((const uint64_t[4]){1, 1, 100, 1}, D), 1);
}

static void test_hand_bigram(void)
{
    lm_ngram *m = train_text(hand, 2, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->V, 7);
    CU_ASSERT_EQUAL(id_of(m, "a"), 3);
    CU_ASSERT_EQUAL(id_of(m, "d"), 6);
    CU_ASSERT_EQUAL(m->tokens, 13);
    /* Unigram continuation counts: distinct words before each word among the bigram types,
     * +1 for the word that starts the stream (b):
     *   a: ba ca da -> 3; b: ab + start -> 2; c: ac Ec -> 2; d: Ed -> 1; E: aE bE cE dE -> 4.
     * n1..n4 = 1 (d), 2 (b c), 1 (a), 1 (E): D = 0.2, 1.7, 2.2 (test_discount_formula). */
    CU_ASSERT_EQUAL(m->nk[0][0], 1);
    CU_ASSERT_EQUAL(m->nk[0][1], 2);
    CU_ASSERT_EQUAL(m->nk[0][2], 1);
    CU_ASSERT_EQUAL(m->nk[0][3], 1);
    CU_ASSERT_EQUAL(m->fallback[0], 0);
    LM_ASSERT_CLOSE(m->D[0][1], 1.7, 1e-12, 0);
    /* Bigrams (raw counts at the top order): ba ac ca aE Ed(2) da ab bE Ec cE dE: 11 types,
     * n1 = 10, n2 = 1, n3 = 0 -> fallback D = 0.5, 1, 1.5. */
    CU_ASSERT_EQUAL(m->lv[1].n, 11);
    CU_ASSERT_EQUAL(m->nk[1][0], 10);
    CU_ASSERT_EQUAL(m->nk[1][1], 1);
    CU_ASSERT_EQUAL(m->fallback[1], 1);
    /* Unigrams: S = 3+2+2+1+4 = 12; discounted a 0.8, b 0.3, c 0.3, d 0.8, E 1.8 (sum 4), so
     * gamma = 1 - 4/12 = 2/3, spread uniformly: 2/3 / 7 = 2/21 each.
     *   p(a) = 0.8/12 + 2/21 = 17/105     p(b) = 0.3/12 + 2/21 = 101/840 = p(c)
     *   p(d) = 17/105    p(E) = 1.8/12 + 2/21 = 103/420    p(<unk>) = p(<eoc>) = 2/21 */
    LM_ASSERT_CLOSE(P(m, "", "a"), 17.0 / 105, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "", "b"), 101.0 / 840, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "", "c"), 101.0 / 840, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "", "d"), 17.0 / 105, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "", "<eot>"), 103.0 / 420, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "", "<unk>"), 2.0 / 21, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "", "<eoc>"), 2.0 / 21, 0, HAND_RTOL);
    /* Context a: ac ab aE, one each; S = 3, kept 3 * (1 - 0.5) = 1.5, gamma = 0.5.
     *   p(c|a) = 0.5/3 + 0.5 * 101/840 = 381/1680     p(a|a) = 0.5 * 17/105 = 17/210
     * Context E: Ed (2), Ec (1); S = 3, kept (2-1) + (1-0.5) = 1.5, gamma = 0.5.
     *   p(d|E) = 1/3 + 0.5 * 17/105 = 87/210          p(E|E) = 0.5 * 103/420 = 103/840
     * Context d: da, dE; S = 2, gamma = 0.5: p(a|d) = 0.25 + 0.5 * 17/105 = 139/420.
     * Context <unk> was never seen: p(a|<unk>) = p(a). */
    LM_ASSERT_CLOSE(P(m, "a", "c"), 381.0 / 1680, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "a", "a"), 17.0 / 210, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "<eot>", "d"), 87.0 / 210, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "<eot>", "<eot>"), 103.0 / 840, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "d", "a"), 139.0 / 420, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "<unk>", "a"), 17.0 / 105, 0, HAND_RTOL);
    /* Only the last order-1 = 1 words count. */
    LM_ASSERT_CLOSE(P(m, "b b d", "a"), 139.0 / 420, 0, HAND_RTOL);
    /* Perplexity of the corpus itself: the 12 predicted tokens, p(x_i | x_i-1):
     *   a|b 139/420  c|a 381/1680  a|c 139/420  E|a 1/6 + 103/840 = 243/840  d|E 87/210
     *   a|d 139/420  b|a 381/1680  E|b 0.25 + 103/840 = 313/840  c|E 381/1680  E|c 313/840
     *   d|E 87/210   E|d 313/840 */
    const double p[12] = {139.0 / 420, 381.0 / 1680, 139.0 / 420, 243.0 / 840, 87.0 / 210,
                          139.0 / 420, 381.0 / 1680, 313.0 / 840, 381.0 / 1680, 313.0 / 840,
                          87.0 / 210, 313.0 / 840};
    double nll = 0;
    for (int i = 0; i < 12; i++)
        nll -= log(p[i]);
    int32_t *ids;
    size_t n;
    lm_text_opts t = {LM_TOKENIZE_WHITESPACE, 0};
    CU_ASSERT_EQUAL_FATAL(lm_corpus_read(tmp("hand.txt"), &t, m->vocab, &ids, &n, NULL, NULL), 0);
    CU_ASSERT_EQUAL(n, 13);
    lm_eval_result r;
    CU_ASSERT_EQUAL(lm_ngram_eval(m, ids, n, &r, NULL), 0);
    CU_ASSERT_EQUAL(r.tokens, 12);
    CU_ASSERT_EQUAL(r.oov, 0);
    LM_ASSERT_CLOSE(r.nll, nll, 0, 1e-6);
    LM_ASSERT_CLOSE(r.ppl, exp(nll / 12), 0, 1e-6);
    LM_ASSERT_CLOSE(r.bits_per_token, nll / 12 / log(2.0), 0, 1e-6);
    free(ids);
    lm_ngram_free(m);
}

static void test_hand_trigram_and_pruning(void)
{
    /* Trigrams: bac aca caE aEd Eda dab abE bEc EcE cEd EdE, one each (fallback discounts).
     * The bigram continuation counts (distinct words before each bigram among the trigram
     * types, +1 for "b a" which starts the stream) equal the raw bigram counts here (Ed: aEd
     * cEd -> 2, the others 1), so unigrams and bigrams are those of test_hand_bigram.
     * Context "E d": Eda EdE, S = 2, gamma = 0.5:
     *   p(a|E d) = 0.25 + 0.5 * p(a|d) = 0.25 + 0.5 * 139/420 = 349/840
     *   p(c|E d) = 0.5 * p(c|d) = 0.5 * 0.5 * 101/840 = 101/3360
     * Context "a b": abE, S = 1, gamma = 0.5: p(E|a b) = 0.5 + 0.5 * 313/840 = 1153/1680.
     * An unseen context "b b" falls back to p(.|b). */
    lm_ngram *m = train_text(hand, 3, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->lv[2].n, 11);
    CU_ASSERT_EQUAL(m->nk[1][0], 10);
    CU_ASSERT_EQUAL(m->nk[1][1], 1);
    LM_ASSERT_CLOSE(P(m, "", "a"), 17.0 / 105, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "a", "c"), 381.0 / 1680, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "<eot> d", "a"), 349.0 / 840, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "<eot> d", "c"), 101.0 / 3360, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "a b", "<eot>"), 1153.0 / 1680, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "b b", "<eot>"), 313.0 / 840, 0, HAND_RTOL);
    lm_ngram_free(m);

    /* --prune-singletons 3: every trigram is a singleton and goes; the contexts keep all their
     * mass as back-off weight (gamma = 1): p(a|E d) = p(a|d) = 139/420. */
    m = train_text(hand, 3, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->lv[1].n, 11);
    CU_ASSERT_EQUAL(m->lv[2].n, 0);
    LM_ASSERT_CLOSE(P(m, "<eot> d", "a"), 139.0 / 420, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "a", "c"), 381.0 / 1680, 0, HAND_RTOL);
    lm_ngram_free(m);

    /* --prune-singletons 2: only the bigram Ed (seen twice) stays. Discounts and continuation
     * counts are those before pruning. Context E: S = 2 (Ed) + 1 (Ec) = 3, kept Ed: 2 - D2 =
     * 2 - 1 = 1, gamma = 1 - 1/3 = 2/3:
     *   p(d|E) = 1/3 + 2/3 * 17/105 = 139/315      p(c|E) = 2/3 * 101/840 = 101/1260
     * Context a lost all its bigrams: p(c|a) = p(c) = 101/840; "E d" lost its trigrams and d
     * its bigrams: p(a|E d) = p(a) = 17/105. */
    m = train_text(hand, 3, 2);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL(m->lv[1].n, 1);
    CU_ASSERT_EQUAL(m->lv[2].n, 0);
    LM_ASSERT_CLOSE(P(m, "<eot>", "d"), 139.0 / 315, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "<eot>", "c"), 101.0 / 1260, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "a", "c"), 101.0 / 840, 0, HAND_RTOL);
    LM_ASSERT_CLOSE(P(m, "<eot> d", "a"), 17.0 / 105, 0, HAND_RTOL);
    lm_ngram_free(m);
}

/* Every history of length 0..order-1 over the vocabulary (small V) or random ones: the
 * distribution sums to 1 and agrees with lm_ngram_logprob. Returns the worst |sum - 1|. */
static double check_sums(const lm_ngram *m, size_t max_hist, lm_rng *rng)
{
    size_t V = m->V, N = m->opts.order;
    double *p = malloc(V * sizeof *p), worst = 0;
    int32_t h[LM_NGRAM_MAX_ORDER];
    for (size_t len = 0; len < N; len++) {
        size_t combos = 1;
        for (size_t k = 0; k < len; k++)
            combos *= V;
        size_t tries = combos <= max_hist ? combos : max_hist;
        for (size_t c = 0; c < tries; c++) {
            size_t x = c;
            for (size_t k = 0; k < len; k++) {
                if (combos <= max_hist) {
                    h[k] = (int32_t)(x % V);
                    x /= V;
                } else {
                    h[k] = (int32_t)(lm_rng_next(rng) % V);
                }
            }
            lm_ngram_dist(m, h, len, p);
            double s = 0;
            int agree = 1;
            for (size_t w = 0; w < V; w++) {
                s += p[w];
                if (!(p[w] > 0))
                    agree = 0;
                if (w % 7 == 0 || V < 50) {
                    double lp = lm_ngram_logprob(m, h, len, (int32_t)w);
                    if (fabs(lp - log(p[w])) > 1e-9)
                        agree = 0;
                }
            }
            CU_ASSERT(agree);
            if (fabs(s - 1) > worst)
                worst = fabs(s - 1);
        }
    }
    free(p);
    return worst;
}

static void test_sums_to_one(void)
{
    lm_rng rng;
    lm_rng_seed(&rng, 5);
    for (size_t order = 1; order <= 4; order++)
        for (size_t prune = 0; prune <= 3; prune += 2) {
            lm_ngram *m = train_text(hand, order, prune > order ? 0 : prune);
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            /* Every history over V = 7 up to length 3: 1 + 7 + 49 + 343. */
            double worst = check_sums(m, 1000, &rng);
            if (worst > SUM_TOL)
                printf("\n  order %zu prune %zu: |sum - 1| = %.3g\n", order, prune, worst);
            CU_ASSERT(worst <= SUM_TOL);
            lm_ngram_free(m);
        }
    /* A real corpus, word and character n-grams, with and without pruning: the contexts of
     * the text itself (seen n-grams) and random ones. */
    const char *path = th_srcpath("data/dialogues.txt");
    for (int chars = 0; chars < 2; chars++)
        for (size_t prune = 0; prune <= 2; prune += 2) {
            lm_ngram *m = train_files(&path, 1, chars ? LM_TOKENIZE_CHARS : LM_TOKENIZE_WORDS,
                                      chars ? 7 : 4, prune);
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            double worst = check_sums(m, 40, &rng);
            int32_t *ids;
            size_t n;
            lm_text_opts t = {chars ? LM_TOKENIZE_CHARS : LM_TOKENIZE_WORDS, 0};
            CU_ASSERT_EQUAL_FATAL(lm_corpus_read(path, &t, m->vocab, &ids, &n, NULL, NULL), 0);
            double *p = malloc(m->V * sizeof *p);
            for (size_t i = 0; i + 8 < n; i += n / 97) {
                lm_ngram_dist(m, ids + i, 6, p);
                double s = 0;
                for (size_t w = 0; w < m->V; w++)
                    s += p[w];
                if (fabs(s - 1) > worst)
                    worst = fabs(s - 1);
            }
            if (worst > SUM_TOL)
                printf("\n  chars %d prune %zu: |sum - 1| = %.3g\n", chars, prune, worst);
            CU_ASSERT(worst <= SUM_TOL);
            free(p);
            free(ids);
            lm_ngram_free(m);
        }
}

static void test_files_and_errors(void)
{
    /* Two files: no n-gram spans them, and both first words count as stream starts. */
    const char *f[2] = {write_text("f1.txt", "x y\n"), write_text("f2.txt", "z y\n")};
    lm_ngram *m = train_files(f, 2, LM_TOKENIZE_WHITESPACE, 2, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    /* Bigrams: x y, y E, z y (not E z). */
    CU_ASSERT_EQUAL(m->lv[1].n, 3);
    int32_t e[2] = {LM_TOK_EOT, id_of(m, "z")};
    CU_ASSERT_EQUAL(lm_ngram_find(m, e, 2), LM_NGRAM_NONE);
    /* Continuation counts: x 1 (start), z 1 (start), y 2 (x, z), E 1 (y) -> n1 = 3, n2 = 1. */
    CU_ASSERT_EQUAL(m->nk[0][0], 3);
    CU_ASSERT_EQUAL(m->nk[0][1], 1);
    lm_ngram_free(m);

    lm_vocab *v;
    lm_ngram_opts o;
    lm_ngram_opts_init(&o);
    int32_t ids[3] = {3, 1, 9};
    const int32_t *s[1] = {ids};
    size_t len[1] = {3};
    lm_error err;
    lm_vocab_create(&v, NULL);
    lm_vocab_add(v, "w", 1, 1);
    CU_ASSERT_EQUAL(lm_ngram_train(&o, v, s, len, 1, &m, &err), LM_EINVAL); /* id 9 */
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "outside"));
    ids[2] = 3;
    lm_vocab_create(&v, NULL);
    lm_vocab_add(v, "w", 1, 1);
    o.order = 8;
    CU_ASSERT_EQUAL(lm_ngram_train(&o, v, s, len, 1, &m, &err), LM_EINVAL);
    lm_vocab_create(&v, NULL);
    lm_vocab_add(v, "w", 1, 1);
    o.order = 3;
    o.prune_singletons = 1;
    CU_ASSERT_EQUAL(lm_ngram_train(&o, v, s, len, 1, &m, &err), LM_EINVAL);
    lm_vocab_create(&v, NULL);
    lm_vocab_add(v, "w", 1, 1);
    o.prune_singletons = 0;
    len[0] = 0;
    CU_ASSERT_EQUAL(lm_ngram_train(&o, v, s, len, 1, &m, &err), LM_EINVAL);
    /* Evaluation needs two tokens and ids inside the vocabulary. */
    len[0] = 3;
    lm_vocab_create(&v, NULL);
    lm_vocab_add(v, "w", 1, 1);
    CU_ASSERT_EQUAL_FATAL(lm_ngram_train(&o, v, s, len, 1, &m, &err), 0);
    lm_eval_result r;
    CU_ASSERT_EQUAL(lm_ngram_eval(m, ids, 1, &r, &err), LM_EINVAL);
    int32_t bad[2] = {3, 4};
    CU_ASSERT_EQUAL(lm_ngram_eval(m, bad, 2, &r, &err), LM_EMISMATCH);
    lm_ngram_free(m);
}

static int same_model(const lm_ngram *a, const lm_ngram *b)
{
    if (a->V != b->V || a->tokens != b->tokens || memcmp(&a->opts, &b->opts, sizeof a->opts) ||
        !lm_vocab_equal(a->vocab, b->vocab) || memcmp(a->D, b->D, sizeof a->D) ||
        memcmp(a->nk, b->nk, sizeof a->nk))
        return 0;
    for (size_t k = 0; k < a->opts.order; k++) {
        const lm_ngram_level *x = &a->lv[k], *y = &b->lv[k];
        if (x->n != y->n || memcmp(x->logprob, y->logprob, x->n * sizeof *x->logprob))
            return 0;
        if (k && (memcmp(x->word, y->word, x->n * 4) || memcmp(x->parent, y->parent, x->n * 4)))
            return 0;
        if (x->backoff && memcmp(x->backoff, y->backoff, x->n * 4))
            return 0;
        if (x->child && memcmp(x->child, y->child, (x->n + 1) * 4))
            return 0;
    }
    return 1;
}

static void test_save_load(void)
{
    const char *path = th_srcpath("data/dialogues.txt");
    lm_ngram *m = train_files(&path, 1, LM_TOKENIZE_WORDS, 4, 3);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    lm_error err = {0};
    CU_ASSERT_EQUAL_FATAL(lm_ngram_save(m, tmp("m.h5"), &err), 0);
    char arch[32];
    CU_ASSERT_EQUAL(lm_h5_file_arch(tmp("m.h5"), arch, sizeof arch, &err), 0);
    CU_ASSERT_STRING_EQUAL(arch, "ngram");
    lm_ngram *l = NULL;
    CU_ASSERT_EQUAL_FATAL(lm_ngram_load(tmp("m.h5"), &l, &err), 0);
    CU_ASSERT(same_model(m, l));
    CU_ASSERT_EQUAL(lm_ngram_options(l)->prune_singletons, 3);

    /* Damaged files: one line naming the file, LM_EFORMAT, no crash. */
    FILE *f = fopen(tmp("m.h5"), "rb");
    FILE *g = fopen(tmp("trunc.h5"), "wb");
    char buf[4096];
    for (int i = 0; i < 3; i++) {
        size_t r = fread(buf, 1, sizeof buf, f);
        fwrite(buf, 1, r, g);
    }
    fclose(f);
    fclose(g);
    lm_ngram *d = NULL;
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("trunc.h5"), &d, &err), LM_EFORMAT);
    CU_ASSERT(strchr(err.msg, '\n') == NULL && strstr(err.msg, "trunc.h5"));
    CU_ASSERT_NOT_EQUAL(lm_ngram_load(tmp("nope.h5"), &d, &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_load(write_text("text.h5", "not a model\n"), &d, &err), LM_EFORMAT);

    /* Unsorted table: swap two bigrams of one context. */
    lm_ngram_level *b = &l->lv[1];
    size_t i = 0;
    while (i + 1 < b->n && b->parent[i] != b->parent[i + 1])
        i++;
    CU_ASSERT_FATAL(i + 1 < b->n);
    int32_t w = b->word[i];
    b->word[i] = b->word[i + 1];
    b->word[i + 1] = w;
    CU_ASSERT_EQUAL(lm_ngram_save(l, tmp("unsorted.h5"), &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("unsorted.h5"), &d, &err), LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not sorted"));
    b->word[i + 1] = b->word[i];
    b->word[i] = w;
    /* A parent outside the table below. */
    uint32_t p = l->lv[2].parent[l->lv[2].n - 1];
    l->lv[2].parent[l->lv[2].n - 1] = (uint32_t)l->lv[1].n;
    CU_ASSERT_EQUAL(lm_ngram_save(l, tmp("parent.h5"), &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("parent.h5"), &d, &err), LM_EFORMAT);
    l->lv[2].parent[l->lv[2].n - 1] = p;
    /* A probability above 1, a NaN back-off weight. */
    float lp = l->lv[3].logprob[0];
    l->lv[3].logprob[0] = 0.5f;
    CU_ASSERT_EQUAL(lm_ngram_save(l, tmp("prob.h5"), &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("prob.h5"), &d, &err), LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/ngram/4/logprob"));
    l->lv[3].logprob[0] = lp;
    float bo = l->lv[1].backoff[0];
    l->lv[1].backoff[0] = NAN;
    CU_ASSERT_EQUAL(lm_ngram_save(l, tmp("nan.h5"), &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("nan.h5"), &d, &err), LM_EFORMAT);
    l->lv[1].backoff[0] = bo;
    /* Unigrams that do not sum to 1. */
    l->lv[0].logprob[3] += 0.3f;
    CU_ASSERT_EQUAL(lm_ngram_save(l, tmp("sum.h5"), &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("sum.h5"), &d, &err), LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "sum"));
    lm_ngram_free(l);

    /* A file whose dataset shape disagrees with its count, and a neural-model arch. */
    lm_h5 *h;
    CU_ASSERT_EQUAL_FATAL(lm_h5_create(tmp("shape.h5"), &h, &err), 0);
    lm_h5_attr_set_str(h, "/", "format", "lstmlm", NULL);
    lm_h5_attr_set_u64(h, "/", "format_version", 1, NULL);
    lm_h5_attr_set_str(h, "/", "arch", "ngram", NULL);
    lm_h5_attr_set_u64(h, "/config", "order", 2, NULL);
    lm_h5_attr_set_u64(h, "/config", "vocab_size", 3, NULL);
    lm_h5_attr_set_u64(h, "/config", "lowercase", 0, NULL);
    lm_h5_attr_set_u64(h, "/config", "prune", 0, NULL);
    lm_h5_attr_set_u64(h, "/config", "tokens", 5, NULL);
    lm_h5_attr_set_str(h, "/config", "tokenize", "words", NULL);
    const char *toks[3] = {"<unk>", "<eot>", "<eoc>"};
    uint64_t counts[3] = {0, 5, 0};
    size_t d3[1] = {3}, d2[1] = {2};
    lm_h5_write_strings(h, "/vocab/tokens", toks, 3, NULL);
    lm_h5_write(h, "/vocab/counts", LM_H5_U64, counts, 1, d3, NULL);
    float lp3[3] = {-1.0f, -0.1f, -1.0f}, bo3[3] = {0, -0.3f, 0};
    lm_h5_write(h, "/ngram/1/logprob", LM_H5_F32, lp3, 1, d3, NULL);
    lm_h5_write(h, "/ngram/1/backoff", LM_H5_F32, bo3, 1, d3, NULL);
    int32_t wd[2] = {1, 0}, pa[2] = {1, 1};
    float lp2[3] = {-0.2f, -1.5f, -1.0f};
    lm_h5_write(h, "/ngram/2/word", LM_H5_I32, wd, 1, d2, NULL);
    lm_h5_write(h, "/ngram/2/parent", LM_H5_I32, pa, 1, d2, NULL);
    lm_h5_write(h, "/ngram/2/logprob", LM_H5_F32, lp2, 1, d3 /* 3, not 2 */, NULL);
    for (int k = 1; k <= 2; k++) {
        char grp[16];
        snprintf(grp, sizeof grp, "/ngram/%d", k);
        lm_h5_attr_set_u64(h, grp, "count", k == 1 ? 3 : 2, NULL);
        lm_h5_attr_set_u64(h, grp, "fallback", 1, NULL);
        lm_h5_attr_set_f64(h, grp, "D1", 0.5, NULL);
        lm_h5_attr_set_f64(h, grp, "D2", 1.0, NULL);
        lm_h5_attr_set_f64(h, grp, "D3", 1.5, NULL);
        const char *nn[4] = {"n1", "n2", "n3", "n4"};
        for (int j = 0; j < 4; j++)
            lm_h5_attr_set_u64(h, grp, nn[j], 0, NULL);
    }
    CU_ASSERT_EQUAL_FATAL(lm_h5_commit(h, &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("shape.h5"), &d, &err), LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "shape"));
    lm_ngram_free(m);
}

/* Parses an ARPA file the simple way: header counts equal section sizes, every line has a
 * log-probability and n words, and every n-gram that is the prefix of a listed (n+1)-gram has
 * a back-off weight. Returns 1 when well-formed. */
static int arpa_well_formed(const char *path, size_t order, const size_t *expect)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char line[4096];
    size_t header[LM_NGRAM_MAX_ORDER + 1] = {0}, seen[LM_NGRAM_MAX_ORDER + 1] = {0}, nh = 0;
    size_t sec = 0, ok = 1;
    /* n-gram strings with a back-off weight, per order; prefixes of the next order. */
    char **bo[LM_NGRAM_MAX_ORDER + 1] = {0}, **pre[LM_NGRAM_MAX_ORDER + 1] = {0};
    size_t nbo[LM_NGRAM_MAX_ORDER + 1] = {0}, npre[LM_NGRAM_MAX_ORDER + 1] = {0};
    int data = 0, end = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        if (!data) {
            data = !strcmp(line, "\\data\\");
            continue;
        }
        size_t n, c;
        if (sscanf(line, "ngram %zu=%zu", &n, &c) == 2) {
            ok &= n == ++nh && n <= order;
            header[n] = c;
            continue;
        }
        if (sscanf(line, "\\%zu-grams:", &n) == 1) {
            sec = n;
            continue;
        }
        if (!strcmp(line, "\\end\\")) {
            end = 1;
            break;
        }
        if (!line[0] || !sec)
            continue;
        seen[sec]++;
        char *tab1 = strchr(line, '\t');
        ok &= tab1 != NULL;
        if (!tab1)
            continue;
        char *words = tab1 + 1, *tab2 = strchr(words, '\t');
        if (tab2)
            *tab2 = 0;
        size_t nw = 1;
        for (char *s = words; *s; s++)
            nw += *s == ' ';
        ok &= nw == sec;
        if (tab2) {
            bo[sec] = realloc(bo[sec], (nbo[sec] + 1) * sizeof *bo[sec]);
            bo[sec][nbo[sec]++] = strdup(words);
        }
        if (sec >= 2) {
            char *last = strrchr(words, ' ');
            *last = 0;
            pre[sec - 1] = realloc(pre[sec - 1], (npre[sec - 1] + 1) * sizeof *pre[sec - 1]);
            pre[sec - 1][npre[sec - 1]++] = strdup(words);
        }
    }
    fclose(f);
    ok &= data && end && nh == order;
    for (size_t n = 1; n <= order; n++) {
        if (header[n] != seen[n] || header[n] != expect[n - 1]) {
            printf("\n  %zu-grams: header %zu, section %zu, model %zu\n", n, header[n], seen[n],
                   expect[n - 1]);
            ok = 0;
        }
        /* Each prefix has a back-off weight (both lists are short in these tests). */
        for (size_t i = 0; i < npre[n]; i++) {
            int found = 0;
            for (size_t j = 0; j < nbo[n] && !found; j++)
                found = !strcmp(pre[n][i], bo[n][j]);
            if (!found) {
                printf("\n  context '%s' has no back-off weight\n", pre[n][i]);
                ok = 0;
                break;
            }
        }
        for (size_t i = 0; i < npre[n]; i++)
            free(pre[n][i]);
        for (size_t i = 0; i < nbo[n]; i++)
            free(bo[n][i]);
        free(pre[n]);
        free(bo[n]);
    }
    return (int)ok;
}

/* The words of entry e of level k, first to last. */
static void entry_words(const lm_ngram *m, size_t k, uint32_t e, int32_t *w)
{
    for (size_t j = k + 1; j-- > 0;) {
        w[j] = j ? m->lv[j].word[e] : (int32_t)e;
        if (j)
            e = m->lv[j].parent[e];
    }
}

/* Sentence models: the hand corpus with a virtual <eot> before it,
 *     E b a c a E d a b E c E d E
 * has the 12 bigram types of the stream plus "E b", and only the trigrams without E inside:
 * Eba bac aca caE Eda dab abE EcE EdE. Bigrams that start with E keep their raw counts
 * (Eb 1, Ed 2, Ec 1), so p(d | E) = (2 - D2) / 4 + gamma(E) p(d) with
 * gamma(E) = (2 D1 + D2) / 4. The history is cut at its last <eot>. */
static void test_sentences(void)
{
    const char *p = write_text("hand.txt", hand);
    lm_ngram *m = train_files_s(&p, 1, LM_TOKENIZE_WHITESPACE, 3, 0, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(m->opts.sentences);
    CU_ASSERT_EQUAL(m->tokens, 13);
    CU_ASSERT_EQUAL(m->lv[1].n, 12);
    CU_ASSERT_EQUAL(m->lv[2].n, 9);
    int inside = 0;
    for (uint32_t e = 0; e < m->lv[2].n; e++) {
        int32_t w[3];
        entry_words(m, 2, e, w);
        inside |= w[1] == LM_TOK_EOT;
    }
    CU_ASSERT(!inside);
    int32_t E = LM_TOK_EOT, d = id_of(m, "d");
    CU_ASSERT(lm_ngram_find(m, (int32_t[]){E, id_of(m, "b")}, 2) != LM_NGRAM_NONE);
    const double *D = m->D[1];
    double pd = exp(lm_ngram_logprob(m, NULL, 0, d));
    double want = (2 - D[1]) / 4 + (2 * D[0] + D[1]) / 4 * pd;
    LM_ASSERT_CLOSE(exp(lm_ngram_logprob(m, &E, 1, d)), want, 0, HAND_RTOL);
    /* What precedes the last <eot> does not matter. */
    int32_t h1[4] = {id_of(m, "a"), id_of(m, "c"), E, d}, h2[2] = {E, d};
    for (int32_t w = 0; (size_t)w < m->V; w++) {
        CU_ASSERT_EQUAL(lm_ngram_logprob(m, h1, 4, w), lm_ngram_logprob(m, h2, 2, w));
        CU_ASSERT_EQUAL(lm_ngram_logprob(m, h1, 3, w), lm_ngram_logprob(m, &E, 1, w));
    }
    /* Every distribution sums to 1, for all histories. */
    lm_rng rng;
    lm_rng_seed(&rng, 3);
    CU_ASSERT(check_sums(m, 1000, &rng) <= SUM_TOL);
    /* Evaluation predicts every token, the first after a virtual <eot>. */
    int32_t ids[13];
    size_t n = 0;
    lm_text_opts t = {LM_TOKENIZE_WHITESPACE, 0};
    int32_t *rd;
    CU_ASSERT_EQUAL_FATAL(lm_corpus_read(p, &t, m->vocab, &rd, &n, NULL, NULL), 0);
    CU_ASSERT_EQUAL_FATAL(n, 13);
    memcpy(ids, rd, sizeof ids);
    free(rd);
    lm_eval_result r;
    CU_ASSERT_EQUAL(lm_ngram_eval(m, ids, n, &r, NULL), 0);
    CU_ASSERT_EQUAL(r.tokens, 13);
    double nll = -lm_ngram_logprob(m, &E, 1, ids[0]);
    for (size_t i = 1; i < n; i++) {
        int32_t h[3] = {E, ids[0], 0};
        size_t hl = i < 2 ? i + 1 : 2;
        const int32_t *hp = i < 2 ? h : ids + i - 2;
        nll -= lm_ngram_logprob(m, hp, hl, ids[i]);
    }
    LM_ASSERT_CLOSE(r.nll, nll, 0, 1e-12);
    lm_ngram_free(m);
    /* Save/load keeps the kind; a real corpus sums to 1 too. */
    const char *path = th_srcpath("data/dialogues.txt");
    m = train_files_s(&path, 1, LM_TOKENIZE_WORDS, 4, 2, 1);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(check_sums(m, 40, &rng) <= SUM_TOL);
    CU_ASSERT_EQUAL_FATAL(lm_ngram_save(m, tmp("s.h5"), NULL), 0);
    lm_ngram *b;
    CU_ASSERT_EQUAL_FATAL(lm_ngram_load(tmp("s.h5"), &b, NULL), 0);
    CU_ASSERT(b->opts.sentences && !b->imported);
    lm_ngram_free(b);
    lm_ngram_free(m);
}

/* Export then read back: the same vocabulary, tables and settings, and log-probabilities
 * equal bit for bit, for stream and sentence models. */
static void check_round_trip(lm_ngram *m, const int32_t *ids, size_t n)
{
    lm_error err = {0};
    size_t N = m->opts.order;
    CU_ASSERT_EQUAL_FATAL(lm_ngram_write_arpa(m, tmp("m.arpa"), &err), 0);
    size_t expect[LM_NGRAM_MAX_ORDER];
    for (size_t k = 0; k < N; k++)
        expect[k] = m->lv[k].n + (k == 0); /* the unigram <s> */
    CU_ASSERT(arpa_well_formed(tmp("m.arpa"), N, expect));
    lm_ngram *a = NULL;
    if (lm_ngram_read_arpa(tmp("m.arpa"), &a, &err))
        printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(a);
    CU_ASSERT(lm_vocab_equal(a->vocab, m->vocab));
    CU_ASSERT_EQUAL(a->opts.order, N);
    CU_ASSERT_EQUAL(a->opts.sentences, m->opts.sentences);
    CU_ASSERT_EQUAL(a->opts.tokenize, m->opts.tokenize);
    CU_ASSERT_EQUAL(a->opts.lowercase, m->opts.lowercase);
    CU_ASSERT(a->imported);
    int same = 1;
    for (size_t k = 0; k < N; k++) {
        same &= a->lv[k].n == m->lv[k].n;
        if (!same)
            break;
        for (size_t e = 0; e < m->lv[k].n; e++) {
            same &= a->lv[k].logprob[e] == m->lv[k].logprob[e];
            if (k)
                same &= a->lv[k].word[e] == m->lv[k].word[e] &&
                        a->lv[k].parent[e] == m->lv[k].parent[e];
            /* Weights matter where the entry is a context. */
            if (k + 1 < N && m->lv[k].child[e] < m->lv[k].child[e + 1])
                same &= a->lv[k].backoff[e] == m->lv[k].backoff[e];
        }
    }
    CU_ASSERT(same);
    lm_eval_result r1, r2;
    CU_ASSERT_EQUAL(lm_ngram_eval(m, ids, n, &r1, &err), 0);
    CU_ASSERT_EQUAL(lm_ngram_eval(a, ids, n, &r2, &err), 0);
    CU_ASSERT_EQUAL(r1.tokens, r2.tokens);
    CU_ASSERT(r1.nll == r2.nll && r1.nll_no_oov == r2.nll_no_oov);
    /* Token by token for random histories, unseen ones included. */
    lm_rng rng;
    lm_rng_seed(&rng, 9);
    int agree = 1;
    for (int i = 0; i < 3000; i++) {
        int32_t h[6];
        for (int j = 0; j < 6; j++)
            h[j] = i % 2 ? ids[(i * 7 + j) % n] : (int32_t)(lm_rng_next(&rng) % m->V);
        if (i % 5 == 0)
            h[i % 6] = LM_TOK_EOT;
        size_t len = (size_t)i % 7;
        int32_t w = (int32_t)(lm_rng_next(&rng) % m->V);
        if (i % 3 == 0)
            w = ids[(i * 7 + 6) % n];
        agree &= lm_ngram_logprob(m, h + 6 - len, len, w) == lm_ngram_logprob(a, h + 6 - len,
                                                                               len, w);
    }
    CU_ASSERT(agree);
    /* Saved and loaded, the imported model is the same again and says it was imported. */
    CU_ASSERT_EQUAL_FATAL(lm_ngram_save(a, tmp("imp.h5"), &err), 0);
    lm_ngram *b = NULL;
    CU_ASSERT_EQUAL_FATAL(lm_ngram_load(tmp("imp.h5"), &b, &err), 0);
    lm_ngram_info in;
    lm_ngram_get_info(b, &in);
    CU_ASSERT(in.imported && in.tokens == 0 && in.discount[0][0] == 0);
    CU_ASSERT_EQUAL(b->opts.sentences, m->opts.sentences);
    lm_eval_result r3;
    CU_ASSERT_EQUAL(lm_ngram_eval(b, ids, n, &r3, &err), 0);
    CU_ASSERT(r3.nll == r1.nll);
    lm_ngram_free(b);
    lm_ngram_free(a);
}

static void test_arpa(void)
{
    const char *path = th_srcpath("data/dialogues.txt");
    for (int sent = 0; sent < 2; sent++)
        for (size_t prune = 0; prune <= 2; prune += 2) {
            lm_ngram *m = train_files_s(&path, 1, LM_TOKENIZE_WORDS, 3 + sent, prune, sent);
            CU_ASSERT_PTR_NOT_NULL_FATAL(m);
            int32_t *ids;
            size_t n;
            lm_text_opts t = {LM_TOKENIZE_WORDS, 0};
            CU_ASSERT_EQUAL_FATAL(lm_corpus_read(path, &t, m->vocab, &ids, &n, NULL, NULL), 0);
            check_round_trip(m, ids, n);
            free(ids);
            lm_ngram_free(m);
        }
    /* The hand corpus: a few exact lines. p(a) = 17/105 -> log10 = -0.7907...; "a" is a
     * context with gamma 0.5 -> back-off log10 0.5 = -0.30103. <eot> is </s> and <s>. */
    lm_ngram *m = train_text(hand, 2, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT_EQUAL_FATAL(lm_ngram_write_arpa(m, tmp("hand.arpa"), NULL), 0);
    size_t expect[2] = {8, 11};
    CU_ASSERT(arpa_well_formed(tmp("hand.arpa"), 2, expect));
    char *txt = NULL;
    size_t len = 0;
    CU_ASSERT_EQUAL_FATAL(read_all(tmp("hand.arpa"), &txt, &len), 0);
    CU_ASSERT_PTR_NOT_NULL(strstr(txt, "\n-0.790740371\ta\t-0.30103001\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(txt, "\n-99\t<s>\t"));
    CU_ASSERT_PTR_NOT_NULL(strstr(txt, "\t<s> d\n"));
    CU_ASSERT_PTR_NOT_NULL(strstr(txt, "\ta </s>\n"));
    CU_ASSERT_PTR_NULL(strstr(strstr(txt, "\\data\\"), "<eot>"));
    free(txt);
    lm_ngram *a;
    CU_ASSERT_EQUAL_FATAL(lm_ngram_read_arpa(tmp("hand.arpa"), &a, NULL), 0);
    int32_t ha = id_of(m, "a");
    LM_ASSERT_CLOSE(lm_ngram_logprob(a, NULL, 0, ha), log(17.0 / 105), 0, HAND_RTOL);
    LM_ASSERT_CLOSE(lm_ngram_logprob(a, &ha, 1, ha), log(17.0 / 210), 0, HAND_RTOL);
    lm_ngram_free(a);
    lm_ngram_free(m);
}

/* A file as other toolkits write it: <s> at -99 (or not: IRSTLM), "<s> <s>" n-grams, no
 * comment, padded counts, no <eoc>. */
static void test_arpa_foreign(void)
{
    const char *f = write_text("foreign.arpa",
                               "Some preamble text\n\n\\data\\\nngram  1=  5\nngram 2=4\n"
                               "ngram 3=2\n\n\n\\1-grams:\n-0.5\t</s>\n-99\t<s>\t-0.25\n"
                               "-1\t<unk>\n-0.75 x -0.125\n-0.875\ty\t0.5\n\n\\2-grams:\n"
                               "-0.3\t<s> x\t-0.2\n-0.4\tx y\n-0.6\t<s> <s>\t-0.1\n"
                               "-0.7\ty </s>\n\n\\3-grams:\n-0.05\t<s> x y\n"
                               "-0.02\t<s> <s> x\n\n\\end\\\ntrailing text\n");
    lm_ngram *m = NULL;
    lm_error err = {0};
    if (lm_ngram_read_arpa(f, &m, &err))
        printf("\n  %s\n", err.msg);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    CU_ASSERT(m->imported && m->opts.sentences && m->opts.order == 3);
    CU_ASSERT_EQUAL(m->opts.tokenize, LM_TOKENIZE_WHITESPACE);
    CU_ASSERT_EQUAL(m->V, 5); /* <unk> <eot> <eoc> x y */
    int32_t E = LM_TOK_EOT, x = id_of(m, "x"), y = id_of(m, "y");
    CU_ASSERT(x == 3 && y == 4);
    CU_ASSERT_EQUAL(m->lv[1].n, 3); /* "<s> <s>" dropped */
    CU_ASSERT_EQUAL(m->lv[2].n, 1);
    const double L = log(10.0);
    LM_ASSERT_CLOSE(lm_ngram_logprob(m, NULL, 0, E), -0.5 * L, 0, 1e-6);
    LM_ASSERT_CLOSE(lm_ngram_logprob(m, NULL, 0, LM_TOK_EOC), -99 * L, 0, 1e-6);
    LM_ASSERT_CLOSE(lm_ngram_logprob(m, &E, 1, x), -0.3 * L, 0, 1e-6);
    /* p(y | <s>) backs off with <s>'s weight; p(y | <s> x) is listed; p(</s> | x y) backs off
     * through "x y" (no weight: 0) to "y </s>". A positive weight is kept. */
    LM_ASSERT_CLOSE(lm_ngram_logprob(m, &E, 1, y), (-0.25 - 0.875) * L, 0, 1e-6);
    int32_t h[3] = {y, E, x};
    LM_ASSERT_CLOSE(lm_ngram_logprob(m, h, 3, y), -0.05 * L, 0, 1e-6);
    int32_t h2[2] = {x, y};
    LM_ASSERT_CLOSE(lm_ngram_logprob(m, h2, 2, E), -0.7 * L, 0, 1e-6);
    LM_ASSERT_CLOSE(lm_ngram_logprob(m, &y, 1, x), (0.5 - 0.75) * L, 0, 1e-6);
    /* Evaluation: every token, the first after <s>. */
    int32_t ids[3] = {x, y, E};
    lm_eval_result r;
    CU_ASSERT_EQUAL(lm_ngram_eval(m, ids, 3, &r, NULL), 0);
    CU_ASSERT_EQUAL(r.tokens, 3);
    LM_ASSERT_CLOSE(r.nll, (0.3 + 0.05 + 0.7) * L, 0, 1e-6);
    CU_ASSERT_EQUAL(lm_ngram_save(m, tmp("foreign.h5"), NULL), 0);
    lm_ngram_free(m);
    CU_ASSERT_EQUAL(lm_ngram_load(tmp("foreign.h5"), &m, &err), 0);
    lm_ngram_free(m);
    /* gzip is read too. */
    char cmd[2200];
    snprintf(cmd, sizeof cmd, "gzip -c '%s' > '%s.gz'", f, f);
    if (system(cmd) == 0) {
        snprintf(cmd, sizeof cmd, "%s.gz", f);
        CU_ASSERT_EQUAL(lm_ngram_read_arpa(cmd, &m, NULL), 0);
        lm_ngram_free(m);
    }
}

/* Damaged or hostile files: LM_EFORMAT with the file and the line, never a crash. */
static void test_arpa_malformed(void)
{
    static const struct {
        const char *text, *want;
    } cases[] = {
        {"\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<unk>\n\\end\\\n", ":6: the header announces"},
        {"\\data\\\nngram 1=1\nngram 2=1\n\n\\1-grams:\n-1\t<unk>\n\n\\2-grams:\n-1\t<unk> x\n"
         "\\end\\\n", ":9: word 'x' has no unigram"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\n-1\t<unk>\n", ":5: truncated"},
        {"hello\n", "no \\data\\"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\nnan\t<unk>\n\\end\\\n", ":5: no log-probability"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\n-inf\t<unk>\n\\end\\\n", ":5: no log-probability"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\n0.5\t<unk>\n\\end\\\n", ":5: log-probability 0.5"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\n-1\t<unk>\tinf\n\\end\\\n", ":5: the back-off"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\n-1\t<unk>\t-1 x\n\\end\\\n", ":5: extra text"},
        {"\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<unk>\n-1\t<unk>\n\\end\\\n",
         ":6: unigram '<unk>' listed twice (line 5)"},
        {"\\data\\\nngram 1=2\nngram 2=2\n\n\\1-grams:\n-1\ta\n-1\tb\n\n\\2-grams:\n-1\ta b\n"
         "-1\ta b\n\\end\\\n", ":11: the same 2-gram as line 10"},
        {"\\data\\\nngram 1=2\nngram 2=1\nngram 3=1\n\n\\1-grams:\n-1\ta\n-1\tb\n\n\\2-grams:\n"
         "-1\ta b\n\n\\3-grams:\n-1\tb a b\n\\end\\\n", ":14: the 3-gram's prefix"},
        {"\\data\\\nngram 1=2\nngram 2=1\nngram 3=1\n\n\\1-grams:\n-1\ta\n-1\tb\n\n\\2-grams:\n"
         "-1\ta b\n\n\\3-grams:\n-1\ta b b\n\\end\\\n", ":14: the 3-gram's suffix"},
        {"\\data\\\nngram 1=2\nngram 2=2\nngram 3=1\n\n\\1-grams:\n-1\ta\n-1\tb\n\n\\2-grams:\n"
         "-1\ta b\n-1\tb a\n\n\\3-grams:\n-1\tb b a\n\\end\\\n", ":15: the 3-gram's prefix"},
        {"\\data\\\nngram 1=99999999999\n", ":2: impossible count"},
        {"\\data\\\nngram 1=0\n", ":2: impossible count"},
        {"\\data\\\nngram 1=1\nngram 3=1\n", ":3: 'ngram 3=' out of sequence"},
        {"\\data\\\nngram 1=1\nngram 2=0\nngram 3=0\nngram 4=0\nngram 5=0\nngram 6=0\n"
         "ngram 7=0\nngram 8=0\n", ":9: order 8 is above"},
        {"\\data\\\nngram 1=1\nbogus\n", ":3: expected 'ngram N=COUNT'"},
        {"\\data\\\nngram 1=1\n\n\\2-grams:\n", ":4: unexpected section"},
        {"\\data\\\nngram 1=1\nngram 2=1\n\n\\1-grams:\n-1\ta\n\n\\2-grams:\n-1\ta\n\\end\\\n",
         ":9: a 2-gram needs 2 words"},
        {"\\data\\\nngram 1=2\n\n\\1-grams:\n-1\t<eot>\n-1\t</s>\n\\end\\\n",
         ":5: the unigram <eot> and the sentence markers"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\n-1\ta\n\\end", ":6: unexpected section"},
        {"\\data\\\nngram 1=1\n\n\\1-grams:\n-1\ta\n-1\tb\n\\end\\\n", ":6: more 1-grams"},
        {"iARPA\n\n\\data\\\nngram 1=1\n\n\\1-grams:\n-1\ta\n\\end\\\n",
         ":1: IRSTLM's intermediate"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "bad%zu.arpa", i);
        const char *f = write_text(name, cases[i].text);
        lm_ngram *m = NULL;
        lm_error err = {0};
        int rc = lm_ngram_read_arpa(f, &m, &err);
        int ok = rc == LM_EFORMAT && !m && strstr(err.msg, name) && strstr(err.msg, cases[i].want);
        if (!ok)
            printf("\n  case %zu: rc %d, '%s' (want '%s')\n", i, rc, err.msg, cases[i].want);
        CU_ASSERT(ok);
        lm_ngram_free(m);
    }
    /* A binary file; a missing one. */
    const char bin[] = "\\data\\\n\0\0\0";
    FILE *fb = fopen(tmp("bin.arpa"), "wb");
    CU_ASSERT_PTR_NOT_NULL_FATAL(fb);
    fwrite(bin, 1, sizeof bin, fb);
    fclose(fb);
    lm_ngram *m = NULL;
    CU_ASSERT_EQUAL(lm_ngram_read_arpa(tmp("bin.arpa"), &m, NULL), LM_EFORMAT);
    CU_ASSERT_EQUAL(lm_ngram_read_arpa(tmp("none.arpa"), &m, NULL), LM_EIO);
    CU_ASSERT_PTR_NULL(m);
}

/* Beam search of width 1 is greedy decoding (<unk> masked, <eot> not first), and its score is
 * the summed log-probability over the length (alpha 1, the <eot> counted). */
/* Beam search through the generic engine on an n-gram model: the state after hist[0..n). */
static int ng_beam(lm_ngram *g, const int32_t *hist, size_t n, const lm_beam_opts *o,
                   int32_t **out, size_t *n_out, int *ended, double *score, lm_error *err)
{
    lm_model *m = th_ngram_model(g);
    lm_state *s = NULL;
    size_t V = lm_vocab_size(lm_model_vocab(m));
    float *lp = malloc(V * sizeof *lp);
    int rc = lm_state_create(m, &s, err);
    for (size_t i = 0; !rc && i < n; i++)
        rc = lm_step(m, s, hist[i], lp, err);
    if (!rc)
        rc = lm_beam_search(m, s, lp, o, out, n_out, ended, score, NULL, err);
    lm_state_free(s);
    free(lp);
    return rc;
}

static void test_beam(void)
{
    const char *path = th_srcpath("data/dialogues.txt");
    lm_ngram *m = train_files(&path, 1, LM_TOKENIZE_WORDS, 3, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    int32_t hist[64] = {LM_TOK_EOT, id_of(m, "How"), id_of(m, "are")};
    size_t nh = 3, start = nh;
    double *p = malloc(m->V * sizeof *p), sum = 0;
    for (;;) {
        lm_ngram_dist(m, hist, nh, p);
        p[LM_TOK_UNK] = 0;
        if (nh == start)
            p[LM_TOK_EOT] = p[LM_TOK_EOC] = 0;
        size_t best = 0;
        for (size_t w = 1; w < m->V; w++)
            if (p[w] > p[best])
                best = w;
        sum += (float)log(p[best]);
        hist[nh++] = (int32_t)best;
        if (best == LM_TOK_EOT || best == LM_TOK_EOC || nh == 40)
            break;
    }
    lm_beam_opts bo;
    lm_beam_opts_init(&bo);
    bo.beam = 1;
    bo.max_tokens = 37;
    int32_t *out = NULL;
    size_t n_out = 0;
    int ended = 0;
    double score = 0;
    CU_ASSERT_EQUAL_FATAL(ng_beam(m, hist, start, &bo, &out, &n_out, &ended, &score,
                                               NULL), 0);
    CU_ASSERT(ended);
    CU_ASSERT_EQUAL(n_out + 1, nh - start);
    CU_ASSERT(n_out + 1 == nh - start && !memcmp(out, hist + start, n_out * sizeof *out));
    LM_ASSERT_CLOSE(score, sum / (double)(nh - start), 1e-9, 0);
    free(out);
    /* A wider beam finds a reply scoring at least as well here; banned words never appear. */
    bo.beam = 8;
    double score8;
    CU_ASSERT_EQUAL_FATAL(ng_beam(m, hist, start, &bo, &out, &n_out, &ended,
                                               &score8, NULL), 0);
    CU_ASSERT(score8 >= score - 1e-12);
    int32_t ban[1] = {out[0]};
    free(out);
    bo.banned = ban;
    bo.n_banned = 1;
    CU_ASSERT_EQUAL_FATAL(ng_beam(m, hist, start, &bo, &out, &n_out, &ended, NULL,
                                               NULL), 0);
    for (size_t i = 0; i < n_out; i++)
        CU_ASSERT(out[i] != ban[0]);
    free(out);
    bo.beam = 0;
    CU_ASSERT_EQUAL(ng_beam(m, hist, start, &bo, &out, &n_out, NULL, NULL, NULL),
                    LM_EINVAL);
    free(p);
    lm_ngram_free(m);
}

/* Mikolov et al. (2011) report a test perplexity of 141.2 for a KN 5-gram on this data (no
 * count cut-offs); we must land within 3%. */
static void test_ptb_5gram(void)
{
    const char *dir = th_shared("data/ptb");
    if (!dir) {
        printf("\n  skipped: no ../shared/data/ptb\n");
        return;
    }
    char train[4200], test[4200];
    snprintf(train, sizeof train, "%s/ptb.train.txt.gz", dir);
    snprintf(test, sizeof test, "%s/ptb.test.txt", dir);
    const char *p = train;
    lm_ngram *m = train_files(&p, 1, LM_TOKENIZE_WHITESPACE, 5, 0);
    CU_ASSERT_PTR_NOT_NULL_FATAL(m);
    lm_text_opts t = {LM_TOKENIZE_WHITESPACE, 0};
    int32_t *ids;
    size_t n;
    CU_ASSERT_EQUAL_FATAL(lm_corpus_read(test, &t, m->vocab, &ids, &n, NULL, NULL), 0);
    lm_eval_result r;
    CU_ASSERT_EQUAL(lm_ngram_eval(m, ids, n, &r, NULL), 0);
    printf("\n  PTB 5-gram test perplexity %.2f (Mikolov et al.: 141.2) ", r.ppl);
    CU_ASSERT(fabs(r.ppl - 141.2) <= 0.03 * 141.2);
    free(ids);
    lm_ngram_free(m);
}

int main(void)
{
    static const th_test tests[] = {
        {"discount formula", test_discount_formula},
        {"hand-counted bigram model", test_hand_bigram},
        {"hand-counted trigram model and pruning", test_hand_trigram_and_pruning},
        {"every distribution sums to 1", test_sums_to_one},
        {"several files; bad inputs", test_files_and_errors},
        {"save/load bit-exact; damaged files refused", test_save_load},
        {"sentence models", test_sentences},
        {"ARPA export read back bit-identical", test_arpa},
        {"foreign ARPA files", test_arpa_foreign},
        {"malformed ARPA files refused with the line", test_arpa_malformed},
        {"beam search", test_beam},
        {"PTB 5-gram near 141.2", test_ptb_5gram},
        {NULL, NULL},
    };
    return th_run("ngram", tests);
}
