/* kind.h - the language-model interface every model kind implements (internal).
 *
 * A model kind (neural, n-gram, mixture) is a table of functions over its own object (impl)
 * and its own state object. Everything above src/model/ and src/ngram/ (evaluation, sampling,
 * beam search, chat, the probes, the CLI) goes through the public lm_model and lm_state of
 * src/lm/ and never asks which kind it holds. Adding a kind is one file with one lm_kind and,
 * for a kind read from files, one line in the loader table of src/lm/lm.c. */
#ifndef LM_KIND_H
#define LM_KIND_H

#include "base/base.h"
#include "model/h5.h"

typedef struct lm_kind {
    /* Loads path when the file is of this kind: LM_OK with *impl set, a negative code for a
     * file of this kind that cannot be loaded, or 1 when the file is not of this kind. arch is
     * the HDF5 file's "arch" attribute, or NULL when path is not an HDF5 file. */
    int (*load)(const char *path, const char *arch, void **impl, lm_error *err);
    void (*free)(void *impl);
    /* Optional: LM_EINVAL (with a message) for kinds that are not saved. */
    int (*save)(const void *impl, const char *path, lm_error *err);
    /* What the model is: "lstm", "rwkv", "transformer", "ngram", "mixture"; static text or
     * text owned by impl. Written into state files and compared with them. */
    const char *(*name)(const void *impl);
    const lm_vocab *(*vocab)(const void *impl);
    void (*text_opts)(const void *impl, lm_text_opts *t);
    /* One line: "lstm, 2 layers, embed 200, hidden 200, tied" (returns the length needed). */
    size_t (*describe)(const void *impl, char *buf, size_t cap);
    /* (key, value) pairs for lstmlm info. */
    void (*facts)(const void *impl, lm_fact_fn fn, void *ud);
    /* Values a model holds (parameters, or probabilities and back-off weights). */
    size_t (*n_params)(const void *impl);
    /* Optional: non-zero when a text is read as beginning a line, so its first token is
     * predicted after an implied <eot> (n-gram sentence models, as SRILM, KenLM and IRSTLM
     * score every word of a line after <s>); otherwise the first token is context only. */
    int (*predicts_first)(const void *impl);
    /* Tokens a state sees at most; 0 = unlimited (recurrent). */
    size_t (*context)(const void *impl);
    /* Neural models only (NULL otherwise): the network the trainer updates. */
    struct lm_net *(*net)(void *impl);
    const lm_config *(*config)(const void *impl);
    size_t (*history)(const void *impl, const lm_history_row **rows);

    /* One stream's state. */
    int (*state_new)(const void *impl, void **st, lm_error *err);
    void (*state_free)(void *st);
    void (*state_reset)(const void *impl, void *st);
    /* dst = src; pos is src's position. */
    int (*state_copy)(const void *impl, void *dst, const void *src, size_t pos, lm_error *err);
    size_t (*state_bytes)(const void *impl, const void *st, size_t pos);
    /* The state's datasets under group (the generic layer writes the attributes); read leaves
     * st unchanged on failure. */
    int (*state_write)(const void *impl, const void *st, size_t pos, lm_h5 *h, const char *group,
                       lm_error *err);
    int (*state_read)(const void *impl, void *st, size_t pos, lm_h5 *h, const char *group,
                      lm_error *err);
    /* Feeds tok to the state at position pos and writes the next-token log-probabilities
     * (vocab floats, normalised) to logp unless it is NULL. tok was checked. */
    int (*step)(const void *impl, void *st, size_t pos, int32_t tok, float *logp,
                lm_error *err);
    /* Optional fast path of lm_kind_score (NULL: the generic loop over step). */
    int (*score)(const void *impl, const int32_t *ids, size_t T, size_t B, size_t bptt,
                 size_t from, float *lp, lm_error *err);
} lm_kind;

struct lm_model {
    const lm_kind *kind;
    void *impl;
};

struct lm_state {
    const lm_model *m;
    size_t pos;
    void *impl;
};

/* Kinds. */
extern const lm_kind lm_kind_neural;
extern const lm_kind lm_kind_ngram;
extern const lm_kind lm_kind_mixture;
extern const lm_kind lm_kind_quant; /* kind_quant.c: bf16/int8 weights */

#endif
