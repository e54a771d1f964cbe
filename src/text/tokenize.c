/* tokenize.c - word tokenizer and detokenizer. */
#include "text/text.h"

#include <stdlib.h>
#include <string.h>

void lm_text_opts_init(lm_text_opts *o)
{
    o->tokenize = LM_TOKENIZE_WORDS;
    o->lowercase = 0;
}

/* Length of a valid UTF-8 sequence at s (1..4), or 0 when the bytes are invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
    uint32_t cp;
    return lm_utf8_decode(s, n, &cp);
}

/* Character classes of the word tokenizer. */
enum { C_SPACE, C_WORD, C_PUNCT, C_APOS };

/* Classifies the (valid) character at s of byte length k. */
static int char_class(const unsigned char *s, size_t k)
{
    unsigned c = s[0];
    if (k == 1) {
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f')
            return C_SPACE;
        if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_')
            return C_WORD;
        if (c == '\'')
            return C_APOS;
        return C_PUNCT;
    }
    if (k == 3 && s[0] == 0xE2 && s[1] == 0x80) {
        if (s[2] == 0x99) /* U+2019 right single quote, used as apostrophe */
            return C_APOS;
        if ((s[2] >= 0x90 && s[2] <= 0x9F) || s[2] == 0xA6) /* dashes, quotes, ellipsis */
            return C_PUNCT;
        if (s[2] == 0x8B || s[2] == 0xAF) /* zero-width / narrow spaces */
            return C_SPACE;
    }
    if (k == 2 && s[0] == 0xC2 && (s[1] == 0xA0)) /* no-break space */
        return C_SPACE;
    if (k == 2 && s[0] == 0xC2 && (s[1] == 0xAB || s[1] == 0xBB || s[1] == 0xBF || s[1] == 0xA1))
        return C_PUNCT; /* guillemets, inverted ? and ! */
    if (k == 3 && s[0] == 0xEF && s[1] == 0xBB && s[2] == 0xBF) /* byte order mark */
        return C_SPACE;
    return C_WORD;
}

/* A sanitized copy of the line: invalid UTF-8 bytes become U+FFFD, ASCII lower-cased on
 * request. Returns the length; out must hold 3*len bytes. */
static size_t sanitize(const char *in, size_t len, int lower, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        size_t k = utf8_len(s + i, len - i);
        if (k == 0) {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
            continue;
        }
        for (size_t j = 0; j < k; j++) {
            unsigned char c = s[i + j];
            out[o++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
        i += k;
    }
    return o;
}

static int is_alpha(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* Emits a word that may hold apostrophes, splitting English clitics the PTB way:
 * "don't" -> "do" "n't", "I'm" -> "I" "'m"; other apostrophes stay inside ("o'clock"). */
static size_t emit_word(const char *w, size_t n, lm_token_fn fn, void *ud)
{
    /* Find the last apostrophe (ASCII ' or U+2019). */
    for (size_t p = n; p-- > 0;) {
        size_t alen = 0;
        if (w[p] == '\'')
            alen = 1;
        else if (p + 3 <= n && (unsigned char)w[p] == 0xE2 && (unsigned char)w[p + 1] == 0x80 &&
                 (unsigned char)w[p + 2] == 0x99)
            alen = 3;
        if (!alen)
            continue;
        const char *suf = w + p + alen;
        size_t sl = n - p - alen;
        char low[3] = {0};
        for (size_t i = 0; i < sl && i < 2; i++)
            low[i] = (char)(w[p + alen + i] | 0x20);
        (void)suf;
        if (p >= 2 && sl == 1 && low[0] == 't' && (w[p - 1] | 0x20) == 'n') {
            fn(ud, w, p - 1);
            char tok[8];
            tok[0] = w[p - 1];
            memcpy(tok + 1, "'", 1);
            tok[2] = w[p + alen];
            fn(ud, tok, 3);
            return 2;
        }
        if (p >= 1 && ((sl == 1 && (low[0] == 's' || low[0] == 'm' || low[0] == 'd')) ||
                       (sl == 2 && ((low[0] == 'l' && low[1] == 'l') ||
                                    (low[0] == 'r' && low[1] == 'e') ||
                                    (low[0] == 'v' && low[1] == 'e'))))) {
            fn(ud, w, p);
            char tok[4];
            tok[0] = '\'';
            memcpy(tok + 1, w + p + alen, sl);
            fn(ud, tok, 1 + sl);
            return 2;
        }
        break;
    }
    fn(ud, w, n);
    return 1;
}

/* Word tokenizer over a sanitized line. */
static size_t tok_words(const char *s, size_t n, lm_token_fn fn, void *ud)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t count = 0;
    size_t i = 0;
    while (i < n) {
        size_t k = utf8_len(u + i, n - i);
        int c = char_class(u + i, k);
        if (c == C_SPACE) {
            i += k;
            continue;
        }
        /* A <special> token stays whole. */
        if (u[i] == '<') {
            size_t j = i + 1;
            while (j < n && (is_alpha(u[j]) || is_digit(u[j]) || u[j] == '_'))
                j++;
            if (j < n && u[j] == '>' && j > i + 1) {
                fn(ud, s + i, j + 1 - i);
                count++;
                i = j + 1;
                continue;
            }
        }
        if (c == C_WORD) {
            size_t j = i;
            while (j < n) {
                size_t kj = utf8_len(u + j, n - j);
                int cj = char_class(u + j, kj);
                if (cj == C_WORD) {
                    j += kj;
                    continue;
                }
                /* Keep an apostrophe, hyphen, or a digit separator inside a word. */
                if (j + kj < n) {
                    size_t kn = utf8_len(u + j + kj, n - j - kj);
                    int cn = char_class(u + j + kj, kn);
                    if (cn == C_WORD && cj == C_APOS) {
                        j += kj;
                        continue;
                    }
                    if (cn == C_WORD && u[j] == '-' && is_alpha(u[j - 1]) && is_alpha(u[j + 1])) {
                        j += kj;
                        continue;
                    }
                    if ((u[j] == '.' || u[j] == ',' || u[j] == ':') && is_digit(u[j - 1]) &&
                        is_digit(u[j + 1])) {
                        j += kj;
                        continue;
                    }
                }
                break;
            }
            count += emit_word(s + i, j - i, fn, ud);
            i = j;
            continue;
        }
        /* Punctuation (and a stray apostrophe): runs of . ! ? - stay together ("...", "--"). */
        size_t j = i + k;
        if (k == 1 && (u[i] == '.' || u[i] == '!' || u[i] == '?' || u[i] == '-'))
            while (j < n && u[j] == u[i])
                j++;
        fn(ud, s + i, j - i);
        count++;
        i = j;
    }
    return count;
}

static size_t tok_whitespace(const char *s, size_t n, lm_token_fn fn, void *ud)
{
    size_t count = 0, i = 0;
    while (i < n) {
        while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f'))
            i++;
        size_t j = i;
        while (j < n && !(s[j] == ' ' || s[j] == '\t' || s[j] == '\r' || s[j] == '\v' || s[j] == '\f'))
            j++;
        if (j > i) {
            fn(ud, s + i, j - i);
            count++;
        }
        i = j;
    }
    return count;
}

/* Character tokenizer: each UTF-8 character a token, spaces shown as U+2581. */
static size_t tok_chars(const char *s, size_t n, lm_token_fn fn, void *ud)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t count = 0, i = 0;
    int pending_space = 0;
    while (i < n) {
        size_t k = utf8_len(u + i, n - i);
        if (char_class(u + i, k) == C_SPACE) {
            pending_space = count > 0;
            i += k;
            continue;
        }
        if (pending_space) {
            fn(ud, "\xE2\x96\x81", 3);
            count++;
            pending_space = 0;
        }
        fn(ud, s + i, k);
        count++;
        i += k;
    }
    return count;
}

