/* sampler.c - next-token sampling (penalties, bans, temperature, top-k, top-p, one draw),
 * streaming detokenization and beam search over lm_state copies. */
#include "gen/gen.h"
#include "nn/nn.h"

#include "base/fastmath.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void lm_sampler_opts_init(lm_sampler_opts *o)
{
    memset(o, 0, sizeof *o);
    o->temperature = 1.0;
    o->top_k = 0;
    o->top_p = 1.0;
    o->repetition_penalty = 1.0;
    o->presence_penalty = 0.0;
    o->penalty_window = 64;
    o->allow_unk = 0;
}

int lm_sampler_check(const lm_sampler_opts *o, lm_error *err)
{
    if (!(o->temperature >= 0) || !isfinite(o->temperature))
        return lm_fail(err, LM_EINVAL, "temperature %g must be a finite value >= 0",
                       o->temperature);
    if (!(o->top_p > 0 && o->top_p <= 1))
        return lm_fail(err, LM_EINVAL, "top-p %g must be in (0, 1]", o->top_p);
    if (!(o->repetition_penalty > 0) || !isfinite(o->repetition_penalty))
        return lm_fail(err, LM_EINVAL, "repetition penalty %g must be a finite value > 0",
                       o->repetition_penalty);
    if (!isfinite(o->presence_penalty))
        return lm_fail(err, LM_EINVAL, "presence penalty must be finite");
    if (o->n_banned && !o->banned)
        return lm_fail(err, LM_EINVAL, "banned list is NULL with %zu entries", o->n_banned);
    return LM_OK;
}

static int parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return 0;
    char *end;
    double v = strtod(s, &end);
    if (*end || !isfinite(v))
        return 0;
    *out = v;
    return 1;
}

int lm_gen_parse_size(const char *s, size_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return 0;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || v > SIZE_MAX)
        return 0;
    *out = (size_t)v;
    return 1;
}

int lm_gen_parse_bool(const char *s, int *out)
{
    if (!s)
        return 0;
    if (!strcasecmp(s, "on") || !strcasecmp(s, "yes") || !strcmp(s, "1") ||
        !strcasecmp(s, "true"))
        *out = 1;
    else if (!strcasecmp(s, "off") || !strcasecmp(s, "no") || !strcmp(s, "0") ||
             !strcasecmp(s, "false"))
        *out = 0;
    else
        return 0;
    return 1;
}

int lm_sampler_set(lm_sampler_opts *o, const char *name, const char *value, lm_error *err)
{
    lm_sampler_opts t = *o;
    int ok;
    if (!name)
        return lm_fail(err, LM_EINVAL, "no setting named");
    if (!strcmp(name, "temperature"))
        ok = parse_double(value, &t.temperature);
    else if (!strcmp(name, "top-k"))
        ok = lm_gen_parse_size(value, &t.top_k);
    else if (!strcmp(name, "top-p"))
        ok = parse_double(value, &t.top_p);
    else if (!strcmp(name, "repetition-penalty"))
        ok = parse_double(value, &t.repetition_penalty);
    else if (!strcmp(name, "presence-penalty"))
        ok = parse_double(value, &t.presence_penalty);
    else if (!strcmp(name, "penalty-window"))
        ok = lm_gen_parse_size(value, &t.penalty_window);
    else if (!strcmp(name, "allow-unk"))
        ok = lm_gen_parse_bool(value, &t.allow_unk);
    else
        return lm_fail(err, LM_EINVAL, "no setting '%.64s'", name);
    if (!ok)
        return lm_fail(err, LM_EINVAL, "bad value '%.64s' for %s", value ? value : "", name);
    int rc = lm_sampler_check(&t, err);
    if (rc)
        return rc;
    *o = t;
    return LM_OK;
}

size_t lm_sampler_describe(const lm_sampler_opts *o, char *buf, size_t cap)
{
    int n = snprintf(buf, cap,
                     "temperature=%g top-k=%zu top-p=%g repetition-penalty=%g "
                     "presence-penalty=%g penalty-window=%zu allow-unk=%s",
                     o->temperature, o->top_k, o->top_p, o->repetition_penalty,
                     o->presence_penalty, o->penalty_window, o->allow_unk ? "on" : "off");
    return n < 0 ? 0 : (size_t)n;
}

/* ---- the distribution -------------------------------------------------------------------- */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Applies the penalties once to each distinct token of the last `window` history entries.
 * work: room for min(n_hist, window) ints. */
