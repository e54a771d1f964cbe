/* import_cornell.c - Cornell Movie-Dialogs: movie_lines.txt and movie_conversations.txt
 * rebuilt into conversations in the order of their line-id lists. */
#include "text/import.h"
#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Cornell Movie-Dialogs ----------------------------------------------------------------- */

/* Splits a line at " +++$+++ " into at most max fields (the last one takes the rest of the
 * line); the separator's final space may be missing at the end of the line. */
static size_t cornell_fields(const char *line, size_t n, const char **f, size_t *fl, size_t max)
{
    static const char sep[] = " +++$+++";
    const size_t k = sizeof sep - 1;
    size_t nf = 0;
    const char *p = line, *e = line + n;
    while (nf + 1 < max) {
        const char *s = lm_imp_find_str(p, (size_t)(e - p), sep);
        if (!s)
            break;
        f[nf] = p;
        fl[nf++] = (size_t)(s - p);
        p = s + k;
        if (p < e && *p == ' ')
            p++;
    }
    f[nf] = p;
    fl[nf++] = (size_t)(e - p);
    return nf;
}

/* The next non-blank record of c split into at most max fields (*nf of them); 0 at the end. */
static int next_record(cursor *c, const char **f, size_t *fl, size_t max, size_t *nf)
{
    const char *line;
    size_t n;
    while (lm_imp_next_line(c, &line, &n))
        if (!lm_imp_is_blank(line, n)) {
            *nf = cornell_fields(line, n, f, fl, max);
            return 1;
        }
    return 0;
}

/* Trims spaces and tabs around s[0..*n). */
static const char *trim(const char *s, size_t *n)
{
    while (*n && (s[0] == ' ' || s[0] == '\t')) {
        s++;
        (*n)--;
    }
    while (*n && (s[*n - 1] == ' ' || s[*n - 1] == '\t'))
        (*n)--;
    return s;
}

typedef struct cornell_line {
    const char *speaker, *text; /* into the file buffers, alive until the import ends */
    size_t slen, tlen;
} cornell_line;

typedef struct cornell {
    importer *im;
    lm_vocab *ids;       /* line id -> LM_N_SPECIAL + index into lines (used as a string set) */
    cornell_line *lines;
    size_t n, cap;
} cornell;

enum { CORNELL_LINES, CORNELL_CONVERSATIONS };

/* Tells a movie_lines file from a movie_conversations file by the first non-blank line (the
 * latter ends in a "[...]" list), then by the file name. Returns -1 when neither fits. */
static int cornell_kind(const char *path, const char *buf, size_t len)
{
    cursor c = {buf, buf + len, 0};
    const char *f[5];
    size_t fl[5], nf;
    while (next_record(&c, f, fl, 5, &nf)) {
        size_t ll = fl[nf - 1];
        const char *last = trim(f[nf - 1], &ll);
        if (nf == 4 && ll && last[0] == '[')
            return CORNELL_CONVERSATIONS;
        if (nf == 5)
            return CORNELL_LINES;
        break;
    }
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (strstr(base, "conversations"))
        return CORNELL_CONVERSATIONS;
    if (strstr(base, "lines"))
        return CORNELL_LINES;
    return -1;
}

static int cornell_read_lines(cornell *cn, const char *path, const char *buf, size_t len)
{
    importer *im = cn->im;
    cursor c = {buf, buf + len, 0};
    const char *f[5];
    size_t fl[5], nf;
    while (next_record(&c, f, fl, 5, &nf)) {
        if (nf < 5) {
            lm_imp_warnf(im, path, c.lineno, "truncated record: %zu of 5 fields, line skipped", nf);
            continue;
        }
        size_t il = fl[0];
        const char *id = trim(f[0], &il);
        size_t before = lm_vocab_size(cn->ids);
        int32_t k = il ? lm_vocab_add(cn->ids, id, il, 1) : LM_TOK_UNK;
        if (k < 0)
            return lm_fail(im->err, LM_ENOMEM, "out of memory");
        if (k < LM_N_SPECIAL) {
            lm_imp_warnf(im, path, c.lineno, "bad line id '%.*s', line skipped", (int)il, id);
            continue;
        }
        if (lm_vocab_size(cn->ids) == before) {
            lm_imp_warnf(im, path, c.lineno, "duplicate line id '%.*s', line skipped", (int)il, id);
            continue;
        }
        if (cn->n == cn->cap) {
            size_t cap = cn->cap ? cn->cap * 2 : 4096;
            cornell_line *p = realloc(cn->lines, cap * sizeof *p);
            if (!p)
                return lm_fail(im->err, LM_ENOMEM, "out of memory");
            cn->lines = p;
            cn->cap = cap;
        }
        LM_ASSERT((size_t)k - LM_N_SPECIAL == cn->n);
        cn->lines[cn->n++] = (cornell_line){f[3], f[4], fl[3], fl[4]};
    }
    return LM_OK;
}

