/* test_text.c - tokenizer, detokenizer, vocabulary, corpus reader (plain, gzip, damaged), batcher. */
#include "harness.h"
#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

typedef struct toks {
    char buf[1024];
    size_t n;
} toks;

static void collect(void *ud, const char *t, size_t len)
{
    toks *c = ud;
    if (c->n)
        strcat(c->buf, "|");
    strncat(c->buf, t, len);
    c->n++;
}

static const char *tok(const char *line, int mode, int lower)
{
    static toks c;
    memset(&c, 0, sizeof c);
    lm_text_opts o = {mode, lower};
    lm_tokenize_line(&o, line, strlen(line), collect, &c);
    return c.buf;
}

static void test_word_tokenizer(void)
{
    CU_ASSERT_STRING_EQUAL(tok("Hello, world!", 0, 0), "Hello|,|world|!");
    CU_ASSERT_STRING_EQUAL(tok("I don't know... really?!", 0, 0), "I|do|n't|know|...|really|?|!");
    CU_ASSERT_STRING_EQUAL(tok("I'm here, you're late; we'll see.", 0, 0),
                           "I|'m|here|,|you|'re|late|;|we|'ll|see|.");
    CU_ASSERT_STRING_EQUAL(tok("It's 3.5 dollars, not 1,000.", 0, 0),
                           "It|'s|3.5|dollars|,|not|1,000|.");
    CU_ASSERT_STRING_EQUAL(tok("a well-known o'clock (test)", 0, 0),
                           "a|well-known|o'clock|(|test|)");
    CU_ASSERT_STRING_EQUAL(tok("<unk> stays <eot> whole", 0, 0), "<unk>|stays|<eot>|whole");
    CU_ASSERT_STRING_EQUAL(tok("HeLLo Wörld", 0, 1), "hello|wörld");
    /* UTF-8 kept intact; curly apostrophe splits like the ASCII one. */
    CU_ASSERT_STRING_EQUAL(tok("café — naïve “quote” can’t", 0, 0),
                           "café|—|naïve|“|quote|”|ca|n't");
    CU_ASSERT_STRING_EQUAL(tok("  \t ", 0, 0), "");
}

static void test_invalid_utf8(void)
{
    /* Invalid bytes become U+FFFD and never crash; a lone continuation byte, a truncated
     * sequence, an overlong encoding and a surrogate. */
    const char bad[] = "ab\x80 c\xC3 \xC0\xAF \xED\xA0\x80!";
    toks c = {0};
    lm_text_opts o = {0, 0};
    lm_tokenize_line(&o, bad, sizeof bad - 1, collect, &c);
    CU_ASSERT_PTR_NOT_NULL(strstr(c.buf, "ab\xEF\xBF\xBD"));
    CU_ASSERT_PTR_NULL(strstr(c.buf, "\x80|"));
    CU_ASSERT(c.n >= 4);
    /* Random bytes: no crash, every token valid UTF-8 (checked by re-tokenizing). */
    lm_rng r;
    lm_rng_seed(&r, 3);
    for (int k = 0; k < 200; k++) {
        char line[64];
        for (int i = 0; i < 63; i++)
            line[i] = (char)(lm_rng_next(&r) & 0xFF);
        line[63] = 0;
        toks d = {0};
        lm_tokenize_line(&o, line, 63, collect, &d);
        CU_ASSERT(strlen(d.buf) < sizeof d.buf);
    }
}

static void test_whitespace_and_chars(void)
{
    CU_ASSERT_STRING_EQUAL(tok(" the <unk> ca n't N ", 1, 0), "the|<unk>|ca|n't|N");
    CU_ASSERT_STRING_EQUAL(tok("ab c", 2, 0), "a|b|\xE2\x96\x81|c");
}

