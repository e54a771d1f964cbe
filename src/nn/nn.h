/* nn.h - layers: LSTM stack, softmax cross-entropy head, dropout, embedding. Internal. */
#ifndef LM_NN_H
#define LM_NN_H

#include "base/base.h"

/* ---- LSTM stack --------------------------------------------------------------------------
 * Parameters per layer l (PyTorch nn.LSTM layout, gates i|f|g|o):
 *   W_ih (4H, I_l), W_hh (4H, H), b_ih (4H), b_hh (4H); I_0 = E, I_l = H.
 * State for B streams: h (L, B, H) then c (L, B, H).
 * Activations are time-major (T, B, .). */
typedef struct lm_lstm_dims {
    size_t L, E, H;
    float dropout;     /* between layers, training only */
    int locked;        /* the dropout between layers is locked: one mask per stream and window */
    float weight_drop; /* DropConnect on W_hh (training windows of 2 steps or more) */
} lm_lstm_dims;

typedef struct lm_lstm_params {
    const float *w_ih[8], *w_hh[8], *b_ih[8], *b_hh[8]; /* views, up to 8 layers */
} lm_lstm_params;
typedef struct lm_lstm_grads {
    float *w_ih[8], *w_hh[8], *b_ih[8], *b_hh[8];
} lm_lstm_grads;

#define LM_LSTM_MAX_LAYERS 8

/* Windows with at least this many steps (and at least 2) run the recurrence on packed W_hh
 * (lm_pgemm) split across the pool; shorter ones (generation) call lm_gemm per step. Tests
 * change it. */
extern size_t lm_lstm_pack_min_steps;
/* Floats of workspace for windows up to (T, B). */
size_t lm_lstm_ws_floats(const lm_lstm_dims *d, size_t T, size_t B);
/* Forward over T steps. X (T*B, E) input, Y (T*B, H) output (the last layer's h, no dropout).
 * state (2*L*B*H) holds the initial h and c and receives the final ones. With train and
 * dropout > 0 inter-layer dropout masks are drawn from rng; with train, weight_drop > 0 and
 * T >= 2 also one DropConnect mask per layer over W_hh (Wan et al. 2013, as AWD-LSTM), used by
 * the recurrence in both directions and by dW_hh. ws must stay untouched until the matching
 * backward. */
void lm_lstm_forward(const lm_lstm_dims *d, const lm_lstm_params *p, float *ws, const float *X,
                     float *Y, float *state, size_t T, size_t B, int train, lm_rng *rng);
/* Backward of the last forward: dY (T*B, H) in, dX (T*B, E) out (may be NULL), gradients
 * accumulated into g. Gradients do not flow into the initial state (truncated BPTT). */
void lm_lstm_backward(const lm_lstm_dims *d, const lm_lstm_params *p, float *ws, const float *X,
                      const float *dY, float *dX, const lm_lstm_grads *g, size_t T, size_t B);

/* ---- LayerNorm over the last dimension (layernorm.c) -------------------------------------
 * y = (x - mean) / sqrt(var + LM_LN_EPS) * w + b for each of the N rows of x (N, d), the
 * statistics in double; mean and rstd (N) keep them for the backward (both may be NULL when
 * no backward follows). y may not alias x. */
#define LM_LN_EPS 1e-5
void lm_layernorm_forward(size_t N, size_t d, const float *x, const float *w, const float *b,
                          float *y, float *mean, float *rstd);
/* Adds the input gradient to dx (N, d) and the parameter gradients to dw, db (d). */
void lm_layernorm_backward(size_t N, size_t d, const float *x, const float *w,
                           const float *mean, const float *rstd, const float *dy, float *dx,
                           float *dw, float *db);

/* ---- softmax cross-entropy head -------------------------------------------------------
 * logits = X W^T + b, X (N, O), W (V, O), b (V). Rows processed in chunks of `chunk` rows with
 * scratch (chunk * V floats). */
typedef struct lm_ce_acc {
    double nll, nll_known; /* summed -log p over all targets / targets other than <unk> */
    size_t n, n_unk;
    float *rows; /* optional: row r's -log p is written to rows[r] (N floats) */
    double reg;  /* penalties added by the window in training (AR, TAR), not in nll */
} lm_ce_acc;

/* Adds the loss of rows X to acc. With dX != NULL also the backward: dlogits = scale*(p - 1_y)
 * accumulated into dW, db, and dX (N, O) overwritten. */
