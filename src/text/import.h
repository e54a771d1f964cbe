/* import.h - internal pieces of the corpus importers (src/text/import.c), reachable by tests. */
#ifndef LM_IMPORT_H
#define LM_IMPORT_H

#include "base/base.h"
#include "lstmlm.h"

/* Reads a whole input file (plain or gzip) into a malloc'd NUL-terminated buffer, ready for the
 * importers: a UTF-8 byte order mark is dropped, UTF-16 with a byte order mark is converted to
 * UTF-8, and a file using only CR line ends gets LF ones. Fails with LM_EFORMAT on an empty
 * file ("path: empty file") or on a NUL byte ("path:line: binary data ..."). */
int lm_import_read(const char *path, char **buf, size_t *len, lm_error *err);

/* Cleans one turn into out, which must hold 3 * len bytes: bytes that are not valid UTF-8 are
 * decoded as Windows-1252 (each one counted in *recoded when recoded is not NULL), control
 * characters, U+00A0 and runs of white space become one space, U+FEFF is dropped, and the ends
 * are trimmed. With strip_tags, HTML-style formatting tags (<i>, </font>, <br/>, ...) and ASS
 * override blocks ({\an8}) are removed too. Returns the length written (0: no text). */
size_t lm_import_clean(const char *in, size_t len, int strip_tags, char *out, size_t *recoded);

/* The __eou__ (DailyDialog) normalisation of a clean turn (single spaces): curly quotes to
 * ASCII, "let ’ s" -> "let's", "far.Can" -> "far. Can", no space before , . ? ! ; : ) % and
 * none after (. out holds 2 * len + 1 bytes, tmp len + 1. Returns the length written. */
size_t lm_import_eou_normalize(const char *in, size_t len, char *tmp, char *out);

/* Parses a SubRip timing line "HH:MM:SS,mmm --> HH:MM:SS,mmm [position]" (',' or '.' before
 * the milliseconds, which may have 1 to 3 digits; hours may be omitted). Returns 1 and the
 * times in seconds when the line is a valid timing line, -1 when it is a damaged one (it holds
 * "-->" but cannot be parsed, or a time stamp then "->"), 0 when it is no timing line. */
int lm_import_srt_timing(const char *line, size_t len, double *start, double *end);

/* ---- internal pieces shared by the importer files (import*.c) ---------------------------- */

#include <stdio.h>

/* A cursor over the lines of a buffer; line excludes '\n' and a trailing '\r'. */
typedef struct cursor {
    const char *p, *end;
    size_t lineno;
} cursor;

typedef struct growbuf {
    char *p;
    size_t len, cap;
} growbuf;

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

typedef struct input {
    char *path;
    char *buf;
    size_t len;
} input;

typedef struct input_list {
    input *v;
    size_t n, cap;
} input_list;

/* Next line of the cursor (without '\n' and a trailing '\r'); 0 at the end. */
int lm_imp_next_line(cursor *c, const char **line, size_t *len);
/* Non-zero when s[0..n) holds only blanks. */
int lm_imp_is_blank(const char *s, size_t n);
/* First occurrence of the NUL-terminated needle in s[0..n), or NULL. */
const char *lm_imp_find_str(const char *s, size_t n, const char *needle);
/* Room for need bytes in b: LM_OK or LM_ENOMEM. */
int lm_imp_grow(growbuf *b, size_t need);
/* A warning about file (line 0: the whole file), counted and passed to the options' warn. */
void lm_imp_warnf(importer *im, const char *file, size_t line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Cleans s[0..n) into b (see lm_import_clean); b->len is the cleaned length. */
int lm_imp_clean_into(importer *im, growbuf *b, const char *s, size_t n, int tags);
/* Writes one turn (clean, non-empty text), prefixed by "speaker: " when slen > 0. */
void lm_imp_write_turn(importer *im, const char *speaker, size_t slen, const char *text,
                       size_t len);
/* Ends the current conversation with a blank line, unless it has no turn. */
void lm_imp_end_conversation(importer *im);
/* The formats read by their own files: one SubRip file; every Cornell input at once. */
int lm_imp_srt(importer *im, const char *path, const char *buf, size_t len);
int lm_imp_cornell(importer *im, input_list *l);

#endif
