/* test_sampler.c - the next-token sampler on hand-made distributions: top-k and top-p keep
 * exactly the right sets, temperature -> 0 equals greedy, penalties and bans, repeatable
 * seeds, and a chi-square test of 100,000 draws against the probabilities. */
#include "harness.h"
#include "gen/gen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define V8 8
/* Probabilities of the hand-made distribution; sorted: 1 (.30), 3 (.20), 4 (.15), 2 (.10),
 * 7 (.10, tie with 2: the lower id ranks first), 6 (.08), 0 (.05), 5 (.02). */
static const double P8[V8] = {0.05, 0.30, 0.10, 0.20, 0.15, 0.02, 0.08, 0.10};

/* Chi-square critical value for 9 degrees of freedom at significance 0.001. */
#define CHI2_CRIT_DF9 27.877
/* ... and for 4 degrees of freedom at 0.001. */
#define CHI2_CRIT_DF4 18.467

static void logits_of(const double *p, size_t V, float *z)
{
    for (size_t i = 0; i < V; i++)
        z[i] = (float)(log(p[i]) + 3.0); /* a shift must not matter */
}

/* Sampler options that treat every id as an ordinary token (id 0 is <unk> otherwise). */
static lm_sampler_opts plain(void)
{
    lm_sampler_opts o;
    lm_sampler_opts_init(&o);
    o.allow_unk = 1;
    return o;
}

/* Runs lm_sampler_probs and checks that exactly the ids in keep[] have non-zero probability,
 * each equal to P8 renormalised over the kept set. */
static void expect_set(const lm_sampler_opts *o, const int *keep, size_t n_keep)
{
    float z[V8];
    logits_of(P8, V8, z);
    int32_t scratch[2 * V8];
    int32_t best = lm_sampler_probs(o, z, V8, NULL, 0, scratch);
    CU_ASSERT_EQUAL(best, 1);
    double mass = 0;
    for (size_t i = 0; i < n_keep; i++)
        mass += P8[keep[i]];
    for (int j = 0; j < V8; j++) {
        int kept = 0;
        for (size_t i = 0; i < n_keep; i++)
            kept |= keep[i] == j;
        if (kept)
            LM_ASSERT_CLOSE(z[j], P8[j] / mass, 1e-6, 1e-5);
        else
            CU_ASSERT_EQUAL(z[j], 0.0f);
    }
}

