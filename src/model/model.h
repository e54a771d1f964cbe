/* model.h - model = embedding -> body (an architecture) -> head; parameters, workspace, state.
 * Internal. */
#ifndef LM_MODEL_H
#define LM_MODEL_H

#include "base/base.h"
#include "model/h5.h"
#include "nn/nn.h"
#include "text/text.h"

/* One named parameter tensor in the flat block. */
typedef struct lm_param {
    char name[48];
    size_t offset;     /* floats from the start of the block (64-byte aligned) */
    size_t rows, cols; /* cols == 0: a vector of rows elements */
} lm_param;

typedef struct lm_ptable {
    lm_param *p;
    size_t n, cap;
    size_t total; /* floats in the block, padding included */
    size_t count; /* parameters, padding excluded */
} lm_ptable;

/* Appends a tensor; returns its index or a negative code. */
int lm_ptable_add(lm_ptable *t, const char *name, size_t rows, size_t cols);
static inline size_t lm_param_size(const lm_param *p)
{
    return p->rows * (p->cols ? p->cols : 1);
}

typedef struct lm_net lm_net;

/* An architecture: the body between embedding and head. Adding one = its layer in src/nn/,
 * its adapter src/model/arch_*.c and one entry in the table of model.c; everything that
 * depends on the architecture (defaults, limits, window behaviour, descriptions) is asked
 * from here, never from its name. */
typedef struct lm_arch {
    const char *name;
    const char *summary; /* for --help: "LSTM (Hochreiter & Schmidhuber 1997)" */
    size_t max_layers;
    /* Non-zero: learned positions tie the model to the window grid, so training shifts each
     * epoch's windows by default (lm_train_opts.shift_windows = -1). */
    int positional;
    /* Optional: fills derived settings (e.g. the feed-forward width 0 -> 4 * embed). */
    void (*derive)(lm_config *c);
    /* Optional: the carried state of B streams is this many blocks of (B, width) rows (h and
     * c of each LSTM layer...), so data-parallel training can split it by stream; NULL = 1. */
    size_t (*state_groups)(const lm_config *c);
    /* Optional: tokens a state sees at most (0 or NULL = unlimited, recurrent). */
    size_t (*window)(const lm_config *c);
    /* The shape after "arch, L layers, embed E": ", hidden H" (returns the length needed). */
    size_t (*describe)(const lm_config *c, char *buf, size_t cap);
    /* The settings of this architecture as (key, value) pairs: "hidden" "200". */
    void (*facts)(const lm_config *c, lm_fact_fn fn, void *ud);
    int (*check)(const lm_config *c, lm_error *err);
    size_t (*out_dim)(const lm_config *c);
    /* Appends the body's tensors to the table. */
    int (*layout)(const lm_config *c, lm_ptable *t);
    /* Initialises the body's parameters (the table slice starting at m->body_first). */
    void (*init)(const lm_net *m, float *params, lm_rng *rng);
    size_t (*ws_floats)(const lm_config *c, size_t T, size_t B);
    /* Floats of state for B streams after pos tokens (recurrent: constant). */
    size_t (*state_floats)(const lm_config *c, size_t B, size_t pos);
    void (*state_reset)(const lm_config *c, float *state, size_t B);
    /* X (T*B, E) -> Y (T*B, out_dim); state in/out; pos = tokens already in the state. */
    void (*forward)(const lm_net *m, float *ws, const float *X, float *Y, float *state,
                    size_t pos, size_t T, size_t B, int train, lm_rng *rng);
    /* Backward of the last forward with the same ws; grads is the flat gradient block. */
    void (*backward)(const lm_net *m, float *ws, const float *X, const float *dY, float *dX,
                     float *grads, size_t T, size_t B);
    /* Which of the regularisers that need the body's help it takes (LM_REG_* bits); the
     * others (dropout_embed, dropout_input, dropout_output, ar) work around any body. */
    unsigned regs;
    /* Optional: one token (id, embedding x (E)) -> y (out_dim) of one stream whose state
     * grows with pos (a key/value cache); lm_step reserves state_floats(c, 1, pos + 1) floats
     * first and ws is sized by ws_floats(c, 1, 1). NULL: lm_step calls forward, T = B = 1. */
    void (*step)(const lm_net *m, float *ws, int32_t token, const float *x, float *y,
                 float *state, size_t pos);
    /* Optional: true when a state read from a file (one stream after pos tokens, its floats
     * all finite) holds only what step can use, e.g. token ids inside the vocabulary. NULL:
     * any finite state is usable. */
    bool (*state_ok)(const lm_config *c, const float *state, size_t pos);
} lm_arch;

/* lm_arch.regs: locked dropout between layers (dropout_hidden), DropConnect on recurrent
 * weights (weight_drop), temporal activation regularisation (tar). */
enum { LM_REG_HIDDEN = 1u, LM_REG_WEIGHT_DROP = 2u, LM_REG_TAR = 4u };

