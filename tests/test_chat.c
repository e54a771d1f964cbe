/* test_chat.c - beam search against an exhaustive search, and chat sessions on a tiny random
 * model: repeatable replies, save/load continues exactly, /retry, reset, priming, bans, the
 * stop flag, refused files and a bounded history. */
#include "harness.h"
#include "gen/gen.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const WORDS[] = {"hello", "world", "how", "are", "you", "?", ",", "I",
                                    "do", "n't", "know", "."};

/* A random model over the specials and n_words words. */
static lm_model *tiny(size_t n_words, size_t hidden, uint64_t seed)
{
    lm_vocab *v;
    lm_vocab_create(&v, NULL);
    for (size_t i = 0; i < n_words; i++)
        lm_vocab_add(v, WORDS[i], strlen(WORDS[i]), (uint64_t)(20 - i));
    lm_config c;
    lm_config_init(&c);
    c.embed = 5;
    c.hidden = hidden;
    c.layers = 2;
    c.init_range = 1.0f; /* peaked distributions, so searches have something to find */
    lm_rng r;
    lm_rng_seed(&r, seed);
    lm_model *m;
    lm_error err;
    if (lm_model_create(&c, v, &r, &m, &err)) {
        printf("%s\n", err.msg);
        return NULL;
    }
    return m;
}

static const char *tmp(const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ & 7];
    snprintf(p, 512, "%s/%s", th_tmpdir(), name);
    return p;
}

/* ---- beam search ------------------------------------------------------------------------- */

typedef struct best {
    double score;
    int32_t toks[8];
    size_t len;
    int ended;
} best;

/* Exhaustive search over every reply of up to L tokens (the <eot> included) from state s
 * with next-token log-probs lp: finished replies end with <eot> (not as the first token);
 * unfinished ones reach L words. Finished replies win over unfinished ones. */
static void exhaust(const lm_model *m, const lm_state *s, const float *lp, int32_t *prefix,
                    size_t len, double sum, size_t L, double alpha, best *b)
{
    size_t V = lm_vocab_size(lm_model_vocab(m));
    for (int32_t t = LM_TOK_EOT; t < (int32_t)V; t++) {
        if (t == LM_TOK_EOC || (t == LM_TOK_EOT && len == 0))
            continue;
        double ns = sum + lp[t];
        if (t == LM_TOK_EOT || len + 1 == L) {
            int ended = t == LM_TOK_EOT;
            size_t n = len + 1;
            double sc = alpha == 0 ? ns : ns / pow((double)n, alpha);
            if ((ended && (!b->ended || sc > b->score)) ||
                (!ended && !b->ended && sc > b->score)) {
                b->score = sc;
                b->ended = ended;
                memcpy(b->toks, prefix, len * sizeof *prefix);
                b->len = len;
                if (!ended)
                    b->toks[b->len++] = t;
            }
            continue;
        }
        lm_state *c;
        lm_state_create(m, &c, NULL);
        lm_state_copy(c, s, NULL);
        float *z = malloc(V * sizeof *z);
        lm_step(m, c, t, z, NULL);
        lm_log_softmax(z, V, z);
        prefix[len] = t;
        exhaust(m, c, z, prefix, len + 1, ns, L, alpha, b);
        free(z);
        lm_state_free(c);
    }
}