static void test_top_k(void)
{
    lm_sampler_opts o = plain();
    o.top_k = 1;
    expect_set(&o, (const int[]){1}, 1);
    o.top_k = 3;
    expect_set(&o, (const int[]){1, 3, 4}, 3);
    o.top_k = 4; /* 2 and 7 tie at .10: the lower id is kept */
    expect_set(&o, (const int[]){1, 3, 4, 2}, 4);
    o.top_k = 5;
    expect_set(&o, (const int[]){1, 3, 4, 2, 7}, 5);
    o.top_k = 8;
    expect_set(&o, (const int[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
    o.top_k = 100;
    expect_set(&o, (const int[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
    /* Banned tokens are out before the top-k cut: the next ones move up. */
    int32_t ban[] = {3};
    o.banned = ban;
    o.n_banned = 1;
    o.top_k = 3;
    expect_set(&o, (const int[]){1, 4, 2}, 3);
}

static void test_top_p(void)
{
    lm_sampler_opts o = plain();
    o.top_p = 0.01; /* the most probable token alone */
    expect_set(&o, (const int[]){1}, 1);
    o.top_p = 0.3; /* .30 reaches .3 exactly */
    expect_set(&o, (const int[]){1}, 1);
    o.top_p = 0.31;
    expect_set(&o, (const int[]){1, 3}, 2);
    o.top_p = 0.5; /* .30 + .20 reaches .5 exactly */
    expect_set(&o, (const int[]){1, 3}, 2);
    o.top_p = 0.51;
    expect_set(&o, (const int[]){1, 3, 4}, 3);
    o.top_p = 0.7; /* .65, then .75 */
    expect_set(&o, (const int[]){1, 3, 4, 2}, 4);
    o.top_p = 0.9; /* .85, then .93 */
    expect_set(&o, (const int[]){1, 3, 4, 2, 7, 6}, 6);
    o.top_p = 0.99;
    expect_set(&o, (const int[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
    o.top_p = 1.0;
    expect_set(&o, (const int[]){0, 1, 2, 3, 4, 5, 6, 7}, 8);
    /* Together with top-k: the smaller set wins. */
    o.top_p = 0.9;
    o.top_k = 2;
    expect_set(&o, (const int[]){1, 3}, 2);
    o.top_p = 0.31;
    o.top_k = 5;
    expect_set(&o, (const int[]){1, 3}, 2);
}

/* top-p acts on the distribution after the temperature. */
static void test_temperature(void)
{
    lm_sampler_opts o = plain();
    o.temperature = 2.0;
    float z[V8];
    logits_of(P8, V8, z);
    lm_sampler_probs(&o, z, V8, NULL, 0, NULL);
    double q[V8], s = 0;
    for (int j = 0; j < V8; j++)
        s += q[j] = sqrt(P8[j]);
    for (int j = 0; j < V8; j++)
        LM_ASSERT_CLOSE(z[j], q[j] / s, 1e-6, 1e-5);
    /* At T = 2 the sorted probabilities are .206, .168, .146, .119 ...: top-p .5 needs three
     * tokens (.206 + .168 = .374, + .146 = .519), where at T = 1 two reach .5. */
    o.top_p = 0.5;
    logits_of(P8, V8, z);
    lm_sampler_probs(&o, z, V8, NULL, 0, NULL);
    int kept = 0;
    for (int j = 0; j < V8; j++)
        kept += z[j] > 0;
    CU_ASSERT_EQUAL(kept, 3);
    CU_ASSERT(z[1] > 0 && z[3] > 0 && z[4] > 0);
}

static void test_temperature_to_zero_is_greedy(void)
{
    /* Distinct logits with gaps of at least 0.05. */
    const float base[6] = {0.3f, 1.2f, -0.5f, 1.25f, 0.9f, 1.1f};
    lm_sampler_opts o = plain();
    double prev_err = 1.0;
    for (double t = 0.1; t >= 1e-4; t /= 10) {
        o.temperature = t;
        float z[6];
        memcpy(z, base, sizeof z);
        int32_t best = lm_sampler_probs(&o, z, 6, NULL, 0, NULL);
        CU_ASSERT_EQUAL(best, 3);
        double e = 0;
        for (int j = 0; j < 6; j++)
            e += fabs(z[j] - (j == 3 ? 1.0 : 0.0));
        CU_ASSERT(e <= prev_err);
        prev_err = e;
    }
    CU_ASSERT(prev_err < 1e-6); /* T = 1e-4: one-hot to within 1e-6 */
    /* Sampling at T = 1e-4 always gives the greedy token; T = 0 is greedy without a draw. */
    lm_rng rng;
    lm_rng_seed(&rng, 9);
    o.temperature = 1e-4;
    for (int i = 0; i < 2000; i++) {
        float z[6];
        memcpy(z, base, sizeof z);
        CU_ASSERT_EQUAL_FATAL(lm_sample(&o, z, 6, NULL, 0, &rng, NULL), 3);
    }
    o.temperature = 0;
    lm_rng before = rng;
    float z[6];
    memcpy(z, base, sizeof z);
    CU_ASSERT_EQUAL(lm_sample(&o, z, 6, NULL, 0, &rng, NULL), 3);
    CU_ASSERT_EQUAL(rng.s, before.s);
    for (int j = 0; j < 6; j++)
        CU_ASSERT_EQUAL(z[j], j == 3 ? 1.0f : 0.0f);
}

static double chi2(const size_t *obs, const double *p, size_t k, size_t n)
{
    double c = 0;
    for (size_t i = 0; i < k; i++) {
        double e = p[i] * (double)n;
        c += (obs[i] - e) * (obs[i] - e) / e;
    }
    return c;
}

/* 100,000 draws with seed 1234 match the probabilities: chi-square below the 0.001 critical
 * value. The same counts against a distribution that moves 0.01 of mass between two tokens
 * exceed it by far, so the test can tell. */
static void test_chi_square(void)
{
    const double p[10] = {0.02, 0.18, 0.05, 0.10, 0.15, 0.03, 0.12, 0.07, 0.20, 0.08};
    lm_sampler_opts o = plain();
    lm_rng rng;
    lm_rng_seed(&rng, 1234);
    size_t obs[10] = {0}, N = 100000;
    int32_t scratch[20];
    for (size_t i = 0; i < N; i++) {
        float z[10];
        logits_of(p, 10, z);
        int32_t t = lm_sample(&o, z, 10, NULL, 0, &rng, scratch);
        CU_ASSERT_FATAL(t >= 0 && t < 10);
        obs[t]++;
    }
    double c = chi2(obs, p, 10, N);
    printf("\n  chi-square of %zu draws: %.2f (critical value %.3f, df 9, alpha 0.001)\n", N, c,
           CHI2_CRIT_DF9);
    CU_ASSERT(c < CHI2_CRIT_DF9);
    double wrong[10];
    memcpy(wrong, p, sizeof wrong);
    wrong[1] -= 0.01;
    wrong[8] += 0.01;
    double cw = chi2(obs, wrong, 10, N);
    printf("  against a distribution off by 0.01: %.2f\n", cw);
    CU_ASSERT(cw > 3 * CHI2_CRIT_DF9);

    /* With top-k 5 the draws follow the renormalised five tokens and never leave them. */
    o.top_k = 5;
    size_t obs5[10] = {0};
    for (size_t i = 0; i < N; i++) {
        float z[10];
        logits_of(p, 10, z);
        obs5[lm_sample(&o, z, 10, NULL, 0, &rng, scratch)]++;
    }
    const int top[5] = {8, 1, 4, 6, 3};
    double q[5], mass = 0;
    size_t o5[5], total = 0;
    for (int i = 0; i < 5; i++)
        mass += p[top[i]];
    for (int i = 0; i < 5; i++) {
        q[i] = p[top[i]] / mass;
        o5[i] = obs5[top[i]];
        total += o5[i];
    }
    CU_ASSERT_EQUAL(total, N);
    double c5 = chi2(o5, q, 5, N);
    printf("  top-k 5: chi-square %.2f (critical value %.3f, df 4)\n", c5, CHI2_CRIT_DF4);
    CU_ASSERT(c5 < CHI2_CRIT_DF4);
}

static void test_penalties(void)
{
    lm_sampler_opts o = plain();
    o.repetition_penalty = 2.0;
    o.presence_penalty = 0.5;
    const float base[6] = {0.0f, 2.0f, 1.0f, -1.0f, 0.5f, 0.25f};
    const int32_t hist[] = {3, 1, 1, 3, 9, -1}; /* out-of-range ids are ignored */
    float z[6], want[6];
    memcpy(z, base, sizeof z);
    memcpy(want, base, sizeof want);
    want[1] = 2.0f / 2 - 0.5f;  /* once, although it occurs twice */
    want[3] = -1.0f * 2 - 0.5f; /* negative logits are multiplied */
    lm_sampler_probs(&o, z, 6, hist, 6, NULL);
    double s = 0;
    for (int j = 0; j < 6; j++)
        s += exp(want[j]);
    for (int j = 0; j < 6; j++)
        LM_ASSERT_CLOSE(z[j], exp(want[j]) / s, 1e-6, 1e-5);
    /* Only the window counts: with a window of 2 the history ends {9, -1}, nothing applies. */
    o.penalty_window = 2;
    memcpy(z, base, sizeof z);
    lm_sampler_probs(&o, z, 6, hist, 6, NULL);
    s = 0;
    for (int j = 0; j < 6; j++)
        s += exp(base[j]);
    for (int j = 0; j < 6; j++)
        LM_ASSERT_CLOSE(z[j], exp(base[j]) / s, 1e-6, 1e-5);
    /* A window longer than 2V with a scratch buffer: the call allocates what it needs. */
    int32_t longhist[40];
    for (int i = 0; i < 40; i++)
        longhist[i] = 1;
    o.penalty_window = 40;
    int32_t scratch[12];
    memcpy(z, base, sizeof z);
    lm_sampler_probs(&o, z, 6, longhist, 40, scratch);
    float zz[6];
    memcpy(zz, base, sizeof zz);
    lm_sampler_probs(&o, zz, 6, longhist, 40, NULL);
    CU_ASSERT(memcmp(z, zz, sizeof z) == 0);
    /* Greedy after the penalty: token 1 (2.0 -> 0.5) loses to token 2 (1.0). */
    o.temperature = 0;
    memcpy(z, base, sizeof z);
    CU_ASSERT_EQUAL(lm_sampler_probs(&o, z, 6, hist, 6, NULL), 2);
}

static void test_bans(void)
{
    lm_sampler_opts o;
    lm_sampler_opts_init(&o);
    /* <unk> (id 0) has the highest logit but is never chosen unless allowed. */
    const float base[5] = {5.0f, 1.0f, 0.0f, 2.0f, -1.0f};
    float z[5];
    lm_rng rng;
    lm_rng_seed(&rng, 3);
    for (int i = 0; i < 1000; i++) {
        memcpy(z, base, sizeof z);
        CU_ASSERT_NOT_EQUAL_FATAL(lm_sample(&o, z, 5, NULL, 0, &rng, NULL), LM_TOK_UNK);
        CU_ASSERT_EQUAL(z[LM_TOK_UNK], 0.0f);
    }
    o.allow_unk = 1;
    o.temperature = 0;
    memcpy(z, base, sizeof z);
    CU_ASSERT_EQUAL(lm_sample(&o, z, 5, NULL, 0, &rng, NULL), LM_TOK_UNK);
    /* A banned list, ids outside the vocabulary ignored. */
    int32_t ban[] = {0, 3, 77, -2};
    o.banned = ban;
    o.n_banned = 4;
    o.temperature = 1;
    for (int i = 0; i < 1000; i++) {
        memcpy(z, base, sizeof z);
        int32_t t = lm_sample(&o, z, 5, NULL, 0, &rng, NULL);
        CU_ASSERT_FATAL(t == 1 || t == 2 || t == 4);
    }
    /* Everything banned: an error, not a token. */
    int32_t all[] = {1, 2, 3, 4};
    o.banned = all;
    o.n_banned = 4;
    o.allow_unk = 0;
    memcpy(z, base, sizeof z);
    CU_ASSERT_EQUAL(lm_sample(&o, z, 5, NULL, 0, &rng, NULL), LM_EINVAL);
}

static void test_seed_repeatable(void)
{
    const double p[10] = {0.02, 0.18, 0.05, 0.10, 0.15, 0.03, 0.12, 0.07, 0.20, 0.08};
    lm_sampler_opts o = plain();
    o.top_p = 0.9;
    o.temperature = 0.8;
    int32_t a[200], b[200];
    for (int run = 0; run < 2; run++) {
        lm_rng rng;
        lm_rng_seed(&rng, 77);
        for (int i = 0; i < 200; i++) {
            float z[10];
            logits_of(p, 10, z);
            (run ? b : a)[i] = lm_sample(&o, z, 10, NULL, 0, &rng, run ? NULL : (int32_t[20]){0});
        }
    }
    CU_ASSERT(memcmp(a, b, sizeof a) == 0);
    /* Exactly one draw per call. */
    lm_rng r1, r2;
    lm_rng_seed(&r1, 5);
    lm_rng_seed(&r2, 5);
    float z[10];
    logits_of(p, 10, z);
    lm_sample(&o, z, 10, NULL, 0, &r1, NULL);
    lm_rng_uniform(&r2);
    CU_ASSERT_EQUAL(r1.s, r2.s);
}

static void test_settings(void)
{
    lm_sampler_opts o;
    lm_sampler_opts_init(&o);
    lm_error err;
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "temperature", "0.7", &err), LM_OK);
    CU_ASSERT_EQUAL(o.temperature, 0.7);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "top-k", "40", &err), LM_OK);
    CU_ASSERT_EQUAL(o.top_k, 40);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "top-p", "0.9", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "repetition-penalty", "1.3", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "presence-penalty", "-0.5", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "penalty-window", "16", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "allow-unk", "on", &err), LM_OK);
    CU_ASSERT_EQUAL(o.allow_unk, 1);
    lm_sampler_opts keep = o;
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "temperature", "-1", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "temperature", "abc", &err), LM_EINVAL);
    CU_ASSERT(strstr(err.msg, "abc") != NULL);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "top-p", "0", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "top-p", "1.5", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "top-k", "-3", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "repetition-penalty", "0", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "allow-unk", "maybe", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_sampler_set(&o, "warmth", "1", &err), LM_EINVAL);
    CU_ASSERT(strstr(err.msg, "warmth") != NULL);
    CU_ASSERT(memcmp(&o, &keep, sizeof o) == 0);
    char buf[512];
    size_t n = lm_sampler_describe(&o, buf, sizeof buf);
    CU_ASSERT_EQUAL(n, strlen(buf));
    CU_ASSERT(strstr(buf, "temperature=0.7") && strstr(buf, "top-k=40") &&
              strstr(buf, "allow-unk=on"));
    char small[8];
    CU_ASSERT_EQUAL(lm_sampler_describe(&o, small, sizeof small), n);
    CU_ASSERT_EQUAL(strlen(small), 7);
}

