/* pgemm_avx2.c - the packed-panel kernel for AVX2 with FMA: tiles of up to 6 rows x 16
 * columns (12 ymm accumulators). See pgemm_kernel.h. */
#include "base/pgemm.h"

#ifdef LM_PGEMM_X86
#pragma GCC target("avx2,fma")
#define PG_VL 8
#define PG_NV 2
#define PG_MR 6
#define PG_FN lm_pgemm_avx2
#include "base/pgemm_kernel.h"
#endif