static void test_beam_exhaustive(void)
{
    lm_model *m = tiny(4, 6, 5);
    CU_ASSERT_FATAL(m != NULL);
    size_t V = lm_vocab_size(lm_model_vocab(m));
    lm_error err;
    int found_long = 0;
    for (int trial = 0; trial < 6; trial++) {
        lm_state *s;
        lm_state_create(m, &s, &err);
        float z[16], lp[16];
        int32_t ctx[3] = {LM_TOK_EOC, 3 + trial % 4, LM_TOK_EOT};
        for (int i = 0; i < 3; i++)
            lm_step(m, s, ctx[i], z, &err);
        memcpy(lp, z, sizeof lp);
        lm_log_softmax(lp, V, lp);
        lp[LM_TOK_UNK] = -INFINITY;
        lm_beam_opts o;
        lm_beam_opts_init(&o);
        o.max_tokens = 4;
        o.length_alpha = trial < 3 ? 1.0 : 0.0;
        o.beam = 512; /* wider than all candidates of a step (64 x 5): exhaustive */
        int32_t ban[] = {LM_TOK_EOC};
        o.banned = ban;
        o.n_banned = 1;
        best b = {-INFINITY, {0}, 0, 0};
        int32_t prefix[8];
        exhaust(m, s, lp, prefix, 0, 0.0, o.max_tokens, o.length_alpha, &b);
        int32_t *out = NULL;
        size_t n = 0;
        int ended = -1;
        double score = 0;
        CU_ASSERT_EQUAL_FATAL(lm_beam_search(m, s, z, &o, &out, &n, &ended, &score, NULL, &err),
                              LM_OK);
        CU_ASSERT_EQUAL(lm_state_position(s), 3); /* the start state is not changed */
        CU_ASSERT_EQUAL(ended, b.ended);
        CU_ASSERT_EQUAL(n, b.len);
        CU_ASSERT(n == b.len && memcmp(out, b.toks, n * sizeof *out) == 0);
        LM_ASSERT_CLOSE(score, b.score, 1e-5, 1e-5);
        found_long |= n > 1;
        for (size_t i = 0; i < n; i++)
            CU_ASSERT(out[i] >= LM_N_SPECIAL);
        free(out);

        /* Width 1 is greedy decoding. */
        o.beam = 1;
        o.max_tokens = 6;
        CU_ASSERT_EQUAL_FATAL(lm_beam_search(m, s, z, &o, &out, &n, &ended, NULL, NULL, &err),
                              LM_OK);
        lm_state *g;
        lm_state_create(m, &g, &err);
        lm_state_copy(g, s, &err);
        float zz[16];
        memcpy(zz, z, sizeof zz);
        lm_sampler_opts so;
        lm_sampler_opts_init(&so);
        so.temperature = 0;
        int32_t gb[2] = {LM_TOK_EOC, LM_TOK_EOT};
        so.banned = gb;
        size_t k = 0;
        for (; k < o.max_tokens; k++) {
            so.n_banned = k == 0 ? 2 : 1;
            int32_t t = lm_sample(&so, zz, V, NULL, 0, NULL, NULL);
            if (t == LM_TOK_EOT)
                break;
            CU_ASSERT(k < n && out[k] == t);
            lm_step(m, g, t, zz, &err);
        }
        CU_ASSERT_EQUAL(n, k);
        CU_ASSERT_EQUAL(ended, k < o.max_tokens);
        free(out);
        lm_state_free(g);
        lm_state_free(s);
    }
    CU_ASSERT(found_long); /* the comparison did not only see one-word replies */
    /* Errors: zero width, everything banned, the stop flag. */
    lm_state *s;
    lm_state_create(m, &s, &err);
    float z[16];
    lm_step(m, s, LM_TOK_EOC, z, &err);
    lm_beam_opts o;
    lm_beam_opts_init(&o);
    int32_t *out = NULL;
    size_t n;
    o.beam = 0;
    CU_ASSERT_EQUAL(lm_beam_search(m, s, z, &o, &out, &n, NULL, NULL, NULL, &err), LM_EINVAL);
    o.beam = 3;
    int32_t all[] = {3, 4, 5, 6};
    o.banned = all;
    o.n_banned = 4;
    CU_ASSERT_EQUAL(lm_beam_search(m, s, z, &o, &out, &n, NULL, NULL, NULL, &err), LM_EINVAL);
    o.n_banned = 0;
    volatile int stop = 1;
    CU_ASSERT_EQUAL(lm_beam_search(m, s, z, &o, &out, &n, NULL, NULL, &stop, &err), LM_EINTR);
    lm_state_free(s);
    lm_model_free(m);
}

