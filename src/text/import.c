/* import.c - the corpus importers' shared parts: formats, turn cleaning, the writer every importer
 * uses, the plain-text and __eou__ formats, and lm_corpus_import, which expands the inputs and
 * hands each file to its format (import_srt.c, import_cornell.c). */
#include "text/import.h"
#include "text/text.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- formats and options ----------------------------------------------------------------- */

static const char *const format_names[] = {"text", "cornell", "srt", "eou"};
#define N_FORMATS (sizeof format_names / sizeof format_names[0])

const char *lm_import_format_name(int format)
{
    return format >= 0 && (size_t)format < N_FORMATS ? format_names[format] : "?";
}

int lm_import_format_parse(const char *name)
{
    for (size_t i = 0; name && i < N_FORMATS; i++)
        if (!strcmp(name, format_names[i]))
            return (int)i;
    return LM_EINVAL;
}

void lm_import_opts_init(lm_import_opts *o)
{
    memset(o, 0, sizeof *o);
    o->format = LM_IMPORT_TEXT;
    o->gap = 5.0;
}

/* ---- characters -------------------------------------------------------------------------- */

/* Windows-1252 bytes 0x80-0x9F; the five unassigned ones become U+FFFD. Bytes 0xA0-0xFF are
 * Latin-1, equal to their code points. */
static const uint16_t cp1252_high[32] = {
    0x20AC, 0xFFFD, 0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xFFFD, 0x017D, 0xFFFD, 0xFFFD, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0xFFFD, 0x017E, 0x0178};

static uint32_t cp1252(unsigned char c)
{
    return c >= 0x80 && c < 0xA0 ? cp1252_high[c - 0x80] : c;
}