/* Writes the turn of one line id, or reports it missing (which ends the conversation). */
static int cornell_turn(cornell *cn, const char *path, size_t lineno, const char *id, size_t il)
{
    importer *im = cn->im;
    int32_t k = lm_vocab_lookup(cn->ids, id, il);
    if (k < LM_N_SPECIAL) {
        lm_imp_warnf(im, path, lineno, "unknown line id '%.*s'", (int)il, id);
        im->st.missing_ids++;
        lm_imp_end_conversation(im);
        return LM_OK;
    }
    const cornell_line *cl = &cn->lines[k - LM_N_SPECIAL];
    int rc = lm_imp_clean_into(im, &im->text, cl->text, cl->tlen, 1);
    if (rc)
        return rc;
    if (!im->text.len) {
        im->st.empty++;
        return LM_OK;
    }
    im->speaker.len = 0;
    if (im->o->speakers && (rc = lm_imp_clean_into(im, &im->speaker, cl->speaker, cl->slen, 1)))
        return rc;
    lm_imp_write_turn(im, im->speaker.p, im->speaker.len, im->text.p, im->text.len);
    return LM_OK;
}

static int cornell_conversations(cornell *cn, const char *path, const char *buf, size_t len)
{
    importer *im = cn->im;
    cursor c = {buf, buf + len, 0};
    const char *f[4];
    size_t fl[4], nf;
    while (next_record(&c, f, fl, 4, &nf)) {
        size_t ll = fl[nf - 1];
        const char *p = trim(f[nf - 1], &ll);
        if (nf < 4 || !ll || p[0] != '[') {
            lm_imp_warnf(im, path, c.lineno, "truncated record: %s, line skipped",
                  nf < 4 ? "fewer than 4 fields" : "no line-id list");
            continue;
        }
        const char *e = p + ll;
        p++;
        for (;;) {
            while (p < e && (*p == ' ' || *p == ','))
                p++;
            if (p == e) {
                lm_imp_warnf(im, path, c.lineno, "line-id list not closed (truncated?)");
                break;
            }
            if (*p == ']')
                break;
            const char *id = p, *after;
            size_t il;
            if (*p == '\'' || *p == '"') {
                const char *q = memchr(p + 1, *p, (size_t)(e - p - 1));
                if (!q) {
                    lm_imp_warnf(im, path, c.lineno, "line-id list ends inside an id (truncated?)");
                    break;
                }
                id = p + 1;
                il = (size_t)(q - id);
                after = q + 1;
            } else {
                while (p < e && *p != ',' && *p != ']' && *p != ' ')
                    p++;
                il = (size_t)(p - id);
                after = p;
            }
            int rc = cornell_turn(cn, path, c.lineno, id, il);
            if (rc)
                return rc;
            p = after;
        }
        lm_imp_end_conversation(im);
    }
    return LM_OK;
}

int lm_imp_cornell(importer *im, input_list *l)
{
    cornell cn = {.im = im};
    int rc = lm_vocab_create(&cn.ids, im->err);
    if (rc)
        return rc;
    int *kind = malloc(l->n * sizeof *kind);
    size_t n_lines = 0, n_conv = 0;
    if (!kind) {
        rc = lm_fail(im->err, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < l->n; i++) {
        kind[i] = cornell_kind(l->v[i].path, l->v[i].buf, l->v[i].len);
        if (kind[i] < 0) {
            rc = lm_fail(im->err, LM_EFORMAT,
                         "%s: neither a Cornell movie_lines nor a movie_conversations file",
                         l->v[i].path);
            goto out;
        }
        n_lines += kind[i] == CORNELL_LINES;
        n_conv += kind[i] == CORNELL_CONVERSATIONS;
    }
    if (!n_lines || !n_conv) {
        rc = lm_fail(im->err, LM_EINVAL,
                     "the cornell format needs movie_lines.txt and movie_conversations.txt "
                     "(or the directory holding them); no %s file given",
                     n_lines ? "movie_conversations" : "movie_lines");
        goto out;
    }
    for (size_t i = 0; i < l->n && !rc; i++)
        if (kind[i] == CORNELL_LINES)
            rc = cornell_read_lines(&cn, l->v[i].path, l->v[i].buf, l->v[i].len);
    for (size_t i = 0; i < l->n && !rc; i++)
        if (kind[i] == CORNELL_CONVERSATIONS) {
            size_t before = im->st.turns;
            rc = cornell_conversations(&cn, l->v[i].path, l->v[i].buf, l->v[i].len);
            if (!rc && im->st.turns == before)
                lm_imp_warnf(im, l->v[i].path, 0, "no turns found");
        }
out:
    free(kind);
    free(cn.lines);
    lm_vocab_free(cn.ids);
    return rc;
}