/* ---- chat sessions ----------------------------------------------------------------------- */

static lm_chat *chat(const lm_model *m, uint64_t seed, double temperature)
{
    lm_chat_opts o;
    lm_chat_opts_init(&o);
    o.seed = seed;
    o.max_tokens = 12;
    o.sampler.temperature = temperature;
    lm_chat *c = NULL;
    lm_error err;
    if (lm_chat_create(m, &o, &c, &err))
        printf("%s\n", err.msg);
    return c;
}

/* One user turn and the reply; returns a malloc'd copy of the reply. */
static char *turn(lm_chat *c, const char *line)
{
    lm_error err;
    if (lm_chat_user(c, line, &err) || lm_chat_reply(c, NULL, NULL, NULL, &err)) {
        printf("turn failed: %s\n", err.msg);
        return strdup("<failed>");
    }
    return strdup(lm_chat_last_reply(c));
}

static void test_chat_repeatable(void)
{
    lm_model *m = tiny(12, 8, 7);
    CU_ASSERT_FATAL(m != NULL);
    const char *lines[] = {"hello world", "how are you?", "I don't know."};
    char *r[2][3];
    for (int run = 0; run < 2; run++) {
        lm_chat *c = chat(m, 42, 1.0);
        CU_ASSERT_FATAL(c != NULL);
        for (int i = 0; i < 3; i++)
            r[run][i] = turn(c, lines[i]);
        lm_chat_stats st;
        lm_chat_get_stats(c, &st);
        CU_ASSERT_EQUAL(st.turns, 3);
        CU_ASSERT(st.position > 9);
        CU_ASSERT_EQUAL(st.state_bytes, 2 * 2 * 8 * sizeof(float));
        lm_chat_free(c);
    }
    int differ = 0;
    for (int i = 0; i < 3; i++) {
        CU_ASSERT_STRING_EQUAL(r[0][i], r[1][i]);
        CU_ASSERT(strlen(r[0][i]) > 0);
        differ |= i > 0 && strcmp(r[0][i], r[0][0]);
    }
    CU_ASSERT(differ);
    for (int i = 0; i < 3; i++) {
        free(r[0][i]);
        free(r[1][i]);
    }
    /* Another seed gives another conversation. */
    lm_chat *a = chat(m, 1, 1.0), *b = chat(m, 2, 1.0);
    int same = 1;
    for (int i = 0; i < 3; i++) {
        char *x = turn(a, lines[i]), *y = turn(b, lines[i]);
        same &= !strcmp(x, y);
        free(x);
        free(y);
    }
    CU_ASSERT(!same);
    lm_chat_free(a);
    lm_chat_free(b);
    lm_model_free(m);
}

typedef struct collect {
    char buf[4096];
    size_t n, calls;
} collect;

static void on_piece(void *ud, const char *text)
{
    collect *c = ud;
    size_t l = strlen(text);
    if (c->n + l < sizeof c->buf) {
        memcpy(c->buf + c->n, text, l + 1);
        c->n += l;
    }
    c->calls++;
}

