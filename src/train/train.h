/* train.h - optimizers over flat blocks. Internal. */
#ifndef LM_TRAIN_H
#define LM_TRAIN_H

#include "base/base.h"

/* All three split their block across the pool (lm_pool_run). */
/* Global L2 norm of g (n floats). */
double lm_grad_norm(const float *g, size_t n);
/* p -= lr * g, then g = 0 (the next window accumulates into a clean block in the same pass). */
void lm_sgd_step(float *restrict p, float *restrict g, size_t n, float lr);
/* Adam (Kingma & Ba) with bias correction at step t (1-based); wd > 0 adds AdamW's decoupled
 * decay p -= lr * wd * p. */
/* The gradient used is gscale * g (clipping folded in); g is zeroed afterwards. */
void lm_adam_step(float *restrict p, float *restrict g, float *restrict m,
                  float *restrict v, size_t n, float lr, float b1, float b2, float eps, float wd,
                  uint64_t t, float gscale);

#endif
