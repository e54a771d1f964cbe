/* import.c - dialogue corpus importers (Cornell, SubRip, __eou__, plain text), the
 * conversation-level split and the corpus description. */
#include "text/import.h"
#include "text/text.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
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

/* Decodes a valid UTF-8 sequence at s into *cp and returns its length (1..4), or returns 0
 * when the bytes are not valid UTF-8 (overlong forms and surrogates included). */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned c = s[0];
    size_t k;
    uint32_t min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) {
        k = 2;
        min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        k = 3;
        min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        k = 4;
        min = 0x10000;
    } else {
        return 0;
    }
    if (k > n)
        return 0;
    uint32_t v = c & (0x7Fu >> k);
    for (size_t i = 1; i < k; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    *cp = v;
    return k;
}

/* Writes code point cp as UTF-8 and returns its length. */
static size_t utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    o[0] = (unsigned char)(0xF0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    o[3] = (unsigned char)(0x80 | (cp & 0x3F));
    return 4;
}

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
        size_t k = utf8_decode(s + i, len - i, &cp);
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
            o += utf8_encode(cp, out + o);
        }
    }
    return o;
}

/* ---- reading files ------------------------------------------------------------------------ */

/* One UTF-16 code unit at p. */
static uint32_t utf16_unit(const unsigned char *p, int big_endian)
{
    return big_endian ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
}

/* Converts UTF-16 (after its byte order mark) to UTF-8; unpaired surrogates become U+FFFD. */
static int utf16_to_utf8(const char *path, char *buf, size_t len, int big_endian, char **out,
                         size_t *outlen, lm_error *err)
{
    const unsigned char *s = (const unsigned char *)buf;
    char *o = malloc(len / 2 * 3 + 4);
    if (!o)
        return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
    size_t n = 0;
    for (size_t i = 2; i + 1 < len; i += 2) {
        uint32_t u = utf16_unit(s + i, big_endian);
        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < len) {
            uint32_t lo = utf16_unit(s + i + 2, big_endian);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF)
            u = 0xFFFD;
        n += utf8_encode(u, o + n);
    }
    o[n] = '\0';
    *out = o;
    *outlen = n;
    return LM_OK;
}

int lm_import_read(const char *path, char **out, size_t *outlen, lm_error *err)
{
    char *buf;
    size_t len;
    int rc = lm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    const unsigned char *u = (const unsigned char *)buf;
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        char *conv = NULL;
        rc = utf16_to_utf8(path, buf, len, u[0] == 0xFE, &conv, &len, err);
        free(buf);
        if (rc)
            return rc;
        buf = conv;
    } else if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        memmove(buf, buf + 3, len - 3 + 1);
        len -= 3;
    }
    if (len == 0) {
        free(buf);
        return lm_fail(err, LM_EFORMAT, "%s: empty file", path);
    }
    size_t nul = lm_find_nul(buf, len);
    if (nul < len) {
        size_t line = 1;
        for (size_t i = 0; i < nul; i++)
            line += buf[i] == '\n';
        free(buf);
        return lm_fail(err, LM_EFORMAT, "%s:%zu: binary data (NUL byte); not a text file", path,
                       line);
    }
    if (!memchr(buf, '\n', len))
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\r')
                buf[i] = '\n';
    *out = buf;
    *outlen = len;
    return LM_OK;
}

/* A cursor over the lines of a buffer; line excludes '\n' and a trailing '\r'. */
typedef struct cursor {
    const char *p, *end;
    size_t lineno;
} cursor;

static int next_line(cursor *c, const char **line, size_t *len)
{
    if (c->p >= c->end)
        return 0;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *e = nl ? nl : c->end;
    *line = c->p;
    *len = (size_t)(e - c->p);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    c->p = nl ? nl + 1 : c->end;
    c->lineno++;
    return 1;
}

static int is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f'))
            return 0;
    return 1;
}

