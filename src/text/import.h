/* import.h - internal pieces of the corpus importers (src/text/import.c), reachable by tests. */
#ifndef LM_IMPORT_H
#define LM_IMPORT_H

#include "base/base.h"

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

#endif
