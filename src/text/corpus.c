/* corpus.c - reading corpora (plain or gzip) into id streams, and the window batcher. */
#include "text/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int lm_read_file(const char *path, char **out, size_t *outlen, lm_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return lm_fail(err, LM_EIO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (cap - len < (1 << 15)) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(f);
                return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        /* gzread takes an unsigned count and returns an int: read at most 1 GiB at a time. */
        size_t want = cap - len - 1 < ((size_t)1 << 30) ? cap - len - 1 : ((size_t)1 << 30);
        int r = gzread(f, buf + len, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *m = gzerror(f, &zerr);
            lm_fail(err, LM_EIO, "%s: %s", path,
                    zerr == Z_ERRNO ? strerror(errno) : (m ? m : "read error"));
            free(buf);
            gzclose(f);
            return LM_EIO;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    /* A truncated gzip stream reads short without an error from gzread; gzclose tells. */
    int zc = gzclose(f);
    if (zc != Z_OK && zc != Z_BUF_ERROR) {
        free(buf);
        return lm_fail(err, LM_EFORMAT, "%s: damaged gzip data", path);
    }
    if (zc == Z_BUF_ERROR) {
        free(buf);
        return lm_fail(err, LM_EFORMAT, "%s: truncated gzip file", path);
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return LM_OK;
}

size_t lm_find_nul(const char *buf, size_t len)
{
    const char *p = memchr(buf, '\0', len);
    return p ? (size_t)(p - buf) : len;
}

int lm_for_each_line(const char *buf, size_t len, lm_line_fn fn, void *ud)
{
    size_t lineno = 0, i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t l = end - i;
        if (l && buf[i + l - 1] == '\r')
            l--;
        int rc = fn(ud, buf + i, l, ++lineno);
        if (rc)
            return rc;
        i = end + 1;
    }
    return 0;
}

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

int lm_check_text(const char *path, const char *buf, size_t len, lm_error *err)
{
    size_t nul = lm_find_nul(buf, len);
    if (nul == len)
        return LM_OK;
    size_t line = 1;
    for (size_t i = 0; i < nul; i++)
        line += buf[i] == '\n';
    return lm_fail(err, LM_EFORMAT, "%s:%zu: binary data (NUL byte): not a text file", path,
                   line);
}

int lm_read_text(const char *path, char **buf, size_t *len, lm_error *err)
{
    int rc = lm_read_file(path, buf, len, err);
    if (!rc && (rc = lm_check_text(path, *buf, *len, err))) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
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
