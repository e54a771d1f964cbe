/* rwkv.h - RWKV-4 layers: LayerNorm, time-mix (token shift + WKV recurrence), channel-mix
 * (token shift + squared ReLU) and the block stack, forward and backward over a window of T
 * steps for B streams. The single-token step is the same code with T = B = 1. Internal.
 *
 * Shapes are row-major and time-major: activations (T, B, d) = (N, d) with N = T*B, row
 * t*B + b. Linear weights are in PyTorch's layout (out, in): y = x W^T. The recurrence follows
 * RWKV-LM's RWKV-4 (see the notes in DESIGN.md's folder): w = -exp(time_decay), u = time_first,
 *   wkv_t = (A_t + e^(u+k_t) v_t) / (B_t + e^(u+k_t)),
 *   A_t+1 = e^w A_t + e^k_t v_t,  B_t+1 = e^w B_t + e^k_t,
 * kept in the stable form A = aa e^pp, B = bb e^pp with pp the running maximum exponent. */
#ifndef LM_RWKV_H
#define LM_RWKV_H

#include "base/base.h"

#define LM_RWKV_MAX_LAYERS 8

/* ---- parameters ----------------------------------------------------------------------------
 * One layer's tensors (views into the flat parameter or gradient block). Vectors have d
 * elements; key, value, receptance, output of the time-mix are (d, d); the channel-mix key is
 * (F, d), its receptance (d, d), its value (d, F). */
typedef struct lm_rwkv_layer {
    float *ln1_w, *ln1_b, *ln2_w, *ln2_b;
    float *time_decay, *time_first, *att_mix_k, *att_mix_v, *att_mix_r;
    float *att_key, *att_value, *att_receptance, *att_output;
    float *ffn_mix_k, *ffn_mix_r, *ffn_key, *ffn_receptance, *ffn_value;
} lm_rwkv_layer;

/* The whole body: LayerNorm ln0 on the input (block 0), L layers, LayerNorm ln_out. */
typedef struct lm_rwkv_tensors {
    float *ln0_w, *ln0_b, *lnout_w, *lnout_b;
    lm_rwkv_layer layer[LM_RWKV_MAX_LAYERS];
} lm_rwkv_tensors;

typedef struct lm_rwkv_dims {
    size_t L, d, F;
    float dropout;     /* on each residual branch's output, training only */
    float weight_drop; /* DropConnect on the time-mix matrices (training windows of T >= 2) */
} lm_rwkv_dims;

/* ---- state ---------------------------------------------------------------------------------
 * Per layer l, five (B, d) slots at state + (5*l + slot)*B*d: the time-mix token shift (the
 * previous LN1 output), aa, bb, pp of the WKV recurrence, and the channel-mix token shift. */
enum { LM_RWKV_ATT_XX = 0, LM_RWKV_AA, LM_RWKV_BB, LM_RWKV_PP, LM_RWKV_FFN_XX, LM_RWKV_SLOTS };

size_t lm_rwkv_state_floats(const lm_rwkv_dims *dm, size_t B);
/* The state of an empty history: zeros, pp = -1e30. */
void lm_rwkv_state_reset(const lm_rwkv_dims *dm, float *state, size_t B);

/* ---- time-mix ------------------------------------------------------------------------------
 * What the forward keeps for the backward: pointers into a caller's workspace. */
typedef struct lm_rwkv_att_cache {
    float *xx0;              /* (B, d) token-shift state at the window start */
    float *xk, *xv, *xr;     /* (N, d) token-shifted mixes */
    float *k, *v, *r;        /* (N, d) key, value, sigmoid(receptance) */
    float *wkv, *rw;         /* (N, d) wkv and r * wkv */
    float *aa, *bb, *pp;     /* (T+1, B, d) WKV state before each step; row T = final */
} lm_rwkv_att_cache;

/* Floats of the cache and of the scratch the time-mix and channel-mix need for (T, B). */
size_t lm_rwkv_att_cache_floats(size_t T, size_t B, size_t d);
lm_rwkv_att_cache lm_rwkv_att_cache_view(float *p, size_t T, size_t B, size_t d);
size_t lm_rwkv_scratch_floats(size_t T, size_t B, size_t d, size_t F);

/* x (N, d) -> out (N, d). state: the layer's five slots (only att_xx, aa, bb, pp are used),
 * read as the window's initial state and overwritten with the final one. */
void lm_rwkv_att_forward(size_t T, size_t B, size_t d, const lm_rwkv_layer *p, const float *x,
                         float *state, lm_rwkv_att_cache *c, float *out, float *scratch);
/* Backward of the matching forward: dout (N, d) in, dx (N, d) overwritten, gradients added to
 * g's time-mix tensors. No gradient flows into the initial state (truncated BPTT). */
void lm_rwkv_att_backward(size_t T, size_t B, size_t d, const lm_rwkv_layer *p, const float *x,
                          const lm_rwkv_att_cache *c, const float *dout, float *dx,
                          const lm_rwkv_layer *g, float *scratch);

/* ---- channel-mix ------------------------------------------------------------------------- */
typedef struct lm_rwkv_ffn_cache {
    float *xx0;      /* (B, d) */
    float *xk, *xr;  /* (N, d) */
    float *r, *vv;   /* (N, d) sigmoid(receptance), value output */
    float *kr, *ks;  /* (N, F) relu(key), its square */
} lm_rwkv_ffn_cache;

size_t lm_rwkv_ffn_cache_floats(size_t T, size_t B, size_t d, size_t F);
lm_rwkv_ffn_cache lm_rwkv_ffn_cache_view(float *p, size_t T, size_t B, size_t d, size_t F);

/* x (N, d) -> out (N, d); state: the layer's five slots (only ffn_xx is used). */
void lm_rwkv_ffn_forward(size_t T, size_t B, size_t d, size_t F, const lm_rwkv_layer *p,
                         const float *x, float *state, lm_rwkv_ffn_cache *c, float *out);
void lm_rwkv_ffn_backward(size_t T, size_t B, size_t d, size_t F, const lm_rwkv_layer *p,
                          const float *x, const lm_rwkv_ffn_cache *c, const float *dout,
                          float *dx, const lm_rwkv_layer *g, float *scratch);

/* ---- the block stack ----------------------------------------------------------------------
 * X (N, d) -> Y (N, d): h = LN0(X); per layer h += TimeMix(LN1(h)); h += ChannelMix(LN2(h));
 * Y = LN_out(h). state (lm_rwkv_state_floats) in/out. With train and dropout > 0 each branch
 * output is dropped out before the residual add (masks from rng). ws (lm_rwkv_ws_floats) must
 * stay untouched until the matching backward. */
size_t lm_rwkv_ws_floats(const lm_rwkv_dims *dm, size_t T, size_t B);
void lm_rwkv_forward(const lm_rwkv_dims *dm, const lm_rwkv_tensors *p, float *ws, const float *X,
                     float *Y, float *state, size_t T, size_t B, int train, lm_rng *rng);
/* dY (N, d) in; dX (N, d) overwritten (may be NULL); gradients added to g. */
void lm_rwkv_backward(const lm_rwkv_dims *dm, const lm_rwkv_tensors *p, float *ws,
                      const float *X, const float *dY, float *dX, const lm_rwkv_tensors *g,
                      size_t T, size_t B);

#endif
