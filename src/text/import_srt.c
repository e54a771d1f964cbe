/* import_srt.c - SubRip subtitles: cues become turns, long silences end conversations. */
#include "text/import.h"
#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    const char *arrow = lm_imp_find_str(line, len, "-->");
    if (!arrow) {
        /* A time stamp with milliseconds followed by a damaged arrow is a broken timing line,
         * not text. */
        int ms;
        size_t k = parse_time(line, len, start, &ms);
        return k && ms && lm_imp_find_str(line + k, len - k, "->") ? -1 : 0;
    }
    int ms;
    size_t left = (size_t)(arrow - line);
    size_t k = parse_time(line, left, start, &ms);
    if (!k || !ms || !lm_imp_is_blank(line + k, left - k))
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
    if (i == d || !lm_imp_is_blank(s + i, n - i))
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
        lm_imp_write_turn(im, NULL, 0, im->turn.p, im->turn.len);
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
    if (lm_imp_grow(b, b->len + n + 2))
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
    int rc = lm_imp_clean_into(im, &im->text, line, n, 1);
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
        lm_imp_warnf(s->im, s->path, lineno, "cue number %lu, expected %lu", num, s->num + 1);
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
        lm_imp_warnf(im, s->path, lineno, "cue %lu: malformed timing line", s->num);
        return;
    }
    s->timed = 1;
    s->start = start;
    s->end = end;
    if (end < start)
        lm_imp_warnf(im, s->path, lineno, "cue %lu ends before it starts", s->num);
    if (s->prev_timed) {
        if (start < s->prev_start)
            lm_imp_warnf(im, s->path, lineno, "cue %lu starts before the previous cue (out of order)",
                  s->num);
        if (start - s->prev_end > im->o->gap)
            lm_imp_end_conversation(im);
    }
}

static void srt_finish_cue(srt_state *s)
{
    srt_flush_turn(s);
    if (s->im->st.turns == s->turns_at_cue) {
        lm_imp_warnf(s->im, s->path, s->cue_line, "cue %lu has no text", s->num);
        s->im->st.empty++;
    }
    if (s->timed) {
        s->prev_timed = 1;
        s->prev_start = s->start;
        s->prev_end = s->end;
    }
}

int lm_imp_srt(importer *im, const char *path, const char *buf, size_t len)
{
    enum { S_NUMBER, S_TIMING, S_TEXT, S_SKIP } state = S_NUMBER;
    srt_state s = {.im = im, .path = path};
    cursor c = {buf, buf + len, 0};
    const char *line;
    size_t n;
    int rc = LM_OK;
    im->turn.len = 0;
    while (rc == LM_OK && lm_imp_next_line(&c, &line, &n)) {
        int blank = lm_imp_is_blank(line, n);
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
                lm_imp_warnf(im, path, c.lineno, "cue %lu has no number", s.num);
                srt_timing(&s, t, a, b, c.lineno);
                state = S_TEXT;
            } else {
                lm_imp_warnf(im, path, c.lineno, "text outside a cue, ignored up to the next blank line");
                state = S_SKIP;
            }
            break;
        case S_TIMING:
            if (blank) {
                lm_imp_warnf(im, path, s.cue_line, "cue %lu has no timing and no text", s.num);
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
            lm_imp_warnf(im, path, c.lineno, "cue %lu has no timing line", s.num);
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
                if (lm_imp_next_line(&peek, &nx, &nn) && lm_import_srt_timing(nx, nn, &a, &b)) {
                    lm_imp_warnf(im, path, c.lineno, "no blank line before cue %lu", num);
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
        lm_imp_warnf(im, path, s.cue_line, "file ends inside cue %lu (truncated?)", s.num);
        im->st.empty++;
    } else if (state == S_TEXT) {
        srt_finish_cue(&s);
    }
    lm_imp_end_conversation(im);
    return LM_OK;
}
