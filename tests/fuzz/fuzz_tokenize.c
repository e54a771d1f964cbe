/* fuzz_tokenize.c - the tokenizer and detokenizer: the first byte picks the mode and
 * lower-casing, every line of the rest is tokenized and the tokens joined again. */
#include "fuzz/fuzz.h"

#include <string.h>

typedef struct toks {
    char buf[8192];
    const char *tok[1024];
    size_t n, used;
} toks;

static void keep(void *ud, const char *tok, size_t len)
{
    toks *t = ud;
    if (t->n == 1024 || t->used + len + 1 > sizeof t->buf)
        return;
    memcpy(t->buf + t->used, tok, len);
    t->buf[t->used + len] = '\0';
    t->tok[t->n++] = t->buf + t->used;
    t->used += len + 1;
}

FUZZ_TARGET(tokenize)
{
    if (size < 1)
        return 0;
    lm_text_opts o;
    lm_text_opts_init(&o);
    o.tokenize = data[0] % 3 == 0 ? LM_TOKENIZE_WORDS
                 : data[0] % 3 == 1 ? LM_TOKENIZE_WHITESPACE
                                    : LM_TOKENIZE_CHARS;
    o.lowercase = (data[0] >> 2) & 1;
    const char *p = (const char *)data + 1, *end = (const char *)data + size;
    static toks t;
    char out[4096];
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        t.n = t.used = 0;
        lm_tokenize_line(&o, p, len, keep, &t);
        lm_detokenize(t.tok, t.n, out, sizeof out);
        char piece[64];
        for (size_t i = 0; i < t.n; i++)
            lm_detok_piece(o.tokenize, i ? t.tok[i - 1] : NULL, t.tok[i], piece, sizeof piece);
        p += len + 1;
    }
    return 0;
}