/* First occurrence of the NUL-terminated needle in s[0..n), or NULL. */
static const char *find_str(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (const char *p = s; k <= n && p <= s + n - k; p++) {
        p = memchr(p, needle[0], (size_t)(s + n - k - p) + 1);
        if (!p)
            return NULL;
        if (!memcmp(p, needle, k))
            return p;
    }
    return NULL;
}

/* ---- the writer shared by every importer -------------------------------------------------- */

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf;

static int grow(growbuf *b, size_t need)
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

typedef struct importer {
    const lm_import_opts *o;
    FILE *out;
    lm_error *err;
    lm_import_stats st;
    growbuf text, speaker; /* cleaned text of the turn being written and its speaker */
    growbuf turn;          /* srt: the turn being assembled from the lines of a cue */
    growbuf norm, quotes;  /* eou: the normalised turn, and its text with ASCII quotes */
    size_t conv_turns;     /* turns written in the current conversation */
    int write_failed;
} importer;

static void warnf(importer *im, const char *file, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void warnf(importer *im, const char *file, size_t line, const char *fmt, ...)
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
static int clean_into(importer *im, growbuf *b, const char *s, size_t n, int tags)
{
    size_t need;
    if (!lm_mul_ok(n, 3, &need) || grow(b, need + 1))
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
static void write_turn(importer *im, const char *speaker, size_t slen, const char *text,
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
static void end_conversation(importer *im)
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
    while (next_line(&c, &line, &n)) {
        int rc = clean_into(im, &im->text, line, n, 0);
        if (rc)
            return rc;
        if (im->text.len)
            write_turn(im, NULL, 0, im->text.p, im->text.len);
        else
            end_conversation(im);
    }
    end_conversation(im);
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
        size_t k = utf8_decode(s, len - i, &cp);
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
    int rc = clean_into(im, &im->text, s, n, 0);
    size_t need;
    if (rc)
        return rc;
    if (!lm_mul_ok(im->text.len, 2, &need) || grow(&im->norm, need + 1) ||
        grow(&im->quotes, im->text.len + 1))
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
    while (next_line(&c, &line, &n)) {
        const char *p = line, *e = line + n;
        for (;;) {
            const char *m = find_str(p, (size_t)(e - p), mark);
            const char *te = m ? m : e;
            int rc = eou_turn(im, p, (size_t)(te - p));
            if (rc)
                return rc;
            if (im->norm.len) {
                if (!m)
                    warnf(im, path, c.lineno, "last turn not ended by __eou__ (truncated line?)");
                write_turn(im, NULL, 0, im->norm.p, im->norm.len);
            } else if (m) {
                im->st.empty++;
            }
            if (!m)
                break;
            p = m + sizeof mark - 1;
        }
        end_conversation(im);
    }
    return LM_OK;
}

/* ---- SubRip ---------------------------------------------------------------------------------- */

/* Parses [H+:]MM:SS[,.mmm] at s (after spaces); returns the bytes used or 0. *has_ms tells
 * whether the milliseconds were there. */
static size_t parse_time(const char *s, size_t n, double *t, int *has_ms)
{
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    double part[3];
    size_t np = 0;
    for (;;) {
        size_t d = i;
        double v = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d < 9)
            v = v * 10 + (s[i++] - '0');
        if (i == d)
            return 0;
        part[np++] = v;
        if (np < 3 && i < n && s[i] == ':') {
            i++;
            continue;
        }
        break;
    }
    if (np < 2)
        return 0;
    double h = np == 3 ? part[0] : 0, m = part[np - 2], sec = part[np - 1];
    if (m >= 60 || sec >= 60)
        return 0;
    double frac = 0;
    *has_ms = i < n && (s[i] == ',' || s[i] == '.');
    if (*has_ms) {
        i++;
        size_t d = i;
        double scale = 0.1;
        while (i < n && s[i] >= '0' && s[i] <= '9' && i - d < 3) {
            frac += (s[i++] - '0') * scale;
            scale /= 10;
        }
        if (i == d)
            return 0;
    }
    *t = h * 3600 + m * 60 + sec + frac;
    return i;
}

int lm_import_srt_timing(const char *line, size_t len, double *start, double *end)
{
    const char *arrow = find_str(line, len, "-->");
    if (!arrow) {
        /* A time stamp with milliseconds followed by a damaged arrow is a broken timing line,
         * not text. */
        int ms;
        size_t k = parse_time(line, len, start, &ms);
        return k && ms && find_str(line + k, len - k, "->") ? -1 : 0;
    }
    int ms;
    size_t left = (size_t)(arrow - line);
    size_t k = parse_time(line, left, start, &ms);
    if (!k || !ms || !is_blank(line + k, left - k))
        return -1;
    const char *r = arrow + 3;
    size_t rn = len - left - 3;
    k = parse_time(r, rn, end, &ms);
    if (!k || !ms || (k < rn && r[k] != ' ' && r[k] != '\t'))
        return -1;
    return 1;
}

/* A whole number of 1..9 digits (spaces around allowed). */
static int is_cue_number(const char *s, size_t n, unsigned long *num)
{
    size_t i = 0;
    while (i < n && s[i] == ' ')
        i++;
    size_t d = i;
    unsigned long v = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9' && i - d < 9)
        v = v * 10 + (unsigned long)(s[i++] - '0');
    if (i == d || !is_blank(s + i, n - i))
        return 0;
    *num = v;
    return 1;
}

/* Bytes of a dialogue dash at the start of t ("-", en or em dash, not "--"), or 0. */
static size_t dash_len(const char *t, size_t n)
{
    size_t k = 0;
    if (n >= 1 && t[0] == '-')
        k = 1;
    else if (n >= 3 && !memcmp(t, "\xE2\x80", 2) && (t[2] == '\x93' || t[2] == '\x94'))
        k = 3;
    if (!k || (n > k && (t[k] == '-' || (n >= k + 3 && !memcmp(t + k, "\xE2\x80", 2) &&
                                           (t[k + 2] == '\x93' || t[k + 2] == '\x94')))))
        return 0;
    return k;
}

/* In a line that started with a dialogue dash, the position of " -" that starts the second
 * speaker's words ("- Hi. - Hello."): after sentence-final punctuation, or n when none. */
static size_t inline_dash(const char *t, size_t n)
{
    for (size_t i = 1; i + 2 < n; i++) {
        if (t[i] != ' ' || t[i + 1] != '-' || t[i + 2] == '-')
            continue;
        char p = t[i - 1];
        if (p == '.' || p == '!' || p == '?' || p == '"' || p == ')' ||
            (i >= 3 && !memcmp(t + i - 3, "\xE2\x80\xA6", 3)))
            return i;
    }
    return n;
}

typedef struct srt_state {
    importer *im;
    const char *path;
    int have_cue;              /* a cue was seen in this file */
    unsigned long num;         /* number of the current (or last) cue */
    size_t cue_line;           /* line of the current cue's number or timing */
    size_t turns_at_cue;       /* im->st.turns when the current cue began */
    int timed, prev_timed;     /* current / previous cue has valid times */
    double start, end;         /* times of the current cue */
    double prev_start, prev_end;
} srt_state;

static void srt_flush_turn(srt_state *s)
{
    importer *im = s->im;
    if (im->turn.len)
        write_turn(im, NULL, 0, im->turn.p, im->turn.len);
    im->turn.len = 0;
}

static int srt_append(srt_state *s, const char *t, size_t n)
{
    growbuf *b = &s->im->turn;
    while (n && t[0] == ' ') {
        t++;
        n--;
    }
    if (!n)
        return LM_OK;
    if (grow(b, b->len + n + 2))
        return lm_fail(s->im->err, LM_ENOMEM, "out of memory");
    if (b->len)
        b->p[b->len++] = ' ';
    memcpy(b->p + b->len, t, n);
    b->len += n;
    return LM_OK;
}

/* Adds one text line of the current cue. */
static int srt_text(srt_state *s, const char *line, size_t n)
{
    importer *im = s->im;
    int rc = clean_into(im, &im->text, line, n, 1);
    if (rc)
        return rc;
    const char *t = im->text.p;
    size_t tl = im->text.len;
    size_t d = dash_len(t, tl);
    if (d) {
        srt_flush_turn(s);
        t += d;
        tl -= d;
        for (size_t k; (k = inline_dash(t, tl)) < tl;) {
            if ((rc = srt_append(s, t, k)))
                return rc;
            srt_flush_turn(s);
            t += k + 2;
            tl -= k + 2;
        }
    }
    return srt_append(s, t, tl);
}

static void srt_begin_cue(srt_state *s, int numbered, unsigned long num, size_t lineno)
{
    if (numbered && s->have_cue && num != s->num + 1)
        warnf(s->im, s->path, lineno, "cue number %lu, expected %lu", num, s->num + 1);
    s->num = numbered ? num : s->num + 1;
    s->have_cue = 1;
    s->cue_line = lineno;
    s->turns_at_cue = s->im->st.turns;
    s->timed = 0;
}

/* Handles the timing line of the current cue (t: the lm_import_srt_timing result). */
static void srt_timing(srt_state *s, int t, double start, double end, size_t lineno)
{
    importer *im = s->im;
    if (t < 0) {
        warnf(im, s->path, lineno, "cue %lu: malformed timing line", s->num);
        return;
    }
    s->timed = 1;
    s->start = start;
    s->end = end;
    if (end < start)
        warnf(im, s->path, lineno, "cue %lu ends before it starts", s->num);
    if (s->prev_timed) {
        if (start < s->prev_start)
            warnf(im, s->path, lineno, "cue %lu starts before the previous cue (out of order)",
                  s->num);
        if (start - s->prev_end > im->o->gap)
            end_conversation(im);
    }
}

static void srt_finish_cue(srt_state *s)
{
    srt_flush_turn(s);
    if (s->im->st.turns == s->turns_at_cue) {
        warnf(s->im, s->path, s->cue_line, "cue %lu has no text", s->num);
        s->im->st.empty++;
    }
    if (s->timed) {
        s->prev_timed = 1;
        s->prev_start = s->start;
        s->prev_end = s->end;
    }
}

static int import_srt(importer *im, const char *path, const char *buf, size_t len)
{
    enum { S_NUMBER, S_TIMING, S_TEXT, S_SKIP } state = S_NUMBER;
    srt_state s = {.im = im, .path = path};
    cursor c = {buf, buf + len, 0};
    const char *line;
    size_t n;
    int rc = LM_OK;
    im->turn.len = 0;
    while (rc == LM_OK && next_line(&c, &line, &n)) {
        int blank = is_blank(line, n);
        unsigned long num;
        double a, b;
        int t;
        switch (state) {
        case S_SKIP:
            if (blank)
                state = S_NUMBER;
            break;
        case S_NUMBER:
            if (blank)
                break;
            if (is_cue_number(line, n, &num)) {
                srt_begin_cue(&s, 1, num, c.lineno);
                state = S_TIMING;
            } else if ((t = lm_import_srt_timing(line, n, &a, &b)) != 0) {
                srt_begin_cue(&s, 0, 0, c.lineno);
                warnf(im, path, c.lineno, "cue %lu has no number", s.num);
                srt_timing(&s, t, a, b, c.lineno);
                state = S_TEXT;
            } else {
                warnf(im, path, c.lineno, "text outside a cue, ignored up to the next blank line");
                state = S_SKIP;
            }
            break;
        case S_TIMING:
            if (blank) {
                warnf(im, path, s.cue_line, "cue %lu has no timing and no text", s.num);
                im->st.empty++;
                state = S_NUMBER;
                break;
            }
            t = lm_import_srt_timing(line, n, &a, &b);
            state = S_TEXT;
            if (t) {
                srt_timing(&s, t, a, b, c.lineno);
                break;
            }
            warnf(im, path, c.lineno, "cue %lu has no timing line", s.num);
            rc = srt_text(&s, line, n);
            break;
        case S_TEXT:
            if (blank) {
                srt_finish_cue(&s);
                state = S_NUMBER;
                break;
            }
            /* A cue number directly followed by a timing line starts a new cue even without
             * the blank line before it. */
            if (is_cue_number(line, n, &num)) {
                cursor peek = c;
                const char *nx;
                size_t nn;
                if (next_line(&peek, &nx, &nn) && lm_import_srt_timing(nx, nn, &a, &b)) {
                    warnf(im, path, c.lineno, "no blank line before cue %lu", num);
                    srt_finish_cue(&s);
                    srt_begin_cue(&s, 1, num, c.lineno);
                    state = S_TIMING;
                    break;
                }
            }
            rc = srt_text(&s, line, n);
            break;
        }
    }
    if (rc)
        return rc;
    if (state == S_TIMING) {
        warnf(im, path, s.cue_line, "file ends inside cue %lu (truncated?)", s.num);
        im->st.empty++;
    } else if (state == S_TEXT) {
        srt_finish_cue(&s);
    }
    end_conversation(im);
    return LM_OK;
}

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
        const char *s = find_str(p, (size_t)(e - p), sep);
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
    const char *line;
    size_t n;
    while (next_line(&c, &line, &n)) {
        if (is_blank(line, n))
            continue;
        const char *f[5];
        size_t fl[5];
        size_t nf = cornell_fields(line, n, f, fl, 5);
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
    const char *line;
    size_t n;
    while (next_line(&c, &line, &n)) {
        if (is_blank(line, n))
            continue;
        const char *f[5];
        size_t fl[5];
        size_t nf = cornell_fields(line, n, f, fl, 5);
        if (nf < 5) {
            warnf(im, path, c.lineno, "truncated record: %zu of 5 fields, line skipped", nf);
            continue;
        }
        size_t il = fl[0];
        const char *id = trim(f[0], &il);
        size_t before = lm_vocab_size(cn->ids);
        int32_t k = il ? lm_vocab_add(cn->ids, id, il, 1) : LM_TOK_UNK;
        if (k < 0)
            return lm_fail(im->err, LM_ENOMEM, "out of memory");
        if (k < LM_N_SPECIAL) {
            warnf(im, path, c.lineno, "bad line id '%.*s', line skipped", (int)il, id);
            continue;
        }
        if (lm_vocab_size(cn->ids) == before) {
            warnf(im, path, c.lineno, "duplicate line id '%.*s', line skipped", (int)il, id);
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
        warnf(im, path, lineno, "unknown line id '%.*s'", (int)il, id);
        im->st.missing_ids++;
        end_conversation(im);
        return LM_OK;
    }
    const cornell_line *cl = &cn->lines[k - LM_N_SPECIAL];
    int rc = clean_into(im, &im->text, cl->text, cl->tlen, 1);
    if (rc)
        return rc;
    if (!im->text.len) {
        im->st.empty++;
        return LM_OK;
    }
    im->speaker.len = 0;
    if (im->o->speakers && (rc = clean_into(im, &im->speaker, cl->speaker, cl->slen, 1)))
        return rc;
    write_turn(im, im->speaker.p, im->speaker.len, im->text.p, im->text.len);
    return LM_OK;
}

static int cornell_conversations(cornell *cn, const char *path, const char *buf, size_t len)
{
    importer *im = cn->im;
    cursor c = {buf, buf + len, 0};
    const char *line;
    size_t n;
    while (next_line(&c, &line, &n)) {
        if (is_blank(line, n))
            continue;
        const char *f[4];
        size_t fl[4];
        size_t nf = cornell_fields(line, n, f, fl, 4);
        size_t ll = fl[nf - 1];
        const char *p = trim(f[nf - 1], &ll);
        if (nf < 4 || !ll || p[0] != '[') {
            warnf(im, path, c.lineno, "truncated record: %s, line skipped",
                  nf < 4 ? "fewer than 4 fields" : "no line-id list");
            continue;
        }
        const char *e = p + ll;
        p++;
        for (;;) {
            while (p < e && (*p == ' ' || *p == ','))
                p++;
            if (p == e) {
                warnf(im, path, c.lineno, "line-id list not closed (truncated?)");
                break;
            }
            if (*p == ']')
                break;
            const char *id = p, *after;
            size_t il;
            if (*p == '\'' || *p == '"') {
                const char *q = memchr(p + 1, *p, (size_t)(e - p - 1));
                if (!q) {
                    warnf(im, path, c.lineno, "line-id list ends inside an id (truncated?)");
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
        end_conversation(im);
    }
    return LM_OK;
}

/* ---- inputs --------------------------------------------------------------------------------- */

typedef struct input {
    char *path;
    char *buf;
    size_t len;
} input;

typedef struct input_list {
    input *v;
    size_t n, cap;
} input_list;

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

static int import_cornell(importer *im, input_list *l)
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
                warnf(im, l->v[i].path, 0, "no turns found");
        }
out:
    free(kind);
    free(cn.lines);
    lm_vocab_free(cn.ids);
    return rc;
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
        rc = o->format == LM_IMPORT_SRT   ? import_srt(&im, in->path, in->buf, in->len)
             : o->format == LM_IMPORT_EOU ? import_eou(&im, in->path, in->buf, in->len)
                                          : import_text(&im, in->path, in->buf, in->len);
        if (!rc && im.st.turns == before && l.n > 1)
            warnf(&im, in->path, 0, "no turns found");
        free(in->buf);
        in->buf = NULL;
    }
    if (!rc && o->format == LM_IMPORT_CORNELL)
        rc = import_cornell(&im, &l);
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

/* ---- split ---------------------------------------------------------------------------------- */

typedef struct conv_span {
    size_t start, end; /* byte range from the first turn to the end of the last one's line */
    size_t turns;
} conv_span;

/* How many of n conversations a fraction asks for: rounded, at least one when positive. */
static size_t share(double frac, size_t n)
{
    if (frac <= 0)
        return 0;
    size_t k = (size_t)llround(frac * (double)n);
    return k ? k : 1;
}

int lm_corpus_split(const char *path, double valid, double test, lm_rng *rng, FILE *const out[3],
                    lm_split_stats *stats, lm_error *err)
{
    LM_ASSERT(path && rng && out);
    if (!(valid >= 0 && valid < 1 && test >= 0 && test < 1 && valid + test < 1))
        return lm_fail(err, LM_EINVAL,
                       "split fractions must be in [0, 1) and sum below 1 (valid %g, test %g)",
                       valid, test);
    char *buf;
    size_t len;
    int rc = lm_import_read(path, &buf, &len, err);
    if (rc)
        return rc;
    conv_span *cv = NULL;
    size_t *perm = NULL;
    unsigned char *part = NULL;
    size_t n = 0, cap = 0;
    cursor c = {buf, buf + len, 0};
    const char *line;
    size_t ln;
    int open = 0;
    while (next_line(&c, &line, &ln)) {
        if (is_blank(line, ln)) {
            open = 0;
            continue;
        }
        if (!open) {
            if (n == cap) {
                cap = cap ? cap * 2 : 1024;
                conv_span *p = realloc(cv, cap * sizeof *p);
                if (!p) {
                    rc = lm_fail(err, LM_ENOMEM, "out of memory");
                    goto out;
                }
                cv = p;
            }
            cv[n++] = (conv_span){(size_t)(line - buf), 0, 0};
            open = 1;
        }
        cv[n - 1].end = (size_t)(c.p - buf);
        cv[n - 1].turns++;
    }
    size_t nv = share(valid, n), nt = share(test, n);
    if (n == 0) {
        rc = lm_fail(err, LM_EFORMAT, "%s: no turns found", path);
        goto out;
    }
    if (nv + nt >= n) {
        rc = lm_fail(err, LM_EINVAL,
                     "%s: %zu conversation%s cannot be split into train, valid (%g) and test (%g) "
                     "(conversations are separated by blank lines)",
                     path, n, n == 1 ? "" : "s", valid, test);
        goto out;
    }
    perm = malloc(n * sizeof *perm);
    part = malloc(n);
    if (!perm || !part) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(lm_rng_next(rng) % (i + 1));
        size_t t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    for (size_t i = 0; i < n; i++)
        part[perm[i]] = i < nv ? LM_SPLIT_VALID : i < nv + nt ? LM_SPLIT_TEST : LM_SPLIT_TRAIN;
    lm_split_stats st = {{0}, {0}};
    for (size_t i = 0; i < n; i++) {
        int p = part[i];
        st.conversations[p]++;
        st.turns[p] += cv[i].turns;
        FILE *f = out[p];
        if (!f)
            continue;
        cursor cc = {buf + cv[i].start, buf + cv[i].end, 0};
        int ok = 1;
        while (next_line(&cc, &line, &ln))
            ok &= fwrite(line, 1, ln, f) == ln && putc('\n', f) != EOF;
        if (!ok || putc('\n', f) == EOF) {
            rc = lm_fail(err, LM_EIO, "cannot write the split of %s: %s", path, strerror(errno));
            goto out;
        }
    }
    for (int p = 0; p < 3; p++)
        if (out[p] && (fflush(out[p]) != 0 || ferror(out[p]))) {
            rc = lm_fail(err, LM_EIO, "cannot write the split of %s: %s", path, strerror(errno));
            goto out;
        }
    if (stats)
        *stats = st;
out:
    free(part);
    free(perm);
    free(cv);
    free(buf);
    return rc;
}

/* ---- describe ------------------------------------------------------------------------------- */

int lm_corpus_describe(const char *path, const lm_text_opts *t, size_t max_vocab,
                       lm_corpus_desc *d, lm_error *err)
{
    LM_ASSERT(path && d);
    if (max_vocab && max_vocab <= LM_N_SPECIAL)
        return lm_fail(err, LM_EINVAL, "the vocabulary size must exceed %d (the special tokens)",
                       LM_N_SPECIAL);
    lm_text_opts def;
    if (!t) {
        lm_text_opts_init(&def);
        t = &def;
    }
    /* The full vocabulary is ordered as lm_vocab_build orders any vocabulary (count, then
     * bytes), so the vocabulary at max_vocab is its first max_vocab ids. */
    lm_vocab *v = NULL;
    int32_t *ids = NULL;
    size_t n = 0;
    lm_corpus_stats cs;
    int rc = lm_vocab_build(&path, 1, t, NULL, &v, err);
    if (!rc)
        rc = lm_corpus_read(path, t, v, &ids, &n, &cs, err);
    if (rc)
        goto out;
    memset(d, 0, sizeof *d);
    size_t V = lm_vocab_size(v);
    d->conversations = cs.conversations;
    d->turns = cs.lines;
    d->tokens = cs.tokens;
    d->types = V - LM_N_SPECIAL;
    d->vocab = max_vocab && max_vocab < V ? max_vocab : V;
    d->oov = cs.oov;
    for (size_t id = d->vocab; id < V; id++)
        d->oov += lm_vocab_count(v, (int32_t)id);
    size_t run = 0, conv = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] == LM_TOK_EOT) {
            size_t bin = run ? (run - 1) / LM_DESC_BIN_WIDTH : 0;
            d->hist[bin < LM_DESC_BINS ? bin : LM_DESC_BINS - 1]++;
            if (run > d->longest_turn)
                d->longest_turn = run;
            run = 0;
            conv++;
        } else if (ids[i] == LM_TOK_EOC) {
            if (conv > d->longest_conversation)
                d->longest_conversation = conv;
            conv = 0;
        } else {
            run++;
            d->words++;
        }
    }
    if (conv > d->longest_conversation)
        d->longest_conversation = conv;
out:
    free(ids);
    lm_vocab_free(v);
    return rc;
}