const lm_arch *lm_arch_find(const char *name);
/* Adds an architecture to the table (not thread-safe: call before any model is made).
 * LM_EINVAL when the name is taken, LM_ENOMEM when the table is full. */
int lm_arch_register(const lm_arch *a);
/* The i-th architecture of the table (NULL past the end). */
const lm_arch *lm_arch_at(size_t i);

struct lm_net {
    lm_config cfg;
    const lm_arch *arch;
    lm_vocab *vocab;
    lm_ptable table;
    size_t body_first;            /* table index of the body's first tensor */
    size_t i_emb, i_head_w, i_head_b; /* i_head_w == i_emb when tied */
    size_t i_proj;                    /* tied with out_dim != embed: head.proj (E, O); else 0 */
    size_t i_tail; /* adaptive softmax: head.tail.0.proj.weight, cluster k at + 2k, + 2k + 1 */
    float *params;
    lm_history_row *hist;
    size_t n_hist, cap_hist;
};

/* Pointer to tensor i of a flat block laid out by m->table. */
static inline float *lm_tensor(const lm_net *m, float *block, size_t i)
{
    return block + m->table.p[i].offset;
}

/* Workspace for windows up to (T, B): everything a forward/backward needs. */
typedef struct lm_ws {
    size_t T, B, chunk;
    float *buf;
    float *emb, *emb_mask, *out, *out_mask, *head_in, *logits, *d_head_in, *d_emb, *body;
    float *proj, *d_proj; /* (N, E) output of the tied projection and its gradient (i_proj) */
    int32_t *rows;        /* adaptive softmax: (chunk) rows of one tail cluster; else NULL */
} lm_ws;

int lm_ws_init(lm_ws *w, const lm_net *m, size_t T, size_t B, lm_error *err);
void lm_ws_free(lm_ws *w);

/* Forward over one window (x, y: T*B time-major) with the state carried, adding the loss to
 * acc. With grads != NULL also the backward, gradients scaled by `scale` and accumulated. */
void lm_net_window(const lm_net *m, lm_ws *w, const int32_t *x, const int32_t *y, size_t T,
                     size_t B, float *state, size_t pos, int train, lm_rng *rng, float *grads,
                     float scale, lm_ce_acc *acc);

/* One stream's state buffer (*buf of *cap floats) of architecture a with settings c
 * (state_buf.c): room for the state after pos tokens (never beyond a full cache), a copy, its
 * bytes, and its <group>/state dataset (a read refuses non-finite or impossible values and
 * leaves the buffer as it was on failure). */
int lm_sbuf_reserve(float **buf, size_t *cap, const lm_arch *a, const lm_config *c, size_t pos,
                    lm_error *err);
int lm_sbuf_copy(float **dst, size_t *cap, const float *src, const lm_arch *a,
                 const lm_config *c, size_t pos, lm_error *err);
size_t lm_sbuf_bytes(const lm_arch *a, const lm_config *c, size_t pos);
int lm_sbuf_write(const float *buf, const lm_arch *a, const lm_config *c, size_t pos, lm_h5 *h,
                  const char *group, lm_error *err);
int lm_sbuf_read(float **buf, size_t *cap, const lm_arch *a, const lm_config *c, size_t pos,
                 lm_h5 *h, const char *group, lm_error *err);

/* The neural network object (the public lm_model of a neural model wraps one). */
int lm_net_create(const lm_config *cfg, lm_vocab *vocab, lm_rng *rng, lm_net **out,
                  lm_error *err);
void lm_net_free(lm_net *m);
int lm_net_save(const lm_net *m, const char *path, lm_error *err);
int lm_net_load(const char *path, lm_net **out, lm_error *err);

/* Appends a history row. */
int lm_net_add_history(lm_net *m, const lm_history_row *row);

/* File pieces shared by neural, quantized and checkpoint files: the root attributes, /config
 * and /vocab; the config read back (checked); the training history. */
int lm_file_write_head(lm_h5 *h, const char *arch, const lm_config *c, const lm_vocab *v,
                       uint64_t version, lm_error *err);
int lm_file_read_config(lm_h5 *h, lm_config *c, lm_error *err);
int lm_history_write(lm_h5 *h, const lm_history_row *rows, size_t n, lm_error *err);
/* *rows malloc'd (NULL and 0 rows without a history). */
int lm_history_read(lm_h5 *h, lm_history_row **rows, size_t *n, lm_error *err);
/* File pieces shared with the checkpoint code. */
int lm_net_write(const lm_net *m, lm_h5 *h, lm_error *err);
int lm_net_read(lm_h5 *h, lm_net **out, lm_error *err);
/* Writes/reads a flat block laid out by the table under group (one dataset per tensor). */
int lm_block_write(const lm_net *m, lm_h5 *h, const char *group, const float *block,
                   lm_error *err);
int lm_block_read(const lm_net *m, lm_h5 *h, const char *group, float *block, lm_error *err);