static int lower_ascii(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/* Case-insensitive ASCII comparison of n bytes. */
static int same_ci(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lower_ascii((unsigned char)a[i]) != lower_ascii((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Length of a formatting tag or ASS override block at s, or 0 when s does not start one.
 * *is_break is set for <br>, which stands for a line break. */
static size_t tag_len(const unsigned char *s, size_t n, int *is_break)
{
    static const char *const tags[] = {"i", "b", "u", "s", "em", "strong", "font", "span", "br",
                                       "c", "v", "ruby", "rt", NULL};
    *is_break = 0;
    if (s[0] == '{') {
        if (n < 2 || s[1] != '\\')
            return 0;
        const unsigned char *e = memchr(s, '}', n);
        return e ? (size_t)(e - s) + 1 : 0;
    }
    size_t j = 1;
    if (j < n && s[j] == '/')
        j++;
    size_t name = j;
    while (j < n && ((s[j] >= 'a' && s[j] <= 'z') || (s[j] >= 'A' && s[j] <= 'Z')))
        j++;
    size_t nl = j - name;
    if (nl == 0 || j >= n || !(s[j] == '>' || s[j] == ' ' || s[j] == '/'))
        return 0;
    int known = 0;
    for (size_t t = 0; tags[t] && !known; t++)
        known = strlen(tags[t]) == nl && same_ci(tags[t], (const char *)s + name, nl);
    if (!known)
        return 0;
    while (j < n && s[j] != '>' && s[j] != '<')
        j++;
    if (j >= n || s[j] != '>')
        return 0;
    *is_break = nl == 2 && same_ci("br", (const char *)s + name, 2);
    return j + 1;
}

size_t lm_import_clean(const char *in, size_t len, int strip_tags, char *out, size_t *recoded)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    int space = 0; /* a space is due before the next visible character */
    for (size_t i = 0; i < len;) {
        if (strip_tags && (s[i] == '<' || s[i] == '{')) {
            int brk;
            size_t k = tag_len(s + i, len - i, &brk);
            if (k) {
                space |= brk;
                i += k;
                continue;
            }
        }
        uint32_t cp;
        size_t k = lm_utf8_decode(s + i, len - i, &cp);
        int valid = k != 0;
        if (!valid) {
            cp = cp1252(s[i]);
            k = 1;
            if (recoded)
                (*recoded)++;
        }
        i += k;
        if (cp < 0x20 || (cp >= 0x7F && cp < 0xA0) || cp == 0xA0 || cp == 0x2028 ||
            cp == 0x2029 || cp == ' ') {
            space = 1;
            continue;
        }
        if (cp == 0xFEFF)
            continue;
        if (space && o)
            out[o++] = ' ';
        space = 0;
        if (valid) {
            memcpy(out + o, s + i - k, k);
            o += k;
        } else {
            o += lm_utf8_encode(cp, out + o);
        }
    }
    return o;
}

/* ---- the writer shared by every importer -------------------------------------------------- */

int lm_imp_grow(growbuf *b, size_t need)
{
    if (need <= b->cap)
        return LM_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2)
            return LM_ENOMEM;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p)
        return LM_ENOMEM;
    b->p = p;
    b->cap = cap;
    return LM_OK;
}

void lm_imp_warnf(importer *im, const char *file, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

void lm_imp_warnf(importer *im, const char *file, size_t line, const char *fmt, ...)
{
    im->st.warnings++;
    if (!im->o->warn)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    im->o->warn(im->o->warn_ud, file, line, msg);
}

/* Cleans s[0..n) into b (see lm_import_clean); b->len is the cleaned length. */
int lm_imp_clean_into(importer *im, growbuf *b, const char *s, size_t n, int tags)
{
    size_t need;
    if (!lm_mul_ok(n, 3, &need) || lm_imp_grow(b, need + 1))
        return lm_fail(im->err, LM_ENOMEM, "out of memory");
    b->len = lm_import_clean(s, n, tags, b->p, &im->st.recoded);
    return LM_OK;
}

static void put(importer *im, const char *s, size_t n)
{
    if (n && fwrite(s, 1, n, im->out) != n)
        im->write_failed = 1;
}

/* Writes one turn (clean, non-empty text), prefixed by "speaker: " when slen > 0. */
void lm_imp_write_turn(importer *im, const char *speaker, size_t slen, const char *text,
                       size_t len)
{
    if (slen) {
        put(im, speaker, slen);
        put(im, ": ", 2);
    }
    put(im, text, len);
    put(im, "\n", 1);
    im->st.turns++;
    im->conv_turns++;
}

/* Ends the current conversation with a blank line, unless it has no turn. */
void lm_imp_end_conversation(importer *im)
{
    if (!im->conv_turns)
        return;
    put(im, "\n", 1);
    im->st.conversations++;
    im->conv_turns = 0;
}

/* ---- text and __eou__ ---------------------------------------------------------------------- */

static int import_text(importer *im, const char *path, const char *buf, size_t len)
{
    (void)path;
    cursor c = {buf, buf + len, 0};
    const char *line;
    size_t n;
    while (lm_imp_next_line(&c, &line, &n)) {
        int rc = lm_imp_clean_into(im, &im->text, line, n, 0);
        if (rc)
            return rc;
        if (im->text.len)
            lm_imp_write_turn(im, NULL, 0, im->text.p, im->text.len);
        else
            lm_imp_end_conversation(im);
    }
    lm_imp_end_conversation(im);
    return LM_OK;
}

/* DailyDialog's own tokenisation undone: curly quotes become ASCII ones, a clitic split off by
 * spaces joins its word again ("let ’ s" -> "let's", "don ’ t" -> "don't"), sentences glued
 * at a full stop are parted ("too far.Can you" -> "too far. Can you") and punctuation loses its
 * leading space ("sir , is it ?" -> "sir, is it?"), so the text reads like the other corpora
 * and the tokenizer makes "'s" and "n't" of it rather than the words "s" and "t". */
static int is_clitic(const char *t, size_t n)
{
    static const char *const c[] = {"s", "t", "m", "d", "ll", "re", "ve"};
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++)
        if (n == strlen(c[i]) && same_ci(t, c[i], n))
            return 1;
    return 0;
}

static int is_punct_token(const char *t, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!strchr(",.?!;:)%", t[i]))
            return 0;
    return n > 0;
}

