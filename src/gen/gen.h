/* gen.h - generation internals shared by the sampler and the chat session. */
#ifndef LM_GEN_H
#define LM_GEN_H

#include "base/base.h"

/* Parses on/off/yes/no/true/false/1/0 (case-insensitive) into *out; 0 when the text is none
 * of those. */
int lm_gen_parse_bool(const char *s, int *out);
/* Parses a whole number (no sign) into *out; 0 when the text is not one. */
int lm_gen_parse_size(const char *s, size_t *out);

/* The model side of a beam search (beam.c). Slots number the live hypotheses of the current
 * round (0 .. n_live) and of the next one.
 *   row:     sets *row to a writable array of vocab next-token log-probabilities after the
 *            current round's hypothesis `slot`, whose tokens are toks[0..len) (the engine masks
 *            banned tokens in it in place); returns LM_OK or an error code.
 *   extend:  (optional) the next round's hypothesis `slot` is the current round's `parent`
 *            followed by tok.
 *   advance: (optional) the next round becomes the current one. */
typedef struct lm_beam_src {
    size_t vocab;
    void *ctx;
    int (*row)(void *ctx, size_t slot, const int32_t *toks, size_t len, float **row,
               lm_error *err);
    int (*extend)(void *ctx, size_t slot, size_t parent, int32_t tok, lm_error *err);
    void (*advance)(void *ctx);
} lm_beam_src;

/* LM_EINVAL unless the width and length limit are positive and the banned list is there. */
int lm_beam_check_opts(const lm_beam_opts *o, lm_error *err);
/* The search (see lm_beam_search in lstmlm.h for the outputs); stop may be NULL. */
int lm_beam_run(const lm_beam_src *src, const lm_beam_opts *o, int32_t **out, size_t *n_out,
                int *ended, double *score, volatile int *stop, lm_error *err);

#endif
