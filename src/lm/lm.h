/* lm.h - the language-model interface's generic layer (src/lm/): handles, states, scoring.
 * Internal. */
#ifndef LM_LM_H
#define LM_LM_H

#include "model/kind.h"

/* A model handle around impl (taken over: freed with kind->free also on failure). */
int lm_model_wrap(const lm_kind *kind, void *impl, lm_model **out, lm_error *err);

/* Log-probabilities of B independent streams of T tokens (ids time-major: ids[t*B + b]), each
 * from a fresh state: lp[t*B + b] = log p(ids[t*B+b] | ids[0..t) of stream b) for from <= t < T
 * (from >= 1); the other entries are not touched. Models whose predictions depend on the
 * window (a transformer) read the streams in windows of bptt tokens; recurrent ones carry the
 * state, so bptt only sets the work per call. ids were checked against the vocabulary. */
int lm_kind_score(const lm_model *m, const int32_t *ids, size_t T, size_t B, size_t bptt,
                  size_t from, float *lp, lm_error *err);

/* Writes/reads a state under group ("/" for a bare state file): attributes format,
 * format_version, arch (the model's name), vocab_size, position, then the kind's datasets.
 * A failed read leaves the state unchanged. */
int lm_state_write(const lm_state *s, lm_h5 *h, const char *group, lm_error *err);
int lm_state_read(lm_state *s, lm_h5 *h, const char *group, lm_error *err);

/* The neural network of a neural model, NULL for other kinds (the trainer's one question). */
struct lm_net *lm_model_net(const lm_model *m);

#endif