static int is_alnum(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The output so far ends in the word "o" ("o ' clock"). */
static int o_clock(const char *out, size_t o)
{
    return (out[o - 1] == 'o' || out[o - 1] == 'O') && (o == 1 || out[o - 2] == ' ');
}

/* Where a token glues two sentences ("far.Can"): the index after the mark, or 0. */
static size_t glued_sentence(const char *t, size_t n)
{
    for (size_t k = 1; k + 1 < n; k++)
        if ((t[k] == '.' || t[k] == '?' || t[k] == '!') &&
            ((t[k - 1] >= 'a' && t[k - 1] <= 'z') || (t[k - 1] >= '0' && t[k - 1] <= '9')) &&
            t[k + 1] >= 'A' && t[k + 1] <= 'Z')
            return k + 1;
    return 0;
}

/* in (len bytes, clean: single spaces) -> out (at least 2 * len + 1 bytes); tmp (len + 1)
 * receives the text with ASCII quotes. Returns the length written. */
size_t lm_import_eou_normalize(const char *in, size_t len, char *tmp, char *out)
{
    size_t q = 0;
    for (size_t i = 0; i < len;) {
        const unsigned char *s = (const unsigned char *)in + i;
        uint32_t cp;
        size_t k = lm_utf8_decode(s, len - i, &cp);
        if (!k)
            k = 1, cp = 0xFFFD;
        if (cp == 0x2018 || cp == 0x2019 || cp == 0x2032)
            tmp[q++] = '\'';
        else if (cp == 0x201C || cp == 0x201D)
            tmp[q++] = '"';
        else
            memcpy(tmp + q, s, k), q += k;
        i += k;
    }
    size_t o = 0;
    int glue = 0; /* the next token follows without a space */
    const char *p = tmp, *e = tmp + q;
    while (p < e) {
        const char *te = memchr(p, ' ', (size_t)(e - p));
        te = te ? te : e;
        const char *next = te < e ? te + 1 : e, *ne = memchr(next, ' ', (size_t)(e - next));
        ne = ne ? ne : e;
        size_t n = (size_t)(te - p);
        while (n) {
            size_t cut = glued_sentence(p, n), m = cut ? cut : n;
            int contraction = m == 1 && p[0] == '\'' && o && is_alnum((unsigned char)out[o - 1]) &&
                              !cut &&
                              (is_clitic(next, (size_t)(ne - next)) ||
                               (o_clock(out, o) && ne - next == 5 && same_ci(next, "clock", 5)));
            if (o && !glue && !contraction && !is_punct_token(p, m))
                out[o++] = ' ';
            memcpy(out + o, p, m);
            o += m;
            glue = contraction || (m == 1 && p[0] == '(');
            p += m;
            n -= m;
        }
        p = next;
    }
    return o;
}

/* Cleans and normalises s[0..n) into im->norm. */
static int eou_turn(importer *im, const char *s, size_t n)
{
    int rc = lm_imp_clean_into(im, &im->text, s, n, 0);
    size_t need;
    if (rc)
        return rc;
    if (!lm_mul_ok(im->text.len, 2, &need) || lm_imp_grow(&im->norm, need + 1) ||
        lm_imp_grow(&im->quotes, im->text.len + 1))
        return lm_fail(im->err, LM_ENOMEM, "out of memory");
    im->norm.len = lm_import_eou_normalize(im->text.p, im->text.len, im->quotes.p, im->norm.p);
    return LM_OK;
}

static int import_eou(importer *im, const char *path, const char *buf, size_t len)
{
    static const char mark[] = "__eou__";
    cursor c = {buf, buf + len, 0};
    const char *line;
    size_t n;
    while (lm_imp_next_line(&c, &line, &n)) {
        const char *p = line, *e = line + n;
        for (;;) {
            const char *m = lm_imp_find_str(p, (size_t)(e - p), mark);
            const char *te = m ? m : e;
            int rc = eou_turn(im, p, (size_t)(te - p));
            if (rc)
                return rc;
            if (im->norm.len) {
                if (!m)
                    lm_imp_warnf(im, path, c.lineno, "last turn not ended by __eou__ (truncated line?)");
                lm_imp_write_turn(im, NULL, 0, im->norm.p, im->norm.len);
            } else if (m) {
                im->st.empty++;
            }
            if (!m)
                break;
            p = m + sizeof mark - 1;
        }
        lm_imp_end_conversation(im);
    }
    return LM_OK;
}

/* ---- inputs --------------------------------------------------------------------------------- */

static int add_input(input_list *l, const char *path, lm_error *err)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        input *p = realloc(l->v, cap * sizeof *p);
        if (!p)
            return lm_fail(err, LM_ENOMEM, "out of memory");
        l->v = p;
        l->cap = cap;
    }
    char *s = strdup(path);
    if (!s)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    l->v[l->n++] = (input){s, NULL, 0};
    return LM_OK;
}

static void free_inputs(input_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].path);
        free(l->v[i].buf);
    }
    free(l->v);
}