static void penalise(const lm_sampler_opts *o, float *z, size_t V, const int32_t *hist,
                     size_t n_hist, int32_t *work)
{
    size_t from = n_hist > o->penalty_window ? n_hist - o->penalty_window : 0, n = n_hist - from;
    memcpy(work, hist + from, n * sizeof *work);
    qsort(work, n, sizeof *work, cmp_i32);
    for (size_t i = 0; i < n; i++) {
        int32_t t = work[i];
        if ((i > 0 && work[i - 1] == t) || t < 0 || (size_t)t >= V)
            continue;
        if (o->repetition_penalty != 1.0)
            z[t] = z[t] > 0 ? (float)(z[t] / o->repetition_penalty)
                            : (float)(z[t] * o->repetition_penalty);
        z[t] -= (float)o->presence_penalty;
    }
}

/* Heap of token ids ordered by (probability desc, id asc): a comes before b. */
static inline int before(const float *p, int32_t a, int32_t b)
{
    return p[a] > p[b] || (p[a] == p[b] && a < b);
}

static void sift_down(const float *p, int32_t *h, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && before(p, h[l], h[m]))
            m = l;
        if (r < n && before(p, h[r], h[m]))
            m = r;
        if (m == i)
            return;
        int32_t t = h[i];
        h[i] = h[m];
        h[m] = t;
        i = m;
    }
}

/* Keeps the top-k / top-p set of probabilities p (those > 0), zeroes the rest, renormalises.
 * idx: room for V ints. */
static void truncate_set(const lm_sampler_opts *o, float *p, size_t V, int32_t *idx)
{
    size_t n = 0;
    for (size_t j = 0; j < V; j++)
        if (p[j] > 0)
            idx[n++] = (int32_t)j;
    for (size_t i = n / 2; i-- > 0;)
        sift_down(p, idx, n, i);
    /* Pop in order: the popped ids collect at the end of idx, most probable last-but-k. */
    size_t keep = 0, heap = n;
    double c = 0, target = o->top_p < 1.0 ? o->top_p * (1.0 - 1e-6) : 2.0;
    size_t k = o->top_k ? o->top_k : n;
    while (heap > 0 && keep < k && c < target) {
        int32_t t = idx[0];
        idx[0] = idx[heap - 1];
        idx[heap - 1] = t;
        heap--;
        sift_down(p, idx, heap, 0);
        c += p[t];
        keep++;
    }
    for (size_t i = 0; i < heap; i++)
        p[idx[i]] = 0.0f;
    double kept = 0;
    for (size_t i = heap; i < n; i++)
        kept += p[idx[i]];
    for (size_t i = heap; i < n; i++)
        p[idx[i]] = (float)(p[idx[i]] / kept);
}

int32_t lm_sampler_probs(const lm_sampler_opts *o, float *z, size_t V, const int32_t *hist,
                         size_t n_hist, int32_t *scratch)
{
    int32_t *own = NULL, *work = scratch;
    size_t n_pen = hist && (o->repetition_penalty != 1.0 || o->presence_penalty != 0.0)
                       ? (n_hist < o->penalty_window ? n_hist : o->penalty_window)
                       : 0;
    int need_set = o->temperature > 0 && (o->top_k || o->top_p < 1.0);
    if ((!scratch && (n_pen || need_set)) || (scratch && n_pen > 2 * V)) {
        size_t cap = n_pen > V ? n_pen : V;
        if (!(own = malloc(cap * sizeof *own)))
            return LM_ENOMEM;
        work = own;
    }
    if (n_pen)
        penalise(o, z, V, hist, n_hist, work);
    if (!o->allow_unk && V > LM_TOK_UNK)
        z[LM_TOK_UNK] = -INFINITY;
    for (size_t i = 0; i < o->n_banned; i++)
        if (o->banned[i] >= 0 && (size_t)o->banned[i] < V)
            z[o->banned[i]] = -INFINITY;
    int32_t best = -1;
    for (size_t j = 0; j < V; j++)
        if (z[j] > -INFINITY && (best < 0 || z[j] > z[best]))
            best = (int32_t)j;
    if (best < 0) {
        free(own);
        return LM_EINVAL;
    }
    if (o->temperature <= 0) {
        for (size_t j = 0; j < V; j++)
            z[j] = (int32_t)j == best ? 1.0f : 0.0f;
        free(own);
        return best;
    }
    /* Softmax at the temperature: exp in float (lm_expf), the sum in double. */
    float mx = z[best], inv_t = (float)(1.0 / o->temperature);
    double sum = 0;
#pragma omp simd reduction(+ : sum)
    for (size_t j = 0; j < V; j++) {
        float e = z[j] > -INFINITY ? lm_expf((z[j] - mx) * inv_t) : 0.0f;
        z[j] = e;
        sum += e;
    }
    for (size_t j = 0; j < V; j++)
        z[j] = (float)(z[j] / sum);
    if (need_set)
        truncate_set(o, z, V, work);
    free(own);
    return best;
}

