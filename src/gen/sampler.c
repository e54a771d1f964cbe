/* sampler.c - next-token sampling: penalties, temperature, top-k, top-p. */
#include "gen/gen.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

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

static const float *sort_p;

static int by_prob(const void *a, const void *b)
{
    float pa = sort_p[*(const int32_t *)a], pb = sort_p[*(const int32_t *)b];
    if (pa != pb)
        return pa > pb ? -1 : 1;
    return *(const int32_t *)a - *(const int32_t *)b;
}

int32_t lm_sample(const lm_sampler_opts *o, float *z, size_t V, const int32_t *hist,
                  size_t n_hist, lm_rng *rng, int32_t *scratch)
{
    /* Penalties over the recent history, each token once. */
    if (hist && (o->repetition_penalty != 1.0 || o->presence_penalty != 0.0)) {
        size_t from = n_hist > o->penalty_window ? n_hist - o->penalty_window : 0;
        for (size_t i = from; i < n_hist; i++) {
            int32_t t = hist[i];
            if (t < 0 || (size_t)t >= V)
                continue;
            int seen = 0;
            for (size_t j = from; j < i && !seen; j++)
                seen = hist[j] == t;
            if (seen)
                continue;
            if (o->repetition_penalty != 1.0)
                z[t] = z[t] > 0 ? z[t] / (float)o->repetition_penalty
                                : z[t] * (float)o->repetition_penalty;
            z[t] -= (float)o->presence_penalty;
        }
    }
    if (!o->allow_unk && V > LM_TOK_UNK)
        z[LM_TOK_UNK] = -INFINITY;
    for (size_t i = 0; i < o->n_banned; i++)
        if (o->banned[i] >= 0 && (size_t)o->banned[i] < V)
            z[o->banned[i]] = -INFINITY;
    int32_t best = -1;
    for (size_t j = 0; j < V; j++)
        if (z[j] > -INFINITY && (best < 0 || z[j] > z[best]))
            best = (int32_t)j;
    if (best < 0)
        return LM_EINVAL;
    if (o->temperature <= 0) {
        for (size_t j = 0; j < V; j++)
            z[j] = (int32_t)j == best ? 1.0f : 0.0f;
        return best;
    }
    /* Softmax at the temperature, in double for the sum. */
    double mx = z[best], sum = 0;
    for (size_t j = 0; j < V; j++) {
        double e = z[j] > -INFINITY ? exp((z[j] - mx) / o->temperature) : 0.0;
        z[j] = (float)e;
        sum += e;
    }
    for (size_t j = 0; j < V; j++)
        z[j] = (float)(z[j] / sum);
    if (o->top_k || o->top_p < 1.0) {
        int32_t *idx = scratch ? scratch : malloc(V * sizeof *idx);
        if (!idx)
            return LM_ENOMEM;
        size_t n = 0;
        for (size_t j = 0; j < V; j++)
            if (z[j] > 0)
                idx[n++] = (int32_t)j;
        sort_p = z;
        qsort(idx, n, sizeof *idx, by_prob);
        size_t keep = n;
        if (o->top_k && o->top_k < keep)
            keep = o->top_k;
        if (o->top_p < 1.0) {
            double c = 0;
            for (size_t i = 0; i < keep; i++) {
                c += z[idx[i]];
                if (c >= o->top_p) {
                    keep = i + 1;
                    break;
                }
            }
        }
        double kept = 0;
        for (size_t i = 0; i < keep; i++)
            kept += z[idx[i]];
        for (size_t i = keep; i < n; i++)
            z[idx[i]] = 0.0f;
        for (size_t i = 0; i < keep; i++)
            z[idx[i]] = (float)(z[idx[i]] / kept);
        if (!scratch)
            free(idx);
    }
    double u = lm_rng_uniform(rng), c = 0;
    int32_t last = best;
    for (size_t j = 0; j < V; j++) {
        if (z[j] <= 0)
            continue;
        c += z[j];
        last = (int32_t)j;
        if (u < c)
            return (int32_t)j;
    }
    return last;
}
