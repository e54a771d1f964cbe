/* lstmlm-tools.h - the parts of liblstmlm that serve the command-line program's tools rather
 * than the language models themselves: the conversation-level corpus split and the corpus
 * description (lstmlm corpus), SVG line plots (lstmlm memory, lstmlm info --plot), and the
 * settings by name that an interactive prompt (lstmlm chat's /set) uses. Conventions as in
 * lstmlm.h, which this header includes. */
#ifndef LSTMLM_TOOLS_H
#define LSTMLM_TOOLS_H

#include "lstmlm.h"

#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- corpus split and description (src/text/corpus_tools.c) ------------------------------ */

enum { LM_SPLIT_TRAIN = 0, LM_SPLIT_VALID = 1, LM_SPLIT_TEST = 2 };

typedef struct lm_split_stats {
    size_t conversations[3]; /* by LM_SPLIT_* */
    size_t turns[3];
} lm_split_stats;

/* Splits a turn-per-line corpus (plain or gzip) by whole conversations: a shuffle drawn from
 * rng picks round(valid * N) conversations for validation and round(test * N) for test (at
 * least one each when the fraction is positive), the rest are for training. Each part keeps
 * the input order of its conversations and is written to out[LM_SPLIT_*] (borrowed; NULL
 * skips that part), a blank line after every conversation. The same seed gives the same split.
 * Returns LM_EINVAL when the fractions are outside [0, 1) or sum to 1 or more, or when the
 * corpus has too few conversations to leave one for training; LM_EIO, LM_EFORMAT (empty or
 * binary file) or LM_ENOMEM otherwise. Thread-safe for distinct rng and outputs. */
LM_API int lm_corpus_split(const char *path, double valid, double test, lm_rng *rng,
                           FILE *const out[3], lm_split_stats *stats, lm_error *err);

/* Turn-length histogram bins of lm_corpus_desc. */
#define LM_DESC_BINS 13
#define LM_DESC_BIN_WIDTH 5

/* What a corpus holds, counted the way lm_vocab_build and lm_corpus_read count for a model. */
typedef struct lm_corpus_desc {
    size_t conversations;    /* runs of turns separated by blank lines */
    size_t turns;            /* lines with tokens */
    size_t tokens;           /* ids a model reads: words, one <eot> per turn, one <eoc> per
                              * blank line after a turn */
    size_t words;            /* tokens of the turns alone */
    size_t types;            /* distinct word types (specials excluded) */
    size_t vocab;            /* vocabulary size at max_vocab, specials included */
    size_t oov;              /* word tokens outside that vocabulary (they would read <unk>) */
    size_t longest_turn;     /* in words */
    size_t longest_conversation; /* in turns */
    size_t hist[LM_DESC_BINS]; /* turns by length: hist[i] counts turns of i*5+1 .. i*5+5
                                * words; the last bin also counts every longer turn */
} lm_corpus_desc;

/* Describes the corpus at path tokenized with t (NULL = defaults): counts, vocabulary size and
 * OOV rate at max_vocab (specials included; 0 = no limit), and the turn-length histogram.
 * Reads the file twice (lm_vocab_build, then lm_corpus_read). Returns LM_EINVAL when
 * 0 < max_vocab <= LM_N_SPECIAL, or the errors of those two. Not thread-safe, as
 * lm_vocab_build is not. */
LM_API int lm_corpus_describe(const char *path, const lm_text_opts *t, size_t max_vocab,
                              lm_corpus_desc *d, lm_error *err);

/* ---- SVG plots (src/probe/svg.c) ---------------------------------------------------------- */

/* Line plots as a standalone SVG file (no scripts, no external resources), drawn by hand:
 * panels in a grid of two columns, each with a title, labelled axes (linear or log10 with
 * ticks at 1-2-5 or powers of ten), and a legend. */
typedef struct lm_plot_series {
    const char *label;    /* legend text (borrowed) */
    const double *x, *y;  /* n points (borrowed); non-finite points and points <= 0 on a log
                             axis are left out */
    size_t n;
    int color;            /* palette index: series of one model share a colour */
    int dashed;           /* non-zero: dashed line */
} lm_plot_series;

typedef struct lm_plot_panel {
    const char *title, *xlabel, *ylabel; /* borrowed */
    int logx, logy;
    const lm_plot_series *series;
    size_t n_series;
} lm_plot_panel;

/* Writes the plot to f (borrowed; the caller opens and closes it). Text is XML-escaped.
 * Returns LM_EINVAL without panels, LM_EIO when writing fails. Thread-safe. */
LM_API int lm_svg_write(FILE *f, const char *title, const lm_plot_panel *panels,
                        size_t n_panels, lm_error *err);

/* ---- settings by name, for an interactive prompt (src/gen/) ------------------------------ */

/* Sets one setting from text, by the name of its command-line option: "temperature",
 * "top-k", "top-p", "repetition-penalty", "presence-penalty", "penalty-window", "allow-unk"
 * (on/off/1/0). LM_EINVAL for an unknown name or a bad value (o is then unchanged). */
LM_API int lm_sampler_set(lm_sampler_opts *o, const char *name, const char *value,
                          lm_error *err);
/* Writes "temperature=0.8 top-k=0 ..." (every setting set by lm_sampler_set) to buf, at most
 * cap-1 bytes and a NUL; returns the length it needed. */
LM_API size_t lm_sampler_describe(const lm_sampler_opts *o, char *buf, size_t cap);

/* Changes a setting by name: the lm_sampler_set names, "tokens" (max_tokens), "beam",
 * "length-alpha", "seed" (restarts the sampling stream), "ban WORD" and "unban WORD" (a token
 * of the vocabulary, "<eot>" included; "unban all" clears the list). LM_EINVAL with a message
 * for an unknown name, a bad value or a word outside the vocabulary; the chat is then
 * unchanged. */
LM_API int lm_chat_set(lm_chat *c, const char *name, const char *value, lm_error *err);
/* Writes the settings as "name=value ..." (banned words by text). Returns the length needed. */
LM_API size_t lm_chat_describe(const lm_chat *c, char *buf, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
