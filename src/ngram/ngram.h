/* ngram.h - internals of the n-gram models: the sorted-array trie and the smoothing helpers.
 *
 * A model of order N keeps one level per order. Level k (0-based) holds the n-grams of order
 * n = k+1, sorted by (prefix index, last word): the prefix of an n-gram is its first n-1 words,
 * an entry of level k-1. So the extensions of each n-gram are one contiguous range of the next
 * level, found through `child`, and an n-gram is looked up word by word with one binary search
 * per word. Level 0 is the whole vocabulary (index = token id).
 *
 * Values are what the ARPA format holds: logprob is log10 p(word | prefix) with the lower orders
 * already interpolated in, backoff is log10 of the interpolation weight gamma of the n-gram when
 * it is a context (0 when it has no extensions). */
#ifndef LM_NGRAM_H
#define LM_NGRAM_H

#include "base/base.h"

#define LM_NGRAM_NONE UINT32_MAX

typedef struct lm_ngram_level {
    size_t n;         /* entries */
    int32_t *word;    /* (n) last word; NULL at level 0 (the index is the word) */
    uint32_t *parent; /* (n) index of the prefix in the level below; NULL at level 0 */
    uint32_t *child;  /* (n+1) extensions of entry i are child[i]..child[i+1]-1 of the level
                         above; NULL at the top level */
    float *logprob;   /* (n) log10 p */
    float *backoff;   /* (n) log10 gamma; NULL at the top level */
} lm_ngram_level;

struct lm_ngram {
    lm_ngram_opts opts;
    lm_vocab *vocab;
    size_t V;
    int imported;     /* read from an ARPA file: tokens, nk, D and fallback are zero */
    uint64_t tokens;
    lm_ngram_level lv[LM_NGRAM_MAX_ORDER];
    uint64_t nk[LM_NGRAM_MAX_ORDER][4];
    double D[LM_NGRAM_MAX_ORDER][3];
    int fallback[LM_NGRAM_MAX_ORDER];
};

/* Modified Kneser-Ney discounts from the count-of-counts nk = n1..n4 (Chen & Goodman 1998):
 * Y = n1/(n1+2 n2), D1 = 1-2Y n2/n1, D2 = 2-3Y n3/n2, D3+ = 3-4Y n4/n3. When a count-of-count is
 * zero or a discount falls outside (0, c) for its count c, D = 0.5, 1, 1.5 and the result is 1
 * (fallback); otherwise 0. */
int lm_ngram_discounts_from(const uint64_t nk[4], double D[3]);

/* Index of the extension of entry `parent` of level k-1 by word w in level k (k >= 1), or
 * LM_NGRAM_NONE. */
uint32_t lm_ngram_find_child(const lm_ngram *m, size_t k, uint32_t parent, int32_t w);
/* Index of the n-gram w[0..len) in level len-1, or LM_NGRAM_NONE. */
uint32_t lm_ngram_find(const lm_ngram *m, const int32_t *w, size_t len);

/* Allocates the arrays of level k for n entries (the child array of level k-1 is separate:
 * lm_ngram_link rebuilds it). LM_ENOMEM. */
int lm_ngram_level_alloc(lm_ngram *m, size_t k, size_t n);
/* Rebuilds the child ranges of every level from the parent indexes; LM_EFORMAT (no message)
 * when a level is not sorted by (parent, word) or an index is out of range. */
int lm_ngram_link(lm_ngram *m);
/* An empty model of the given options and vocabulary (taken over, also on failure). */
int lm_ngram_alloc(const lm_ngram_opts *o, lm_vocab *vocab, lm_ngram **out, lm_error *err);
/* The history that matters for a sentence model: hist[0..*nh) cut to its last <eot> and what
 * follows (unchanged when it holds no <eot> or the model is a stream model). */
const int32_t *lm_ngram_history(const lm_ngram *m, const int32_t *hist, size_t *nh);

#endif