size_t lm_tokenize_line(const lm_text_opts *o, const char *line, size_t len, lm_token_fn fn,
                        void *ud)
{
    char stackbuf[4096];
    char *buf = stackbuf;
    size_t need;
    if (!lm_mul_ok(len, 3, &need))
        return 0;
    if (need > sizeof stackbuf) {
        buf = malloc(need);
        if (!buf)
            return 0;
    }
    size_t n = sanitize(line, len, o && o->lowercase, buf);
    int mode = o ? o->tokenize : LM_TOKENIZE_WORDS;
    size_t count = mode == LM_TOKENIZE_WHITESPACE ? tok_whitespace(buf, n, fn, ud)
                   : mode == LM_TOKENIZE_CHARS    ? tok_chars(buf, n, fn, ud)
                                                  : tok_words(buf, n, fn, ud);
    if (buf != stackbuf)
        free(buf);
    return count;
}

static int is_closing(const char *t)
{
    static const char *const no_space[] = {"n't", "'s", "'m", "'d", "'ll", "'re", "'ve", "N'T",
                                           "'S", "'M", "'D", "'LL", "'RE", "'VE", NULL};
    for (size_t i = 0; no_space[i]; i++)
        if (!strcmp(t, no_space[i]))
            return 1;
    if (strchr(".,!?;:%)]}", t[0]) && t[0])
        return 1;
    if (!strncmp(t, "\xE2\x80\xA6", 3) || !strncmp(t, "\xE2\x80\x99", 3) ||
        !strncmp(t, "\xE2\x80\x9D", 3))
        return 1;
    return 0;
}

int lm_detok_space_before(const char *prev, const char *tok)
{
    if (!prev || !*prev)
        return 0;
    if (is_closing(tok))
        return 0;
    size_t pl = strlen(prev);
    if (pl == 1 && strchr("([{$#", prev[0]))
        return 0;
    if (!strcmp(prev, "\xE2\x80\x9C") || !strcmp(prev, "\xC2\xBF") || !strcmp(prev, "\xC2\xA1"))
        return 0;
    if (!strcmp(tok, "-") && pl && prev[pl - 1] == '-')
        return 1;
    return 1;
}

size_t lm_detokenize(const char *const *toks, size_t n, char *out, size_t cap)
{
    size_t len = 0;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t tl = strlen(toks[i]);
        int sp = lm_detok_space_before(prev, toks[i]);
        if (sp) {
            if (len + 1 < cap)
                out[len] = ' ';
            len++;
        }
        for (size_t j = 0; j < tl; j++, len++)
            if (len + 1 < cap)
                out[len] = toks[i][j];
        prev = toks[i];
    }
    if (cap)
        out[len < cap ? len : cap - 1] = '\0';
    return len;
}

static const char *const tokenize_names[] = {"words", "whitespace", "chars"};

const char *lm_tokenize_name(int tokenize)
{
    return tokenize >= 0 && tokenize <= LM_TOKENIZE_CHARS ? tokenize_names[tokenize] : "?";
}

int lm_tokenize_parse(const char *name)
{
    for (int i = 0; i <= LM_TOKENIZE_CHARS; i++)
        if (!strcmp(name, tokenize_names[i]))
            return i;
    return LM_EINVAL;
}