static void test_detokenize(void)
{
    const char *t[] = {"I", "do", "n't", "know", ",", "(", "really", ")", "...", "it", "'s",
                       "fine", "!"};
    char out[128];
    lm_detokenize(t, sizeof t / sizeof *t, out, sizeof out);
    CU_ASSERT_STRING_EQUAL(out, "I don't know, (really)... it's fine!");
    /* Truncation keeps a NUL and reports the full length. */
    size_t need = lm_detokenize(t, 3, out, 4);
    CU_ASSERT_EQUAL(need, strlen("I don't"));
    CU_ASSERT_STRING_EQUAL(out, "I d");
}

static const char *write_file(const char *name, const char *data, size_t len, int gz)
{
    static char path[8][512];
    static int slot;
    char *p = path[slot++ & 7];
    snprintf(p, 512, "%s/%s", th_tmpdir(), name);
    if (gz) {
        gzFile f = gzopen(p, "wb");
        gzwrite(f, data, (unsigned)len);
        gzclose(f);
    } else {
        FILE *f = fopen(p, "wb");
        fwrite(data, 1, len, f);
        fclose(f);
    }
    return p;
}

static void test_vocab_and_corpus(void)
{
    const char text[] = "hello there .\nhello !\n\nbye now .\r\n";
    const char *plain = write_file("c.txt", text, sizeof text - 1, 0);
    const char *gz = write_file("c.txt.gz", text, sizeof text - 1, 1);
    lm_text_opts t = {0, 0};
    lm_vocab_opts vo = {0, 1};
    lm_vocab *v;
    lm_error err;
    CU_ASSERT_FATAL(lm_vocab_build(&plain, 1, &t, &vo, &v, &err) == LM_OK);
    /* Specials, then by count: hello(2) .(2) then ! bye now there (1) in byte order. */
    CU_ASSERT_EQUAL(lm_vocab_size(v), 3 + 6);
    CU_ASSERT_STRING_EQUAL(lm_vocab_token(v, 0), "<unk>");
    CU_ASSERT_STRING_EQUAL(lm_vocab_token(v, 1), "<eot>");
    CU_ASSERT_STRING_EQUAL(lm_vocab_token(v, 2), "<eoc>");
    CU_ASSERT_STRING_EQUAL(lm_vocab_token(v, 3), ".");
    CU_ASSERT_STRING_EQUAL(lm_vocab_token(v, 4), "hello");
    CU_ASSERT_STRING_EQUAL(lm_vocab_token(v, 5), "!");
    CU_ASSERT_EQUAL(lm_vocab_count(v, LM_TOK_EOT), 3);
    CU_ASSERT_EQUAL(lm_vocab_count(v, LM_TOK_EOC), 1);
    int32_t *a, *b;
    size_t na, nb;
    lm_corpus_stats st;
    CU_ASSERT_FATAL(lm_corpus_read(plain, &t, v, &a, &na, &st, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_corpus_read(gz, &t, v, &b, &nb, NULL, &err) == LM_OK);
    /* hello there . <eot> hello ! <eot> <eoc> bye now . <eot> */
    CU_ASSERT_EQUAL(na, 12);
    CU_ASSERT_EQUAL(nb, na);
    CU_ASSERT(memcmp(a, b, na * sizeof *a) == 0);
    CU_ASSERT_EQUAL(a[3], LM_TOK_EOT);
    CU_ASSERT_EQUAL(a[7], LM_TOK_EOC);
    CU_ASSERT_EQUAL(st.lines, 3);
    CU_ASSERT_EQUAL(st.conversations, 2);
    free(a);
    free(b);
    /* max_vocab counts the specials; the rest goes to <unk>. */
    lm_vocab *small;
    vo.max_vocab = 5;
    CU_ASSERT_FATAL(lm_vocab_build(&plain, 1, &t, &vo, &small, &err) == LM_OK);
    CU_ASSERT_EQUAL(lm_vocab_size(small), 5);
    CU_ASSERT_EQUAL(lm_vocab_lookup(small, "bye", 3), LM_TOK_UNK);
    CU_ASSERT_EQUAL(lm_vocab_count(small, LM_TOK_UNK), 4);
    CU_ASSERT_FALSE(lm_vocab_equal(v, small));
    lm_vocab_free(small);
    lm_vocab_free(v);
}

static void test_damaged_corpora(void)
{
    lm_text_opts t = {0, 0};
    lm_vocab *v;
    lm_error err;
    lm_vocab_create(&v, NULL);
    int32_t *ids;
    size_t n;
    const char bin[] = "fine line\nbad \0 line\n";
    const char *p = write_file("bin.txt", bin, sizeof bin - 1, 0);
    CU_ASSERT_EQUAL(lm_corpus_read(p, &t, v, &ids, &n, NULL, &err), LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "bin.txt:2: binary"));
    p = write_file("empty.txt", "", 0, 0);
    CU_ASSERT_EQUAL(lm_corpus_read(p, &t, v, &ids, &n, NULL, &err), LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "empty.txt: the corpus holds no tokens"));
    p = write_file("blank.txt", "\n  \n\n", 5, 0);
    CU_ASSERT_EQUAL(lm_corpus_read(p, &t, v, &ids, &n, NULL, &err), LM_EFORMAT);
    CU_ASSERT_EQUAL(lm_corpus_read("/nonexistent/x.txt", &t, v, &ids, &n, NULL, &err), LM_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent/x.txt: "));
    /* A gzip file cut in the middle is reported, not read short. */
    char big[20000];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = "abc def\n"[i % 8];
    const char *gz = write_file("cut.txt.gz", big, sizeof big, 1);
    FILE *f = fopen(gz, "rb");
    char raw[4096];
    size_t len = fread(raw, 1, sizeof raw, f);
    fclose(f);
    p = write_file("cut2.txt.gz", raw, len / 2, 0);
    CU_ASSERT_EQUAL(lm_corpus_read(p, &t, v, &ids, &n, NULL, &err), LM_EFORMAT);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "cut2.txt.gz"));
    lm_vocab_free(v);
}

