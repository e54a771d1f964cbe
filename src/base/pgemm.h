/* pgemm.h - the instruction-set variants behind lm_pgemm (base.h), internal to src/base. */
#ifndef LM_PGEMM_H
#define LM_PGEMM_H

#include "base/base.h"

#include <stddef.h>

#ifdef LM_X86_KERNELS
#define LM_PGEMM_X86 1
void lm_pgemm_avx2(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *P,
                   float beta, float *C, size_t ldc);
void lm_pgemm_avx512(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *P,
                     float beta, float *C, size_t ldc);
#endif

#endif