static void test_detok_piece(void)
{
    char b[64];
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, NULL, "Hello", b, sizeof b), "Hello");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, "Hello", ",", b, sizeof b), ",");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, ",", "I", b, sizeof b), " I");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, "do", "n't", b, sizeof b), "n't");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, "I", "'m", b, sizeof b), "'m");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, "(", "so", b, sizeof b), "so");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, "so", "?", b, sizeof b), "?");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WHITESPACE, "a", "b", b, sizeof b), " b");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_CHARS, "a", "b", b, sizeof b), "b");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_CHARS, "a", "\xE2\x96\x81", b, sizeof b),
                           " ");
    CU_ASSERT_STRING_EQUAL(lm_detok_piece(LM_TOKENIZE_WORDS, "x", "abcdef", b, 4), " ab");
}

int main(void)
{
    static const th_test tests[] = {
        {"top-k keeps the k most probable (ties to the lower id)", test_top_k},
        {"top-p keeps the smallest set reaching p", test_top_p},
        {"temperature reshapes before top-p", test_temperature},
        {"temperature -> 0 equals greedy", test_temperature_to_zero_is_greedy},
        {"chi-square of 100k draws (fixed seed)", test_chi_square},
        {"repetition and presence penalties", test_penalties},
        {"<unk> and banned tokens are never sampled", test_bans},
        {"same seed, same tokens; one draw per token", test_seed_repeatable},
        {"settings by name", test_settings},
        {"streaming detokenization", test_detok_piece},
        {NULL, NULL},
    };
    return th_run("sampler", tests);
}