static void test_batcher(void)
{
    int32_t ids[23];
    for (int i = 0; i < 23; i++)
        ids[i] = i;
    lm_batcher bt;
    lm_batcher_init(&bt, ids, 23, 2, 4); /* streams 0..10 and 11..21, 11 each */
    CU_ASSERT_EQUAL(bt.len, 11);
    CU_ASSERT_EQUAL(bt.windows, 3); /* 10 predictions: 4 + 4 + 2 */
    int32_t x[8], y[8];
    CU_ASSERT_EQUAL(lm_batcher_window(&bt, 0, x, y), 4);
    CU_ASSERT_EQUAL(x[0], 0);
    CU_ASSERT_EQUAL(x[1], 11);
    CU_ASSERT_EQUAL(y[0], 1);
    CU_ASSERT_EQUAL(x[2], 1);
    CU_ASSERT_EQUAL(lm_batcher_window(&bt, 2, x, y), 2);
    CU_ASSERT_EQUAL(x[0], 8);
    CU_ASSERT_EQUAL(y[3], 21);
    /* From offset 3: 7 predictions left, windows of 4 and 3 starting at positions 3 and 7. */
    lm_batcher_set_offset(&bt, 3);
    CU_ASSERT_EQUAL(bt.windows, 2);
    CU_ASSERT_EQUAL(lm_batcher_window(&bt, 0, x, y), 4);
    CU_ASSERT(x[0] == 3 && x[1] == 14 && y[0] == 4);
    CU_ASSERT_EQUAL(lm_batcher_window(&bt, 1, x, y), 3);
    CU_ASSERT(x[0] == 7 && y[4] == 10 && y[5] == 21);
    lm_batcher_set_offset(&bt, 0);
    CU_ASSERT_EQUAL(bt.windows, 3);
}

int main(void)
{
    static const th_test tests[] = {
        {"word tokenizer", test_word_tokenizer},
        {"invalid utf-8", test_invalid_utf8},
        {"whitespace and character tokenizers", test_whitespace_and_chars},
        {"detokenizer", test_detokenize},
        {"vocabulary and corpus reader, plain and gzip", test_vocab_and_corpus},
        {"damaged corpora", test_damaged_corpora},
        {"batcher", test_batcher},
        {NULL, NULL},
    };
    return th_run("text", tests);
}
