/* make_seeds.c - writes the seed corpora of the fuzz harnesses into DIR/<target>/ (the ones
 * committed under tests/fuzz/corpus were made with it): small model (one of them with the
 * adaptive softmax), n-gram, checkpoint and chat-session files over fuzz_vocab, an ARPA file, and short texts for the text readers.
 * Usage: make_seeds DIR (the target folders must exist). Exit 0, or 1 with a message. */
#include "fuzz/fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *dir;

static const char *at(const char *target, const char *name)
{
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s/%s", dir, target, name);
    return p;
}

static int put(const char *target, const char *name, const char *text, size_t len)
{
    FILE *f = fopen(at(target, name), "wb");
    if (!f || fwrite(text, 1, len, f) != len || fclose(f)) {
        fprintf(stderr, "make_seeds: cannot write %s\n", at(target, name));
        return 1;
    }
    return 0;
}

#define PUT(t, n, s) put(t, n, s, sizeof s - 1)

static int fail(const lm_error *err)
{
    fprintf(stderr, "make_seeds: %s\n", err->msg);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: make_seeds DIR\n");
        return 1;
    }
    dir = argv[1];
    lm_error err = {0};
    static const char *const archs[3] = {"lstm", "rwkv", "transformer"};
    const int32_t *ids;
    size_t n = fuzz_corpus(&ids);
    for (int i = 0; i < 3; i++) {
        char name[32];
        lm_model *m = fuzz_model(archs[i]);
        lm_chat_opts o;
        lm_chat_opts_init(&o);
        o.max_tokens = 3;
        lm_chat *c;
        snprintf(name, sizeof name, "%s.h5", archs[i]);
        if (!m || lm_model_save(m, at("model", name), &err) ||
            lm_chat_create(m, &o, &c, &err) || lm_chat_user(c, "the cat sat", &err) ||
            lm_chat_reply(c, NULL, NULL, NULL, &err) || lm_chat_save(c, at("state", name), &err))
            return fail(&err);
        lm_chat_free(c);
        /* A checkpoint after two windows of the fixed corpus. */
        lm_train_opts to;
        lm_train_opts_init(&to);
        to.batch = 2;
        to.bptt = 4;
        to.epochs = 1;
        to.max_steps = 2;
        to.optimizer = i == 1 ? LM_OPT_ADAM : LM_OPT_SGD;
        lm_trainer *t;
        lm_epoch_result r;
        if (lm_trainer_create(m, &to, ids, n, NULL, 0, &t, &err) ||
            lm_trainer_run_epoch(t, NULL, &r, &err) ||
            lm_trainer_save_checkpoint(t, at("ckpt", name), &err))
            return fail(&err);
        lm_trainer_free(t);
        lm_model_free(m);
    }
    /* An LSTM with the adaptive softmax: shortlist [0, 5), tails [5, 8) and [8, 10). */
    lm_config ac;
    lm_config_init(&ac);
    ac.embed = 4;
    ac.hidden = 4;
    ac.layers = 1;
    ac.softmax = LM_SOFTMAX_ADAPTIVE;
    ac.n_cutoffs = 2;
    ac.cutoffs[0] = 5;
    ac.cutoffs[1] = 8;
    ac.div_value = 2.0f;
    lm_rng arng;
    lm_rng_seed(&arng, 7);
    lm_model *am;
    if (lm_model_create(&ac, fuzz_vocab(), &arng, &am, &err) ||
        lm_model_save(am, at("model", "adaptive.h5"), &err))
        return fail(&err);
    lm_model_free(am);
    lm_ngram_opts no;
    lm_ngram_opts_init(&no);
    no.order = 3;
    lm_ngram *g;
    if (lm_ngram_train(&no, fuzz_vocab(), &ids, &n, 1, &g, &err) ||
        lm_ngram_save(g, at("ngram", "trigram.h5"), &err) ||
        lm_ngram_write_arpa(g, at("arpa", "trigram.arpa"), &err))
        return fail(&err);
    lm_ngram_free(g);
    /* Texts: first byte = options (see each harness). */
    if (PUT("import", "text", "\x00hello there\nhow are you?\n\nfine.\n") ||
        PUT("import", "cornell", "\x01L1 +++$+++ u0 +++$+++ m0 +++$+++ BIANCA +++$+++ Hi <i>there</i>\n"
                                 "L2 +++$+++ u1 +++$+++ m0 +++$+++ CAMERON +++$+++ Hello\n") ||
        PUT("import", "cornell-convs", "\x05u0 +++$+++ u1 +++$+++ m0 +++$+++ ['L1', 'L2']\n") ||
        PUT("import", "srt", "\x02" "1\n00:00:01,000 --> 00:00:02,500\n<i>Hello.</i>\n- Hi!\n\n"
                             "2\n00:00:09,000 --> 00:00:10,000\n{\\an8}Bye\n\n") ||
        PUT("import", "eou", "\x03Hi there . __eou__ Hello ! __eou__\nHow are you ? __eou__\n") ||
        PUT("tokenize", "words", "\x00" "Don't stop: it's 3.5 km <unk> \xc3\xa9t\xc3\xa9 caf\xe9\n"
                                 "\"Quoted,\" (he said) -- e-mail@x.org ...\n") ||
        PUT("tokenize", "chars", "\x02" "abc d\xe2\x82\xac \xff\n") ||
        PUT("tokenize", "ws-lower", "\x05The <unk> N  Cat\tsat\r\n") ||
        PUT("corpus", "text", "\x00hello there\nhow are you ?\n\nfine .\nhello\n") ||
        PUT("corpus", "max-vocab", "\x08" "a b c d e f g h i j k l\na a b\n\nb c\n"))
        return 1;
    return 0;
}