/* ---- AWD-LSTM regularisation (awd.c) ------------------------------------------------------ */

/* The regularisation settings against the architecture's facts (a->regs). */
int lm_config_check_reg(const lm_config *c, const lm_arch *a, lm_error *err);
/* /config attributes of the regularisation; absent ones (older files) read as 0. */
/* The non-zero regularisation settings as facts ("weight_drop" "0.5"). */
void lm_config_reg_facts(const lm_config *c, lm_fact_fn fn, void *ud);
int lm_config_write_reg(lm_h5 *h, const lm_config *c, lm_error *err);
int lm_config_read_reg(lm_h5 *h, lm_config *c, lm_error *err);
/* Embedding dropout of a window: the factor of word id (0 or 1 / (1 - p)), the same for every
 * occurrence of id in the window whose key was drawn from the rng. */
float lm_embed_keep(uint64_t key, int32_t id, float p);
/* AR: the penalty ar * mean_j(h^2) of the (dropped) output h (T*B, O), summed over steps
 * and streams like the cross-entropy; adds scale times its gradient to dh when dh is not
 * NULL. With the trainer's scale 1/B this is AWD-LSTM's per-token mean, as the loss is. */
double lm_ar(const lm_config *c, size_t T, size_t B, size_t O, const float *h, float scale,
             float *dh);
/* TAR: tar * mean_j((h_t - h_{t-1})^2) of the undropped output, the same way. */
double lm_tar(const lm_config *c, size_t T, size_t B, size_t O, const float *h, float scale,
              float *dh);
/* The rows the head reads for the body output out (N, O): out itself, or with the tied
 * projection w->proj (N, E) = out P^T; *dim gets their width. */
const float *lm_net_project(const lm_net *m, lm_ws *w, const float *out, size_t N, size_t *dim);

/* ---- the output layer (head.c) -------------------------------------------------------------
 * A full softmax (head.weight (V, D), head.bias (V)) or the adaptive softmax of nn/adaptive.c
 * (head.weight (c_0 + K, D), head.bias (c_0 + K), head.tail.{k}.proj.weight (d_k, D) and
 * head.tail.{k}.out.weight (c_{k+1} - c_k, d_k)), D the width the head reads. */

/* The table indices of the head's tensors (0 = absent; w is the embedding's when tied). */
typedef struct lm_head_idx {
    size_t w, b, proj, tail;
} lm_head_idx;

/* The softmax settings (called by lm_config_check after the architecture's own check). */
int lm_config_check_head(const lm_config *c, lm_error *err);
/* ", adaptive softmax 2000,10000" for lm_config_describe (nothing for a full softmax). */
size_t lm_config_describe_head(const lm_config *c, char *buf, size_t cap);
/* "softmax" "full", or "softmax" "adaptive, div 4, ..." and "cutoffs" "2000,10000". */
void lm_config_head_facts(const lm_config *c, lm_fact_fn fn, void *ud);
/* /config attributes softmax, cutoffs and div_value; a file without softmax reads as full. */
int lm_config_write_head(lm_h5 *h, const lm_config *c, lm_error *err);
int lm_config_read_head(lm_h5 *h, lm_config *c, lm_error *err);
/* The adaptive head's sizes for input width D (pointers NULL); c is checked and adaptive. */
void lm_head_adaptive(const lm_config *c, size_t D, lm_adaptive *a);
/* Appends the head's tensors (after the body's; O the body's output width) to t. */
int lm_head_layout(const lm_config *c, size_t O, size_t i_emb, lm_ptable *t, lm_head_idx *h);
/* Initialises the head's weights (the bias stays 0) uniform in [-init_range, init_range]. */
void lm_head_init(const lm_net *m, float *params, lm_rng *rng);
/* The adaptive softmax expects ids by decreasing count after the specials (lm_vocab_build's
 * order), so that its shortlist holds the frequent words: logs a warning naming the first id
 * out of that order, or saying that the vocabulary has no counts to tell (the probabilities
 * stay exact either way). */
void lm_head_check_order(const lm_net *m);
/* Floats of the workspace slot `logits` for N rows of width D, and the rows per chunk. */
size_t lm_head_ws_floats(const lm_config *c, size_t D, size_t N, size_t *chunk);
/* The loss of rows X (N, D) with targets y, added to acc; with grads also the backward
 * (scale, dX as lm_softmax_ce). */
void lm_net_head_ce(const lm_net *m, lm_ws *w, const float *X, size_t D, const int32_t *y,
                    size_t N, float scale, float *dX, float *grads, lm_ce_acc *acc);
/* The normalised log-probabilities (V) of one row x (D), with w's scratch. */
void lm_net_head_logprobs(const lm_net *m, lm_ws *w, const float *x, size_t D, float *logp);

/* Architectures. */
extern const lm_arch lm_arch_lstm;
extern const lm_arch lm_arch_rwkv;
extern const lm_arch lm_arch_transformer;

#endif
