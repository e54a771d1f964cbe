/* text.h - internal declarations of the text pipeline (tokenizer, vocabulary, corpora). */
#ifndef LM_TEXT_H
#define LM_TEXT_H

#include "base/base.h"

/* Reads a whole file (plain or gzip) into a NUL-terminated malloc'd buffer. */
int lm_read_file(const char *path, char **buf, size_t *len, lm_error *err);

/* Calls fn for each line of buf (without '\n' or a trailing '\r'); line numbers from 1.
 * Stops and returns fn's non-zero result. */
typedef int (*lm_line_fn)(void *ud, const char *line, size_t len, size_t lineno);
int lm_for_each_line(const char *buf, size_t len, lm_line_fn fn, void *ud);

/* Byte offset of the first NUL in buf, or len when none (binary detection). */
size_t lm_find_nul(const char *buf, size_t len);
/* LM_OK, or LM_EFORMAT "path:LINE: binary data (NUL byte): not a text file" for the first
 * NUL byte of buf[0..len). */
int lm_check_text(const char *path, const char *buf, size_t len, lm_error *err);
/* lm_read_file then lm_check_text (the buffer is freed on failure). */
int lm_read_text(const char *path, char **buf, size_t *len, lm_error *err);

/* Vocabulary internals used by the model file code. */
int lm_vocab_set_count(lm_vocab *v, int32_t id, uint64_t count);

/* Window batcher over an id stream: B streams of n/B tokens, read T steps at a time from an
 * offset. Window k holds inputs x[t][b] = stream_b[off + k*T + t] and targets
 * y[t][b] = stream_b[off + k*T + t + 1]. */
typedef struct lm_batcher {
    const int32_t *ids;
    size_t B, T, len; /* len: tokens per stream */
    size_t off;       /* first input position of each stream (0 after init) */
    size_t windows;   /* windows per epoch: ceil((len - 1 - off) / T) */
} lm_batcher;

void lm_batcher_init(lm_batcher *bt, const int32_t *ids, size_t n, size_t B, size_t T);
/* Starts the windows at position off (< T) of each stream; recomputes windows. */
void lm_batcher_set_offset(lm_batcher *bt, size_t off);
/* Fills x and y (T*B time-major) for window k; returns its length (<= T, the last may be short). */
size_t lm_batcher_window(const lm_batcher *bt, size_t k, int32_t *x, int32_t *y);

/* Decodes a valid UTF-8 sequence at s (n bytes available) into *cp and returns its length
 * (1..4), or returns 0 when the bytes are not valid UTF-8 (overlong forms and surrogates
 * included). */
size_t lm_utf8_decode(const unsigned char *s, size_t n, uint32_t *cp);
/* Writes code point cp (at most U+10FFFF) as UTF-8 to out (4 bytes of room) and returns its
 * length. */
size_t lm_utf8_encode(uint32_t cp, char *out);

#endif
