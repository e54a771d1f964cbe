/* rwkv-memory.c - generates N tokens one at a time (lm_step, sampling from the model's own
 * softmax) and reports resident memory (/proc/self/statm) at token 1,000 and at the end, the
 * largest value in between, the state size, tokens/s, and whether every logit was finite.
 * Uses only the public API. Built and run by bench/rwkv-memory.sh.
 *
 *   rwkv-memory MODEL.h5 [N=100000] [SEED=1]
 * Exit status: 0 all finite and RSS growth within 1 MiB, 1 otherwise, 2 bad usage. */
#include "lstmlm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static long rss_kib(void)
{
    long pages = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &pages, &res) != 2)
        res = -1;
    fclose(f);
    return res < 0 ? -1 : res * (sysconf(_SC_PAGESIZE) / 1024);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: rwkv-memory MODEL.h5 [N] [SEED]\n");
        return 2;
    }
    size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 100000;
    lm_rng rng;
    lm_rng_seed(&rng, argc > 3 ? strtoull(argv[3], NULL, 10) : 1);
    lm_error err;
    lm_model *m;
    lm_state *s;
    if (lm_model_load(argv[1], &m, &err) || lm_state_create(m, &s, &err)) {
        fprintf(stderr, "rwkv-memory: %s\n", err.msg);
        return 1;
    }
    size_t V = lm_model_config(m)->vocab;
    float *logits = malloc(V * sizeof *logits);
    int32_t tok = LM_TOK_EOT;
    long rss_1k = -1, rss_max = 0, rss_end;
    size_t bad = 0;
    double t0 = now(), t1k = t0;
    for (size_t i = 1; i <= n; i++) {
        if (lm_step(m, s, tok, logits, &err)) {
            fprintf(stderr, "rwkv-memory: %s\n", err.msg);
            return 1;
        }
        double mx = -INFINITY, z = 0;
        for (size_t j = 0; j < V; j++) {
            if (!isfinite(logits[j]))
                bad++;
            mx = logits[j] > mx ? logits[j] : mx;
        }
        for (size_t j = 0; j < V; j++)
            z += exp(logits[j] - mx);
        double u = lm_rng_uniform(&rng) * z;
        tok = (int32_t)(V - 1);
        for (size_t j = 0; j < V; j++)
            if ((u -= exp(logits[j] - mx)) <= 0) {
                tok = (int32_t)j;
                break;
            }
        if (i == 1000) {
            rss_1k = rss_kib();
            t1k = now();
        }
        if (i >= 1000 && i % 1000 == 0) {
            long r = rss_kib();
            rss_max = r > rss_max ? r : rss_max;
        }
    }
    double t1 = now();
    rss_end = rss_kib();
    printf("model %s: %s, %zu parameters, state %zu bytes after %zu tokens\n", argv[1],
           lm_model_config(m)->arch, lm_model_n_params(m), lm_state_bytes(s),
           lm_state_position(s));
    printf("tokens %zu, non-finite logits %zu\n", n, bad);
    printf("RSS at token 1000: %ld KiB; at token %zu: %ld KiB; max in between: %ld KiB; "
           "growth %+ld KiB\n", rss_1k, n, rss_end, rss_max, rss_max - rss_1k);
    printf("speed: %.0f tokens/s (tokens 1000..%zu, sampling included)\n",
           (double)(n - 1000) / (t1 - t1k), n);
    (void)t0;
    lm_state_free(s);
    lm_model_free(m);
    free(logits);
    return bad == 0 && rss_max - rss_1k <= 1024 ? 0 : 1;
}
