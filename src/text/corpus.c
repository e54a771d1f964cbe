/* corpus.c - reading corpora (plain or gzip) into id streams, and the window batcher. */
#include "text/text.h"

#include <stdlib.h>
#include <string.h>

/* Growing id array. */
typedef struct ids_ctx {
    const lm_vocab *v;
    const lm_text_opts *t;
    int32_t *ids;
    size_t n, cap;
    int failed;
    size_t turns_pending;
    lm_corpus_stats st;
} ids_ctx;

static void push(ids_ctx *c, int32_t id)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4096;
        int32_t *p = realloc(c->ids, cap * sizeof *p);
        if (!p) {
            c->failed = 1;
            return;
        }
        c->ids = p;
        c->cap = cap;
    }
    c->ids[c->n++] = id;
}

static void push_token(void *ud, const char *tok, size_t len)
{
    ids_ctx *c = ud;
    int32_t id = lm_vocab_lookup(c->v, tok, len);
    if (id == LM_TOK_UNK && !(len == 5 && !memcmp(tok, "<unk>", 5)))
        c->st.oov++;
    push(c, id);
}

static int ids_line(void *ud, const char *line, size_t len, size_t lineno)
{
    (void)lineno;
    ids_ctx *c = ud;
    if (lm_tokenize_line(c->t, line, len, push_token, c) == 0) {
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t'))
            i++;
        if (i == len && c->turns_pending) {
            push(c, LM_TOK_EOC);
            c->turns_pending = 0;
            c->st.conversations++;
        }
        return c->failed;
    }
    push(c, LM_TOK_EOT);
    c->turns_pending++;
    c->st.lines++;
    return c->failed;
}

int lm_corpus_read(const char *path, const lm_text_opts *t, const lm_vocab *v, int32_t **ids,
                   size_t *n, lm_corpus_stats *stats, lm_error *err)
{
    char *buf;
    size_t len;
    int rc = lm_read_text(path, &buf, &len, err);
    if (rc)
        return rc;
    ids_ctx c = {.v = v, .t = t};
    rc = lm_for_each_line(buf, len, ids_line, &c);
    free(buf);
    if (rc) {
        free(c.ids);
        return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
    }
    if (c.turns_pending)
        c.st.conversations++;
    if (c.n == 0) {
        free(c.ids);
        return lm_fail(err, LM_EFORMAT, "%s: the corpus holds no tokens (empty file?)", path);
    }
    c.st.tokens = c.n;
    if (stats)
        *stats = c.st;
    *ids = c.ids;
    *n = c.n;
    return LM_OK;
}

int lm_text_to_ids(const char *text, const lm_text_opts *t, const lm_vocab *v, int add_eot,
                   int32_t **ids, size_t *n, lm_error *err)
{
    ids_ctx c = {.v = v, .t = t};
    const char *p = text;
    for (;;) {
        const char *nl = strchr(p, '\n');
        size_t l = nl ? (size_t)(nl - p) : strlen(p);
        size_t before = c.n;
        lm_tokenize_line(t, p, l, push_token, &c);
        if (add_eot && c.n > before)
            push(&c, LM_TOK_EOT);
        if (!nl)
            break;
        p = nl + 1;
    }
    if (c.failed) {
        free(c.ids);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    *ids = c.ids;
    *n = c.n;
    return LM_OK;
}

void lm_batcher_init(lm_batcher *bt, const int32_t *ids, size_t n, size_t B, size_t T)
{
    bt->ids = ids;
    bt->B = B;
    bt->T = T;
    bt->len = B ? n / B : 0;
    lm_batcher_set_offset(bt, 0);
}

void lm_batcher_set_offset(lm_batcher *bt, size_t off)
{
    size_t T = bt->T;
    bt->off = bt->len > off + 1 ? off : 0;
    size_t usable = bt->len > bt->off + 1 ? bt->len - 1 - bt->off : 0;
    bt->windows = T ? (usable + T - 1) / T : 0;
}

size_t lm_batcher_window(const lm_batcher *bt, size_t k, int32_t *x, int32_t *y)
{
    size_t start = bt->off + k * bt->T;
    size_t T = bt->T;
    if (start + T > bt->len - 1)
        T = bt->len - 1 - start;
    for (size_t t = 0; t < T; t++)
        for (size_t b = 0; b < bt->B; b++) {
            const int32_t *s = bt->ids + b * bt->len;
            x[t * bt->B + b] = s[start + t];
            y[t * bt->B + b] = s[start + t + 1];
        }
    return T;
}