void lm_softmax_ce(size_t N, size_t O, size_t V, const float *X, const float *W, const float *b,
                   const int32_t *y, float *scratch, size_t chunk, lm_ce_acc *acc, float scale,
                   float *dX, float *dW, float *db);

/* One row of logits z (V): adds b (may be NULL) and returns -log p(t), in double from the
 * log-domain values. With grad, z becomes the logit gradient scale * (softmax(z) - 1_t). */
double lm_softmax_ce_row(float *z, const float *b, size_t V, int32_t t, bool grad, float scale);

/* ---- adaptive softmax (adaptive.c) ----------------------------------------------------------
 * Grave et al. 2017, "Efficient softmax approximation for GPUs", as PyTorch's
 * nn.AdaptiveLogSoftmaxWithLoss(head_bias=True). The shortlist is ids [0, c_0); tail cluster i
 * (0 <= i < K) covers ids [c_i, c_{i+1}) with c_K = V. Parameters:
 *   head W (c_0 + K, D) and b (c_0 + K): the shortlist's logits, then one per cluster;
 *   tail i: proj_i (d_i, D) then out_i (c_{i+1} - c_i, d_i), no biases.
 * -log p(y) = -log softmax(head)[y] for y < c_0, and for y in cluster i
 *             -log softmax(head)[c_0 + i] - log softmax(out_i proj_i x)[y - c_i]. */
#define LM_ADAPTIVE_MAX 8
typedef struct lm_adaptive {
    size_t D, V, K;                  /* input width, vocabulary, tail clusters (1..MAX) */
    size_t cut[LM_ADAPTIVE_MAX + 1]; /* c_0 < c_1 < ... < c_K = V */
    size_t dim[LM_ADAPTIVE_MAX];     /* d_i >= 1 */
    const float *W, *b, *proj[LM_ADAPTIVE_MAX], *out[LM_ADAPTIVE_MAX];
} lm_adaptive;
typedef struct lm_adaptive_grads {
    float *W, *b, *proj[LM_ADAPTIVE_MAX], *out[LM_ADAPTIVE_MAX];
} lm_adaptive_grads;

/* Floats of scratch per row of a chunk of lm_adaptive_ce (also enough, for one row, for
 * lm_adaptive_logprobs). */
size_t lm_adaptive_row_floats(const lm_adaptive *a);
/* Adds the loss of rows X (N, D) with targets y (N) to acc, in chunks of `chunk` rows with
 * scratch (chunk * lm_adaptive_row_floats floats) and rows (chunk ints). Each tail runs only
 * on the rows whose targets fall in its cluster, gathered. With dX != NULL also the backward
 * of scale times the summed loss: gradients accumulated into g, dX (N, D) overwritten. */
void lm_adaptive_ce(const lm_adaptive *a, size_t N, const float *X, const int32_t *y,
                    float *scratch, int32_t *rows, size_t chunk, lm_ce_acc *acc, float scale,
                    float *dX, const lm_adaptive_grads *g);
/* The normalised log-probabilities over all V ids from the raw head logits z (c_0 + K, bias
 * included) and each cluster's raw logits, which logp holds at ids [c_i, c_{i+1}) on entry:
 * logp[j] = log softmax(z)[j] for the shortlist and, in cluster i,
 * log softmax(z)[c_0 + i] + log softmax(cluster i)[j - c_i]. logp[0, c_0) is written. */
void lm_adaptive_normalize(const lm_adaptive *a, const float *z, float *logp);
/* One row x (D) -> logp (V) normalised, with scratch of lm_adaptive_row_floats floats. */
void lm_adaptive_logprobs(const lm_adaptive *a, const float *x, float *scratch, float *logp);

/* log(sum_j exp(x[j])) of n > 0 values, with the maximum subtracted first (-INFINITY when
 * every value is). */
double lm_logsumexp(const float *x, size_t n);
/* Log-softmax of one row in place into logp (may alias logits); returns log Z. */
double lm_log_softmax(const float *logits, size_t V, float *logp);

/* Inverted dropout: mask[i] = (u >= p) / (1 - p); y = x * mask. */
void lm_dropout_mask(float *mask, size_t n, float p, lm_rng *rng);
/* Locked ("variational") dropout: one inverted-dropout mask (B, d) drawn from rng, repeated
 * over the T steps into mask (T, B, d). */
void lm_locked_mask(float *mask, size_t T, size_t B, size_t d, float p, lm_rng *rng);
/* y = x * m element-wise; y may alias x. */
void lm_mul(float *y, const float *x, const float *m, size_t n);

#endif
