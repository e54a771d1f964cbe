/* pgemm.c - packing and dispatch for the packed-panel GEMM (see base.h and pgemm_kernel.h). */
#include "base/pgemm.h"
#include "base/base.h"

#include <stdatomic.h>
#include <string.h>

enum { PG_NONE = 0, PG_AVX2 = 1, PG_AVX512 = 2 };


static int detect(void)
{
#ifdef LM_PGEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f"))
        return PG_AVX512;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        return PG_AVX2;
#endif
    return PG_NONE;
}

static lm_kernel_choice choice = {-1, detect};

static int kind(void)
{
    return lm_kernel_get(&choice);
}

bool lm_pgemm_force(int k)
{
    return lm_kernel_force(&choice, k);
}

bool lm_pgemm_available(void)
{
    return kind() != PG_NONE;
}

const char *lm_pgemm_kernel_name(void)
{
    static const char *names[] = {"none", "avx2", "avx512"};
    return names[kind()];
}

/* A packed block starts with a 16-float header that records the kernel it was packed for, so
 * lm_pgemm reads it with the matching panel width even if the choice changed in between. */
enum { HEADER = 16 };

size_t lm_pgemm_floats(size_t K, size_t N)
{
    return HEADER + (N + 31) / 32 * 32 * K; /* enough for either panel width */
}

void lm_pgemm_pack(bool tb, size_t K, size_t N, const float *B, size_t ldb, float *P)
{
    int32_t tag = kind();
    memcpy(P, &tag, sizeof tag);
    P += HEADER;
    size_t nr = tag == PG_AVX512 ? 32 : 16, np = (N + nr - 1) / nr;
    for (size_t p = 0; p < np; p++) {
        float *d = P + p * K * nr;
        size_t j0 = p * nr, nc = N - j0 < nr ? N - j0 : nr;
        if (tb) {
            /* op(B) = B^T, B is (N, K): panel column c is row j0 + c of B. */
            for (size_t c = 0; c < nc; c++) {
                const float *src = B + (j0 + c) * ldb;
                for (size_t k = 0; k < K; k++)
                    d[k * nr + c] = src[k];
            }
        } else {
            for (size_t k = 0; k < K; k++)
                memcpy(d + k * nr, B + k * ldb + j0, nc * sizeof(float));
        }
        if (nc < nr)
            for (size_t k = 0; k < K; k++)
                memset(d + k * nr + nc, 0, (nr - nc) * sizeof(float));
    }
}

void lm_pgemm(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *P, float beta,
              float *C, size_t ldc)
{
    LM_ASSERT(beta == 0.0f || beta == 1.0f);
    if (M == 0 || N == 0)
        return;
    int32_t tag;
    memcpy(&tag, P, sizeof tag);
    P += HEADER;
#ifdef LM_PGEMM_X86
    switch (tag) {
    case PG_AVX512:
        lm_pgemm_avx512(M, N, K, A, lda, P, beta, C, ldc);
        return;
    case PG_AVX2:
        lm_pgemm_avx2(M, N, K, A, lda, P, beta, C, ldc);
        return;
    default:
        break;
    }
#endif
    (void)A, (void)lda, (void)P, (void)C, (void)ldc;
    LM_ASSERT(!"lm_pgemm called without a packed kernel");
}