int32_t lm_sampler_draw(const float *p, size_t V, lm_rng *rng)
{
    /* The total is recomputed so that float rounding cannot push the draw past the end. */
    double total = 0;
    int32_t last = -1;
    for (size_t j = 0; j < V; j++)
        if (p[j] > 0) {
            total += p[j];
            last = (int32_t)j;
        }
    if (last < 0)
        return LM_EINVAL;
    double u = lm_rng_uniform(rng) * total, c = 0;
    for (size_t j = 0; j < V; j++) {
        if (p[j] <= 0)
            continue;
        c += p[j];
        if (u < c)
            return (int32_t)j;
    }
    return last;
}

int32_t lm_sample(const lm_sampler_opts *o, float *z, size_t V, const int32_t *hist,
                  size_t n_hist, lm_rng *rng, int32_t *scratch)
{
    int32_t best = lm_sampler_probs(o, z, V, hist, n_hist, scratch);
    if (best < 0 || o->temperature <= 0)
        return best;
    return lm_sampler_draw(z, V, rng);
}

/* ---- streaming detokenization ------------------------------------------------------------ */

const char *lm_detok_piece(int tokenize, const char *prev, const char *tok, char *buf, size_t cap)
{
    if (!cap)
        return buf;
    if (tokenize == LM_TOKENIZE_CHARS) {
        snprintf(buf, cap, "%s", strcmp(tok, "\xE2\x96\x81") ? tok : " ");
        return buf;
    }
    snprintf(buf, cap, "%s%s", lm_detok_space_before(prev, tok) ? " " : "", tok);
    return buf;
}

/* ---- beam search ------------------------------------------------------------------------- */

void lm_beam_opts_init(lm_beam_opts *o)
{
    memset(o, 0, sizeof *o);
    o->beam = 4;
    o->max_tokens = 60;
    o->min_tokens = 1;
    o->length_alpha = 1.0;
}

/* A neural model behind the beam engine: each hypothesis of a round has its own state and
 * next-token log-probabilities, computed when it is extended. */
typedef struct beam_nn {
    const lm_model *m;
    size_t V;
    lm_state **s[2]; /* [round parity][slot] */
    float *logp[2];  /* [round parity] (K, V) */
    int cur;
} beam_nn;

static int nn_row(void *ctx, size_t slot, const int32_t *toks, size_t len, float **row,
                  lm_error *err)
{
    beam_nn *b = ctx;
    (void)toks, (void)len, (void)err;
    *row = b->logp[b->cur] + slot * b->V;
    return LM_OK;
}

static int nn_extend(void *ctx, size_t slot, size_t parent, int32_t tok, lm_error *err)
{
    beam_nn *b = ctx;
    int nx = 1 - b->cur, rc;
    lm_state *s = b->s[nx][slot];
    float *lp = b->logp[nx] + slot * b->V;
    if ((rc = lm_state_copy(s, b->s[b->cur][parent], err)))
        return rc;
    return lm_step(b->m, s, tok, lp, err);
}

static void nn_advance(void *ctx)
{
    beam_nn *b = ctx;
    b->cur = 1 - b->cur;
}

int lm_beam_search(const lm_model *m, const lm_state *start, const float *logits,
                   const lm_beam_opts *o, int32_t **out, size_t *n_out, int *ended,
                   double *score, volatile int *stop, lm_error *err)
{
    int rc = lm_beam_check_opts(o, err);
    if (rc)
        return rc;
    size_t V = lm_vocab_size(lm_model_vocab(m)), K = o->beam;
    beam_nn b = {.m = m, .V = V};
    for (int r = 0; r < 2; r++) {
        b.s[r] = calloc(K, sizeof *b.s[r]);
        b.logp[r] = malloc(K * V * sizeof(float));
        if (!b.s[r] || !b.logp[r]) {
            rc = lm_fail(err, LM_ENOMEM, "out of memory");
            goto out;
        }
        for (size_t i = 0; i < K; i++)
            if ((rc = lm_state_create(m, &b.s[r][i], err)))
                goto out;
    }
    if ((rc = lm_state_copy(b.s[0][0], start, err)))
        goto out;
    memcpy(b.logp[0], logits, V * sizeof(float));
    lm_beam_src src = {V, &b, nn_row, nn_extend, nn_advance};
    rc = lm_beam_run(&src, o, out, n_out, ended, score, stop, err);
out:
    for (int r = 0; r < 2; r++) {
        for (size_t i = 0; b.s[r] && i < K; i++)
            lm_state_free(b.s[r][i]);
        free(b.s[r]);
        free(b.logp[r]);
    }
    return rc;
}