static void test_emit_and_reply_text(void)
{
    lm_model *m = tiny(12, 8, 7);
    lm_chat *c = chat(m, 3, 1.0);
    lm_error err;
    collect col = {{0}, 0, 0};
    CU_ASSERT_EQUAL(lm_chat_user(c, "hello", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_reply(c, on_piece, &col, NULL, &err), LM_OK);
    CU_ASSERT_STRING_EQUAL(col.buf, lm_chat_last_reply(c));
    CU_ASSERT(col.calls >= 1 && col.calls <= 12);
    CU_ASSERT(col.buf[0] != ' ');
    CU_ASSERT(strstr(col.buf, "<eoc>") == NULL && strstr(col.buf, "<unk>") == NULL);
    lm_chat_free(c);
    lm_model_free(m);
}

/* Saving after two turns and loading into a fresh chat (other seed, other priming) continues
 * exactly as the original: the third reply and a retry of it are the same. */
static void test_save_load_continues(void)
{
    lm_model *m = tiny(12, 8, 7);
    lm_error err;
    lm_chat *a = chat(m, 11, 1.0);
    CU_ASSERT_FATAL(a != NULL);
    lm_chat_set(a, "repetition-penalty", "1.5", &err); /* the history matters */
    free(turn(a, "hello world"));
    free(turn(a, "how are you?"));
    CU_ASSERT_EQUAL_FATAL(lm_chat_save(a, tmp("chat.h5"), &err), LM_OK);
    char *ra = turn(a, "I don't know.");
    CU_ASSERT_EQUAL(lm_chat_retry(a, NULL, NULL, NULL, &err), LM_OK);
    char *rta = strdup(lm_chat_last_reply(a));

    lm_chat *b = chat(m, 999, 1.0);
    lm_chat_set(b, "repetition-penalty", "1.5", &err);
    CU_ASSERT_EQUAL(lm_chat_prime(b, "you are a bot", &err), LM_OK);
    free(turn(b, "unrelated"));
    CU_ASSERT_EQUAL_FATAL(lm_chat_load(b, tmp("chat.h5"), &err), LM_OK);
    char *rb = turn(b, "I don't know.");
    CU_ASSERT_EQUAL(lm_chat_retry(b, NULL, NULL, NULL, &err), LM_OK);
    CU_ASSERT_STRING_EQUAL(ra, rb);
    CU_ASSERT_STRING_EQUAL(rta, lm_chat_last_reply(b));
    lm_chat_stats sa, sb;
    lm_chat_get_stats(a, &sa);
    lm_chat_get_stats(b, &sb);
    CU_ASSERT_EQUAL(sa.position, sb.position);
    CU_ASSERT_EQUAL(sa.turns, sb.turns);
    CU_ASSERT_EQUAL(sa.history, sb.history);
    free(ra);
    free(rb);
    free(rta);

    /* A retry saved in the file: save right after a reply, load, retry = retry directly. */
    CU_ASSERT_EQUAL(lm_chat_save(a, tmp("chat2.h5"), &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_retry(a, NULL, NULL, NULL, &err), LM_OK);
    char *x = strdup(lm_chat_last_reply(a));
    CU_ASSERT_EQUAL(lm_chat_load(b, tmp("chat2.h5"), &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_retry(b, NULL, NULL, NULL, &err), LM_OK);
    CU_ASSERT_STRING_EQUAL(x, lm_chat_last_reply(b));
    free(x);

    /* The file is also a plain state file. */
    lm_state *s;
    lm_state_create(m, &s, &err);
    CU_ASSERT_EQUAL(lm_state_load(s, tmp("chat2.h5"), &err), LM_OK);
    CU_ASSERT(lm_state_position(s) > 0);
    /* A bare state file loads into a chat. */
    CU_ASSERT_EQUAL(lm_state_save(s, tmp("bare.h5"), &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_load(b, tmp("bare.h5"), &err), LM_OK);
    lm_chat_stats st;
    lm_chat_get_stats(b, &st);
    CU_ASSERT_EQUAL(st.position, lm_state_position(s));
    CU_ASSERT_EQUAL(st.history, 0);
    CU_ASSERT_EQUAL(lm_chat_retry(b, NULL, NULL, NULL, &err), LM_EINVAL);
    free(turn(b, "hello"));
    lm_state_free(s);
    lm_chat_free(a);
    lm_chat_free(b);
    lm_model_free(m);
}

static void test_load_refused(void)
{
    lm_model *m = tiny(12, 8, 7), *other = tiny(6, 8, 7), *wider = tiny(12, 10, 7);
    lm_error err;
    lm_chat *c = chat(m, 1, 1.0);
    free(turn(c, "hello"));
    CU_ASSERT_EQUAL(lm_chat_save(c, tmp("ok.h5"), &err), LM_OK);
    lm_chat_stats before, after;
    lm_chat_get_stats(c, &before);
    char *rep = strdup(lm_chat_last_reply(c));
    CU_ASSERT_NOT_EQUAL(lm_chat_load(c, tmp("missing.h5"), &err), LM_OK);
    CU_ASSERT(strstr(err.msg, "missing.h5") != NULL);
    CU_ASSERT_EQUAL(lm_model_save(m, tmp("model.h5"), &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_load(c, tmp("model.h5"), &err), LM_EFORMAT);
    FILE *f = fopen(tmp("text.h5"), "w");
    fputs("not hdf5\n", f);
    fclose(f);
    CU_ASSERT_EQUAL(lm_chat_load(c, tmp("text.h5"), &err), LM_EFORMAT);
    lm_chat *o = chat(other, 1, 1.0);
    CU_ASSERT_EQUAL(lm_chat_load(o, tmp("ok.h5"), &err), LM_EMISMATCH);
    lm_chat *w = chat(wider, 1, 1.0);
    CU_ASSERT_NOT_EQUAL(lm_chat_load(w, tmp("ok.h5"), &err), LM_OK);
    lm_chat_get_stats(c, &after);
    CU_ASSERT_EQUAL(before.position, after.position);
    CU_ASSERT_EQUAL(before.history, after.history);
    CU_ASSERT_STRING_EQUAL(rep, lm_chat_last_reply(c));
    CU_ASSERT_EQUAL(lm_chat_load(c, tmp("ok.h5"), &err), LM_OK);
    free(rep);
    lm_chat_free(c);
    lm_chat_free(o);
    lm_chat_free(w);
    lm_model_free(m);
    lm_model_free(other);
    lm_model_free(wider);
}

/* Greedy replies: retry gives the same reply from the same state; reset returns to the start
 * (the primed one when primed); a banned word never appears. */
static void test_retry_reset_prime_ban(void)
{
    lm_model *m = tiny(12, 8, 7);
    lm_error err;
    lm_chat *c = chat(m, 1, 0.0);
    lm_chat_stats s0, s1;
    lm_chat_get_stats(c, &s0);
    CU_ASSERT_EQUAL(s0.position, 0);
    CU_ASSERT_EQUAL(lm_chat_retry(c, NULL, NULL, NULL, &err), LM_EINVAL);
    char *r1 = turn(c, "hello world");
    lm_chat_get_stats(c, &s1);
    CU_ASSERT_EQUAL(lm_chat_retry(c, NULL, NULL, NULL, &err), LM_OK);
    CU_ASSERT_STRING_EQUAL(r1, lm_chat_last_reply(c));
    lm_chat_stats s2;
    lm_chat_get_stats(c, &s2);
    CU_ASSERT_EQUAL(s1.position, s2.position);
    CU_ASSERT_EQUAL(s2.turns, 1);
    char *r2 = turn(c, "how are you?");
    CU_ASSERT_EQUAL(lm_chat_reset(c, &err), LM_OK);
    lm_chat_get_stats(c, &s2);
    CU_ASSERT_EQUAL(s2.position, 0);
    CU_ASSERT_EQUAL(s2.turns, 0);
    char *r1b = turn(c, "hello world");
    CU_ASSERT_STRING_EQUAL(r1, r1b);

    /* Priming moves the start point. */
    CU_ASSERT_EQUAL(lm_chat_prime(c, "I know .\n\nyou are ?\n", &err), LM_OK);
    lm_chat_stats sp;
    lm_chat_get_stats(c, &sp);
    free(turn(c, "hello"));
    CU_ASSERT_EQUAL(lm_chat_reset(c, &err), LM_OK);
    lm_chat_get_stats(c, &s2);
    CU_ASSERT_EQUAL(s2.position, sp.position);
    CU_ASSERT_EQUAL(s2.history, sp.history);

    /* Ban the first word of the greedy reply: it changes, and never holds that word. */
    lm_chat *g = chat(m, 1, 0.0);
    char *first = turn(g, "hello world");
    char word[64];
    sscanf(first, "%63s", word);
    /* The first piece may carry punctuation glued on; take the vocabulary token. */
    for (size_t i = 0; i < sizeof WORDS / sizeof *WORDS; i++)
        if (!strncmp(first, WORDS[i], strlen(WORDS[i]))) {
            snprintf(word, sizeof word, "%s", WORDS[i]);
            break;
        }
    CU_ASSERT_EQUAL(lm_chat_set(g, "ban", word, &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_reset(g, &err), LM_OK);
    char *second = turn(g, "hello world");
    CU_ASSERT_STRING_NOT_EQUAL(first, second);
    CU_ASSERT(strncmp(second, word, strlen(word)) != 0);
    char desc[1024];
    lm_chat_describe(g, desc, sizeof desc);
    CU_ASSERT(strstr(desc, "ban=") != NULL && strstr(desc, word) != NULL);
    CU_ASSERT_EQUAL(lm_chat_set(g, "unban", "all", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_set(g, "ban", "zebra", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_chat_set(g, "ban", "<eot>", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_set(g, "tokens", "0", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_chat_set(g, "tokens", "7", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_opts_get(g)->max_tokens, 7);
    /* With <eot> banned a reply runs to the length limit. */
    free(turn(g, "how are you?"));
    lm_chat_stats sb0, sb1;
    lm_chat_get_stats(g, &sb0);
    free(turn(g, "hello"));
    lm_chat_get_stats(g, &sb1);
    /* The last reply's <eot>, hello, <eot>, then 7 words. */
    CU_ASSERT_EQUAL(sb1.position - sb0.position, 3 + 7);
    CU_ASSERT_EQUAL(lm_chat_set(g, "warmth", "3", &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_chat_set(g, "temperature", "0.7", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_opts_get(g)->sampler.temperature, 0.7);
    CU_ASSERT_EQUAL(lm_chat_set(g, "beam", "3", &err), LM_OK);
    free(turn(g, "hello"));
    free(first);
    free(second);
    free(r1);
    free(r1b);
    free(r2);
    lm_chat_free(g);
    lm_chat_free(c);
    lm_model_free(m);
}

/* Beam-search replies are deterministic, so a retry repeats them. */
static void test_beam_chat(void)
{
    lm_model *m = tiny(12, 8, 7);
    lm_error err;
    lm_chat *c = chat(m, 1, 1.0);
    CU_ASSERT_EQUAL(lm_chat_set(c, "beam", "4", &err), LM_OK);
    collect col = {{0}, 0, 0};
    CU_ASSERT_EQUAL(lm_chat_user(c, "hello world", &err), LM_OK);
    CU_ASSERT_EQUAL(lm_chat_reply(c, on_piece, &col, NULL, &err), LM_OK);
    char *r = strdup(lm_chat_last_reply(c));
    CU_ASSERT_STRING_EQUAL(col.buf, r);
    CU_ASSERT_EQUAL(lm_chat_retry(c, NULL, NULL, NULL, &err), LM_OK);
    CU_ASSERT_STRING_EQUAL(r, lm_chat_last_reply(c));
    free(r);
    lm_chat_free(c);
    lm_model_free(m);
}

static void test_stop_flag(void)
{
    lm_model *m = tiny(12, 8, 7);
    lm_error err;
    lm_chat *c = chat(m, 1, 1.0);
    volatile int stop = 1;
    lm_chat_stats s0, s1;
    CU_ASSERT_EQUAL(lm_chat_user(c, "hello", &err), LM_OK);
    lm_chat_get_stats(c, &s0);
    CU_ASSERT_EQUAL(lm_chat_reply(c, NULL, NULL, &stop, &err), LM_EINTR);
    CU_ASSERT_STRING_EQUAL(lm_chat_last_reply(c), "");
    lm_chat_get_stats(c, &s1);
    CU_ASSERT_EQUAL(s1.position, s0.position + 1); /* the user's <eot> went in, nothing else */
    /* Still usable: the next turn replies. */
    char *r = turn(c, "how are you?");
    CU_ASSERT(strlen(r) > 0);
    free(r);
    lm_chat_free(c);
    lm_model_free(m);
}

/* 2,000 turns: the history stays bounded (the state of an LSTM is constant anyway). */
static void test_bounded_history(void)
{
    lm_model *m = tiny(12, 8, 7);
    lm_chat_opts o;
    lm_chat_opts_init(&o);
    o.max_tokens = 20;
    o.keep_history = 32;
    o.sampler.penalty_window = 16;
    o.sampler.repetition_penalty = 1.2;
    lm_chat *c;
    lm_error err;
    CU_ASSERT_FATAL(lm_chat_create(m, &o, &c, &err) == LM_OK);
    size_t most = 0;
    for (int i = 0; i < 2000; i++) {
        CU_ASSERT_FATAL(lm_chat_user(c, "how are you ?", &err) == LM_OK);
        CU_ASSERT_FATAL(lm_chat_reply(c, NULL, NULL, NULL, &err) == LM_OK);
        lm_chat_stats st;
        lm_chat_get_stats(c, &st);
        most = st.history > most ? st.history : most;
        CU_ASSERT_FATAL(st.state_bytes == 2 * 2 * 8 * sizeof(float));
    }
    CU_ASSERT(most >= 32 && most <= 2 * 32 + 64);
    lm_chat_free(c);
    lm_model_free(m);
}

static void test_create_checks(void)
{
    lm_model *m = tiny(12, 8, 7);
    lm_chat_opts o;
    lm_chat_opts_init(&o);
    lm_chat *c = NULL;
    lm_error err;
    o.max_tokens = 0;
    CU_ASSERT_EQUAL(lm_chat_create(m, &o, &c, &err), LM_EINVAL);
    lm_chat_opts_init(&o);
    o.sampler.top_p = 0;
    CU_ASSERT_EQUAL(lm_chat_create(m, &o, &c, &err), LM_EINVAL);
    lm_chat_opts_init(&o);
    int32_t ban[] = {5, 6};
    o.sampler.banned = ban;
    o.sampler.n_banned = 2;
    CU_ASSERT_EQUAL_FATAL(lm_chat_create(m, &o, &c, &err), LM_OK);
    ban[0] = 7; /* the list was copied */
    CU_ASSERT_EQUAL(lm_chat_opts_get(c)->sampler.banned[0], 5);
    CU_ASSERT_EQUAL(lm_chat_opts_get(c)->sampler.n_banned, 2);
    lm_chat_free(c);
    lm_chat_free(NULL);
    lm_model_free(m);
}

int main(void)
{
    static const th_test tests[] = {
        {"beam search equals exhaustive search; width 1 is greedy", test_beam_exhaustive},
        {"same seed, same conversation", test_chat_repeatable},
        {"streamed pieces make the reply", test_emit_and_reply_text},
        {"save + load continues exactly (reply and retry)", test_save_load_continues},
        {"bad or foreign files are refused, chat unchanged", test_load_refused},
        {"retry, reset, priming, bans, settings", test_retry_reset_prime_ban},
        {"beam-search replies", test_beam_chat},
        {"the stop flag ends a reply, the chat goes on", test_stop_flag},
        {"history bounded over 2000 turns", test_bounded_history},
        {"options checked and copied", test_create_checks},
        {NULL, NULL},
    };
    return th_run("chat", tests);
}
