/* pgemm_avx512.c - the packed-panel kernel for AVX-512F: tiles of up to 12 rows x 32 columns
 * (24 zmm accumulators). See pgemm_kernel.h. */
#include "base/pgemm.h"

#ifdef LM_PGEMM_X86
#pragma GCC target("avx512f,avx2,fma")
#define PG_VL 16
#define PG_NV 2
#define PG_MR 12
#define PG_FN lm_pgemm_avx512
#include "base/pgemm_kernel.h"
#endif
