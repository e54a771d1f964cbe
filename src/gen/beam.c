/* beam.c - the beam search shared by neural models (lm_beam_search, sampler.c) and n-gram
 * models (lm_ngram_beam_search, ngram.c): the K best of the 2K best one-token extensions stay
 * live, up to K of them finish with <eot> or <eoc>, scored by log-probability / length^alpha;
 * when none finishes, the best hypothesis at the length limit is the answer. The model side
 * (states or histories) lives behind lm_beam_src. */
#include "gen/gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct hyp {
    int32_t *toks; /* (max_tokens) */
    size_t len;
    double sum; /* log-probability so far */
} hyp;

typedef struct cand {
    double sum;
    size_t parent;
    int32_t tok;
} cand;

static double norm_score(double sum, size_t len, double alpha)
{
    return alpha == 0 ? sum : sum / pow((double)len, alpha);
}

/* Candidate order: higher sum first, then lower parent, then lower token. */
static int cand_cmp(const cand *x, const cand *y)
{
    if (x->sum != y->sum)
        return x->sum > y->sum ? -1 : 1;
    if (x->parent != y->parent)
        return x->parent < y->parent ? -1 : 1;
    return (x->tok > y->tok) - (x->tok < y->tok);
}

/* Inserts a candidate into the sorted top list c[0..*n) of at most cap entries. */
static void top_insert(cand *c, size_t *n, size_t cap, cand x)
{
    if (*n == cap && cand_cmp(&x, &c[*n - 1]) >= 0)
        return;
    size_t i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && cand_cmp(&x, &c[i - 1]) < 0) {
        c[i] = c[i - 1];
        i--;
    }
    c[i] = x;
}

/* Masks banned tokens of a log-probability row for a hypothesis of `len` tokens. */
static void mask_row(const lm_beam_opts *o, float *lp, size_t V, size_t len)
{
    if (!o->allow_unk)
        lp[LM_TOK_UNK] = -INFINITY;
    for (size_t i = 0; i < o->n_banned; i++)
        if (o->banned[i] >= 0 && (size_t)o->banned[i] < V)
            lp[o->banned[i]] = -INFINITY;
    if (len < o->min_tokens) {
        lp[LM_TOK_EOT] = -INFINITY;
        lp[LM_TOK_EOC] = -INFINITY;
    }
}

int lm_beam_check_opts(const lm_beam_opts *o, lm_error *err)
{
    if (o->beam == 0 || o->max_tokens == 0)
        return lm_fail(err, LM_EINVAL, "beam width and length limit must be positive");
    if (o->n_banned && !o->banned)
        return lm_fail(err, LM_EINVAL, "banned list is NULL with %zu entries", o->n_banned);
    return LM_OK;
}

int lm_beam_run(const lm_beam_src *src, const lm_beam_opts *o, int32_t **out, size_t *n_out,
                int *ended, double *score, volatile int *stop, lm_error *err)
{
    int rc = lm_beam_check_opts(o, err);
    if (rc)
        return rc;
    size_t V = src->vocab, K = o->beam, L = o->max_tokens;
    hyp *cur = calloc(K, sizeof *cur), *nxt = calloc(K, sizeof *nxt);
    cand *top = malloc(2 * K * sizeof *top);
    int32_t *best = malloc(L * sizeof *best);
    size_t n_live = 1, n_fin = 0, best_len = 0;
    double best_score = -INFINITY;
    int best_ended = 0, have_best = 0;
    int ok = cur && nxt && top && best;
    for (size_t i = 0; ok && i < K; i++) {
        cur[i].toks = malloc(L * sizeof(int32_t));
        nxt[i].toks = malloc(L * sizeof(int32_t));
        ok = cur[i].toks && nxt[i].toks;
    }
    if (!ok) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    cur[0].len = 0;
    cur[0].sum = 0;
    while (n_live > 0) {
        if (stop && *stop) {
            rc = lm_fail(err, LM_EINTR, "interrupted");
            goto out;
        }
        /* The 2K best extensions overall: up to K of them finish, K stay live. */
        size_t n_top = 0;
        for (size_t i = 0; i < n_live; i++) {
            const hyp *h = &cur[i];
            float *row = NULL;
            if ((rc = src->row(src->ctx, i, h->toks, h->len, &row, err)))
                goto out;
            mask_row(o, row, V, h->len);
            for (size_t j = 0; j < V; j++)
                if (row[j] != -INFINITY)
                    top_insert(top, &n_top, 2 * K, (cand){h->sum + row[j], i, (int32_t)j});
        }
        if (n_top == 0)
            break;
        size_t n_next = 0;
        for (size_t r = 0; r < n_top && n_next < K; r++) {
            const cand *x = &top[r];
            const hyp *p = &cur[x->parent];
            size_t len = p->len + 1;
            if (x->tok == LM_TOK_EOT || x->tok == LM_TOK_EOC) {
                /* A finished hypothesis counts when it ranks among the K best. */
                if (r >= K)
                    continue;
                n_fin++;
                double sc = norm_score(x->sum, len, o->length_alpha);
                if (!best_ended || sc > best_score) {
                    best_ended = 1;
                    best_score = sc;
                    best_len = p->len;
                    memcpy(best, p->toks, p->len * sizeof *best);
                    have_best = 1;
                }
                continue;
            }
            if (len >= L) {
                /* At the length limit: only used when no hypothesis finishes. */
                double sc = norm_score(x->sum, len, o->length_alpha);
                if (!best_ended && (!have_best || sc > best_score)) {
                    best_score = sc;
                    memcpy(best, p->toks, p->len * sizeof *best);
                    best[p->len] = x->tok;
                    best_len = len;
                    have_best = 1;
                }
                continue;
            }
            hyp *h = &nxt[n_next];
            memcpy(h->toks, p->toks, p->len * sizeof *h->toks);
            h->toks[p->len] = x->tok;
            h->len = len;
            h->sum = x->sum;
            if (src->extend && (rc = src->extend(src->ctx, n_next, x->parent, x->tok, err)))
                goto out;
            n_next++;
        }
        hyp *t = cur;
        cur = nxt;
        nxt = t;
        if (src->advance)
            src->advance(src->ctx);
        n_live = n_next;
        if (n_fin >= K)
            break;
    }
    if (!have_best) {
        rc = lm_fail(err, LM_EINVAL, "every token is banned");
        goto out;
    }
    int32_t *res = malloc((best_len ? best_len : 1) * sizeof *res);
    if (!res) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    memcpy(res, best, best_len * sizeof *res);
    *out = res;
    *n_out = best_len;
    if (ended)
        *ended = best_ended;
    if (score)
        *score = best_score;
out:
    for (size_t i = 0; i < K; i++) {
        if (cur)
            free(cur[i].toks);
        if (nxt)
            free(nxt[i].toks);
    }
    free(cur);
    free(nxt);
    free(top);
    free(best);
    return rc;
}