static char *join_path(const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    char *s = malloc(dl + nl + 2);
    if (s) {
        memcpy(s, dir, dl);
        size_t k = dl;
        if (k && dir[k - 1] != '/')
            s[k++] = '/';
        memcpy(s + k, name, nl + 1);
    }
    return s;
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the .srt files of a directory, sorted by name. */
static int add_srt_dir(input_list *l, const char *dir, lm_error *err)
{
    DIR *d = opendir(dir);
    if (!d)
        return lm_fail(err, LM_EIO, "%s: %s", dir, strerror(errno));
    char **names = NULL;
    size_t n = 0, cap = 0;
    int rc = LM_OK;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t k = strlen(de->d_name);
        if (k < 5 || !same_ci(de->d_name + k - 4, ".srt", 4))
            continue;
        char *p = join_path(dir, de->d_name);
        struct stat st;
        if (p && (stat(p, &st) != 0 || !S_ISREG(st.st_mode))) {
            free(p);
            continue;
        }
        if (p && n == cap) {
            cap = cap ? cap * 2 : 16;
            char **q = realloc(names, cap * sizeof *q);
            if (!q) {
                free(p);
                p = NULL;
            } else {
                names = q;
            }
        }
        if (!p) {
            rc = lm_fail(err, LM_ENOMEM, "out of memory");
            break;
        }
        names[n++] = p;
    }
    closedir(d);
    if (!rc && n == 0)
        rc = lm_fail(err, LM_EINVAL, "%s: no .srt files in this directory", dir);
    if (!rc)
        qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        if (!rc)
            rc = add_input(l, names[i], err);
        free(names[i]);
    }
    free(names);
    return rc;
}

/* Expands the inputs into files: directories are accepted for cornell (its two files) and srt
 * (its .srt files). */
static int expand_inputs(int format, const char *const *inputs, size_t n, input_list *l,
                         lm_error *err)
{
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        int rc;
        if (stat(inputs[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            if ((rc = add_input(l, inputs[i], err)))
                return rc;
            continue;
        }
        if (format == LM_IMPORT_SRT) {
            if ((rc = add_srt_dir(l, inputs[i], err)))
                return rc;
        } else if (format == LM_IMPORT_CORNELL) {
            static const char *const files[] = {"movie_lines.txt", "movie_conversations.txt"};
            for (size_t f = 0; f < 2; f++) {
                char *p = join_path(inputs[i], files[f]);
                if (!p)
                    return lm_fail(err, LM_ENOMEM, "out of memory");
                if (stat(p, &st) != 0) {
                    free(p);
                    return lm_fail(err, LM_EINVAL, "%s: no %s in this directory", inputs[i],
                                   files[f]);
                }
                rc = add_input(l, p, err);
                free(p);
                if (rc)
                    return rc;
            }
        } else {
            return lm_fail(err, LM_EINVAL,
                           "%s: is a directory (only the cornell and srt formats read directories)",
                           inputs[i]);
        }
    }
    return LM_OK;
}

int lm_corpus_import(const lm_import_opts *o, const char *const *inputs, size_t n, FILE *out,
                     lm_import_stats *stats, lm_error *err)
{
    LM_ASSERT(o && out && (inputs || n == 0));
    if (o->format < 0 || (size_t)o->format >= N_FORMATS)
        return lm_fail(err, LM_EINVAL, "unknown import format %d", o->format);
    if (!(o->gap >= 0))
        return lm_fail(err, LM_EINVAL, "the srt gap must be a number of seconds >= 0, not %g",
                       o->gap);
    if (n == 0)
        return lm_fail(err, LM_EINVAL, "no input files");
    importer im = {.o = o, .out = out, .err = err};
    input_list l = {0};
    int rc = expand_inputs(o->format, inputs, n, &l, err);
    /* Cornell needs every file in memory at once (conversations refer to lines); the other
     * formats read one file at a time. */
    for (size_t i = 0; i < l.n && !rc; i++) {
        input *in = &l.v[i];
        if ((rc = lm_import_read(in->path, &in->buf, &in->len, err)))
            break;
        im.st.files++;
        if (o->format == LM_IMPORT_CORNELL)
            continue;
        size_t before = im.st.turns;
        rc = o->format == LM_IMPORT_SRT   ? lm_imp_srt(&im, in->path, in->buf, in->len)
             : o->format == LM_IMPORT_EOU ? import_eou(&im, in->path, in->buf, in->len)
                                          : import_text(&im, in->path, in->buf, in->len);
        if (!rc && im.st.turns == before && l.n > 1)
            lm_imp_warnf(&im, in->path, 0, "no turns found");
        free(in->buf);
        in->buf = NULL;
    }
    if (!rc && o->format == LM_IMPORT_CORNELL)
        rc = lm_imp_cornell(&im, &l);
    if (!rc && (im.write_failed || fflush(out) != 0 || ferror(out)))
        rc = lm_fail(err, LM_EIO, "cannot write the output: %s", strerror(errno));
    if (!rc && im.st.turns == 0)
        rc = lm_fail(err, LM_EFORMAT, "%s%s: no turns found", inputs[0],
                     n > 1 ? " and the other inputs" : "");
    free_inputs(&l);
    free(im.text.p);
    free(im.speaker.p);
    free(im.turn.p);
    free(im.norm.p);
    free(im.quotes.p);
    if (stats)
        *stats = im.st;
    return rc;
}
