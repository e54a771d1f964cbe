/* attention.h - a stack of pre-LayerNorm transformer decoder blocks (GPT-2 style). Internal.
 *
 * Block l, residual stream x (d = D wide):
 *   x = x + drop(proj(attn(ln1(x))))      causal multi-head self-attention, `heads` heads of
 *                                         D/heads, softmax(q k^T / sqrt(D/heads)) v
 *   x = x + drop(mlp.proj(gelu(mlp.fc(ln2(x)))))   gelu: tanh approximation (GPT-2)
 * The stack adds a learned position embedding to its input first and applies a final
 * LayerNorm (ln_f) last. LayerNorm: (x - mean) / sqrt(var + 1e-5) * weight + bias.
 *
 * Parameters (PyTorch nn.Linear layout (out, in), GPT-2/nanoGPT names):
 *   pos_embedding.weight (C, D)
 *   blocks.{l}.ln1.weight, .bias (D); blocks.{l}.attn.qkv.weight (3D, D) rows q|k|v, .bias (3D);
 *   blocks.{l}.attn.proj.weight (D, D), .bias (D); blocks.{l}.ln2.weight, .bias (D);
 *   blocks.{l}.mlp.fc.weight (F, D), .bias (F); blocks.{l}.mlp.proj.weight (D, F), .bias (D)
 *   ln_f.weight, ln_f.bias (D)
 * Head h uses columns h*D/heads .. (h+1)*D/heads of q, k and v.
 *
 * Window mode (training, evaluation): X (T*B, D) time-major; row t*B+b is at position t mod C
 * and attends to the rows of its own stream from the start of its chunk of C steps up to
 * itself (a window longer than C is cut into chunks attended separately).
 *
 * Cached mode (generation, one stream): a key/value cache holds per token slot j, for each
 * layer l, the key then the value (D floats each): slot j starts at cache + j * 2*L*D.
 * lm_attn_step feeds one token at position n attending to slots 0..n; lm_attn_encode fills
 * slots 0..T-1 from a window of T tokens at positions 0..T-1. */
#ifndef LM_ATTENTION_H
#define LM_ATTENTION_H

#include "base/base.h"

#define LM_ATTN_MAX_LAYERS 8

typedef struct lm_attn_dims {
    size_t L;      /* blocks */
    size_t D;      /* model width (the embedding size) */
    size_t heads;  /* D % heads == 0 */
    size_t F;      /* MLP width */
    size_t C;      /* context: rows of the position embedding */
    float dropout; /* on both residual branches, training only */
} lm_attn_dims;

/* Views of the tensors of one block, in the order of the parameter table. */
enum {
    LM_ATTN_LN1_W, LM_ATTN_LN1_B, LM_ATTN_QKV_W, LM_ATTN_QKV_B, LM_ATTN_PROJ_W, LM_ATTN_PROJ_B,
    LM_ATTN_LN2_W, LM_ATTN_LN2_B, LM_ATTN_FC_W, LM_ATTN_FC_B, LM_ATTN_MP_W, LM_ATTN_MP_B,
    LM_ATTN_PER_BLOCK
};

/* Pointers into a parameter block or a gradient block (read-only for parameters). */
typedef struct lm_attn_tensors {
    float *pos;                                      /* (C, D) */
    float *b[LM_ATTN_MAX_LAYERS][LM_ATTN_PER_BLOCK]; /* per block, LM_ATTN_* order */
    float *lnf_w, *lnf_b;                            /* (D) */
} lm_attn_tensors;

/* Floats of workspace for windows up to (T, B), backward included. */
size_t lm_attn_ws_floats(const lm_attn_dims *d, size_t T, size_t B);

/* Forward over a window: X (T*B, D) token embeddings in, Y (T*B, D) = ln_f output. With train
 * and dropout > 0 residual dropout masks are drawn from rng. ws must stay untouched until the
 * matching backward. */
void lm_attn_forward(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws, const float *X,
                     float *Y, size_t T, size_t B, int train, lm_rng *rng);
/* Backward of the last forward (which ran with train set when dropout > 0): dY (T*B, D) in,
 * dX (T*B, D) out (may be NULL), gradients (the position embedding's included) accumulated
 * into g. */
void lm_attn_backward(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws,
                      const float *dY, float *dX, const lm_attn_tensors *g, size_t T, size_t B);

/* Floats of workspace that lm_attn_step and lm_attn_encode (up to T tokens) need. */
size_t lm_attn_step_ws_floats(const lm_attn_dims *d, size_t T);
/* One token: x (D) its embedding at position n < C; cache holds slots 0..n-1 and receives
 * slot n; y (D) = ln_f output. */
void lm_attn_step(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws, const float *x,
                  float *y, float *cache, size_t n);
/* Fills cache slots 0..T-1 (T <= C) from X (T, D), the embeddings of T tokens at positions
 * 0..T-1 of one stream (what T calls of lm_attn_step would store). */
void lm_attn_encode(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws, const float *X,
                    float *cache, size_t T);

/* g = 0.5 u (1 + tanh(sqrt(2/pi) (u + 0.044715 u^3))), n elements; g may be u. */
void lm_gelu_forward(size_t n, const float *u, float *g);

/* One query against a cache of n + 1 slots, for each of the H heads: qkv (3D) holds the query
 * first; slot j of kv (stride S floats) holds its key (D) then its value (D); sc: H (n + 1)
 * floats of scratch; att (D) gets the heads' softmax-weighted values. Large caches split the
 * heads over the pool (each head computed alike whatever the split). */
void lm_attn_cached(size_t D, size_t H, size_t S, size_t n, const float *qkv, const float *kv,
                    float *sc, float *att);
#ifdef LM_X86_KERNELS
/* Heads [h0, h1) of the same for AVX-512F (attention_avx512.c), where D / H is a multiple of
 * 16 up to 128; the sums run in another order, so results differ from the portable loop by
 * rounding. */
void lm_attn_cached_avx512(size_t D, size_t H, size_t S, size_t n, const float *qkv,
                           const float *kv, float *sc, float *att, size_t h0, size_t h1);
#define LM_ATTN_AVX512 1
#endif
/* lm_attn_cached's variant: 0 the portable loop, 1 lm_attn_cached_avx512 (base.h). */
extern lm_kernel_choice lm_attn_kernel;

#endif
