/* sgemm.c - lstmlm's own float32 GEMM (base.h, sgemm.h): when lm_gemm uses it, its packing
 * buffer and its split over the pool. */
#include "base/sgemm.h"
#include "base/base.h"
#include "lstmlm.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

enum { SG_BLAS = 0, SG_AVX512 = 1 };

static bool cpu_avx512(void)
{
#ifdef LM_SGEMM_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return false;
#endif
}

int lm_blas_generic(void)
{
    /* OpenBLAS's x86-64 core types with AVX2 or AVX-512 kernels; any other (Prescott, Core2,
     * Nehalem, Sandybridge, ...) has at most 8-wide SSE/AVX kernels without FMA. */
    static const char *const fast[] = {"Haswell",        "Zen",      "SkylakeX", "Cooperlake",
                                       "SapphireRapids", "Excavator"};
    const char *core = lm_blas_core_name();
#if !(defined(__x86_64__) || defined(__i386__)) || !defined(__GNUC__)
    (void)core;
    (void)fast;
    return 0;
#else
    /* Only where the CPU could run the faster kernels. */
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma"))
        return 0;
    for (size_t i = 0; i < sizeof fast / sizeof *fast; i++)
        if (!strcasecmp(core, fast[i]))
            return 0;
    return 1;
#endif
}

static int detect(void)
{
    const char *v = getenv("LSTMLM_GEMM");
    if (v && (!strcmp(v, "openblas") || !strcmp(v, "openblas-threads")))
        return SG_BLAS;
    if (!cpu_avx512())
        return SG_BLAS;
    if (v && !strcmp(v, "own"))
        return SG_AVX512;
    return lm_blas_generic() ? SG_AVX512 : SG_BLAS;
}

static lm_kernel_choice choice = {-1, detect};

bool lm_sgemm_force(int k)
{
    if (k == SG_AVX512 && !cpu_avx512())
        return false;
    if (k >= 0) {
        atomic_store(&choice.chosen, k);
        return true;
    }
    atomic_store(&choice.chosen, -1);
    return true;
}

const char *lm_sgemm_kernel_name(void)
{
    return lm_kernel_get(&choice) == SG_AVX512 ? "avx512" : "openblas";
}

bool lm_sgemm_chosen(void)
{
    return lm_kernel_get(&choice) == SG_AVX512;
}

#ifdef LM_SGEMM_X86
static void pack_part(void *ctx, size_t part, size_t nparts)
{
    const sg_job *j = ctx;
    size_t lo, hi;
    if (j->ta) {
        lm_pool_range(j->mp, part, nparts, &lo, &hi);
        lm_sgemm_pack_a_avx512(j, lo, hi);
    }
    lm_pool_range(j->np, part, nparts, &lo, &hi);
    lm_sgemm_pack_b_avx512(j, lo, hi);
}

static void tiles_part(void *ctx, size_t part, size_t nparts)
{
    const sg_job *j = ctx;
    size_t lo, hi;
    if (j->split_rows) {
        lm_pool_range(j->mp, part, nparts, &lo, &hi);
        lm_sgemm_tiles_avx512(j, lo, hi, 0, j->np);
    } else {
        lm_pool_range(j->np, part, nparts, &lo, &hi);
        lm_sgemm_tiles_avx512(j, 0, j->mp, lo, hi);
    }
}
#endif

void lm_sgemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
              size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
#ifdef LM_SGEMM_X86
    if (K > 0 && cpu_avx512()) {
        sg_job j = {.M = M,
                    .N = N,
                    .K = K,
                    .alpha = alpha,
                    .beta = beta,
                    .A = A,
                    .B = B,
                    .lda = lda,
                    .ldb = ldb,
                    .ta = ta,
                    .tb = tb,
                    .C = C,
                    .ldc = ldc};
        j.mp = (M + SG_MR - 1) / SG_MR;
        j.np = (N + SG_NR - 1) / SG_NR;
        size_t na = 0, nb, bytes;
        bool fits = (!ta || lm_mul_ok(j.mp * SG_MR, K, &na)) && lm_mul_ok(j.np * SG_NR, K, &nb) &&
                    na <= SIZE_MAX / 8 && nb <= SIZE_MAX / 8 &&
                    lm_mul_ok(na + nb, sizeof(float), &bytes);
        float *w = fits ? lm_thread_scratch(LM_SCRATCH_SGEMM, bytes) : NULL;
        if (w) {
            j.pa = ta ? w : NULL;
            j.pb = w + na;
            size_t parts = lm_pool_threads(), macs = M * N;
            j.split_rows = j.mp >= parts * 4 || j.mp > j.np;
            if (!lm_mul_ok(macs, K, &macs) || macs >= LM_POOL_MIN_MACS) {
                lm_pool_run(parts, pack_part, &j);
                lm_pool_run(parts, tiles_part, &j);
            } else {
                pack_part(&j, 0, 1);
                tiles_part(&j, 0, 1);
            }
            return;
        }
    }
#endif
    lm_gemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

const char *lm_gemm_kernel_name(void)
{
    return lm_sgemm_chosen() ? "lstmlm-avx512" : "openblas";
}

#ifdef LM_SGEMM_X86
static void sgemv_part(void *ctx, size_t part, size_t nparts)
{
    const lm_gemv_job *j = ctx;
    size_t lo, hi;
    if (!lm_pool_range16(j->ta ? j->cols : j->rows, part, nparts, &lo, &hi))
        return;
    if (j->ta)
        lm_sgemv_cols_avx512(lo, hi, j->rows, j->alpha, j->A, j->lda, j->x, j->beta, j->y);
    else
        lm_sgemv_rows_avx512(lo, hi, j->cols, j->alpha, j->A, j->lda, j->x, j->beta, j->y);
}
#endif

void lm_sgemv(bool ta, size_t rows, size_t cols, float alpha, const float *A, size_t lda,
              const float *x, float beta, float *y)
{
#ifdef LM_SGEMM_X86
    if (cpu_avx512()) {
        lm_gemv_job j = {ta, rows, cols, lda, alpha, beta, A, x, y};
        size_t n;
        if (lm_mul_ok(rows, cols, &n) && n < LM_POOL_MIN_GEMV)
            sgemv_part(&j, 0, 1);
        else
            lm_pool_run(lm_pool_threads(), sgemv_part, &j);
        return;
    }
#endif
    /* y as the one-row product x op(A)^T of the reference loops. */
    if (ta)
        lm_gemm_ref(false, false, 1, cols, rows, alpha, x, rows, A, lda, beta, y, cols);
    else
        lm_gemm_ref(false, true, 1, rows, cols, alpha, x, cols, A, lda, beta, y, rows);
}
