/* bgemm.c - the bf16 GEMM (base.h): the plain reference, the run-time choice of the AVX-512
 * BF16 kernel, its packing buffers and its split over the pool (see bgemm.h). */
#include "base/bgemm.h"
#include "base/base.h"
#include "base/qgemv.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

enum { BG_PLAIN = 0, BG_AVX512 = 1 };

static int detect(void)
{
#ifdef LM_BGEMM_X86
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bf16"))
        return BG_AVX512;
#endif
    return BG_PLAIN;
}

static lm_kernel_choice choice = {-1, detect};

bool lm_bgemm_force(int k)
{
    return lm_kernel_force(&choice, k);
}

bool lm_bgemm_available(void)
{
    return lm_kernel_get(&choice) != BG_PLAIN;
}

const char *lm_bgemm_kernel_name(void)
{
    return lm_kernel_get(&choice) == BG_AVX512 ? "avx512-bf16" : "plain";
}

/* C = beta C without reading C when beta is 0 (the BLAS rule). */
static void scale_c(size_t M, size_t N, float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0.0f ? 0.0f : beta * C[i * ldc + j];
}

static inline float bf(float x)
{
    return lm_bf16_to_float(lm_float_to_bf16(x));
}

void lm_bgemm_ref(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                  size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++) {
            double s = 0;
            for (size_t k = 0; k < K; k++) {
                float a = bf(ta ? A[k * lda + i] : A[i * lda + k]);
                float b = bf(tb ? B[j * ldb + k] : B[k * ldb + j]);
                s += (double)(a * b); /* exact: two 8-bit significands */
            }
            C[i * ldc + j] = (float)(alpha * s + (beta == 0.0f ? 0.0 : beta * C[i * ldc + j]));
        }
}

#ifdef LM_BGEMM_X86
/* ---- packing buffers ---------------------------------------------------------------------- */

/* The packing buffer: this thread's scratch (lm_thread_scratch), grown to the largest product
 * it has run and kept: training calls lm_bgemm with the same shapes every window. */
static uint32_t *buf_get(size_t n)
{
    return n <= SIZE_MAX / sizeof(uint32_t)
               ? lm_thread_scratch(LM_SCRATCH_BGEMM, n * sizeof(uint32_t))
               : NULL;
}

/* ---- the packed product over the pool ----------------------------------------------------- */

static void pack_part(void *ctx, size_t part, size_t nparts)
{
    const bg_job *j = ctx;
    size_t lo, hi;
    lm_pool_range(j->mp, part, nparts, &lo, &hi);
    lm_bgemm_pack_a_avx512(j, lo, hi);
    if (j->grouped)
        return;
    lm_pool_range(j->np, part, nparts, &lo, &hi);
    lm_bgemm_pack_b_avx512(j, lo, hi);
}

static void tiles_part(void *ctx, size_t part, size_t nparts)
{
    const bg_job *j = ctx;
    size_t lo, hi;
    if (j->split_rows) {
        lm_pool_range(j->mp, part, nparts, &lo, &hi);
        lm_bgemm_tiles_avx512(j, lo, hi, 0, j->np);
    } else {
        lm_pool_range(j->np, part, nparts, &lo, &hi);
        lm_bgemm_tiles_avx512(j, 0, j->mp, lo, hi);
    }
}
#endif

/* Products below this many multiply-adds run on the calling thread (a pool dispatch costs a
 * few microseconds). */
#define POOL_MIN_MACS ((size_t)1 << 21)

#ifdef LM_BGEMM_X86
/* Packs what the job needs packed and runs its tiles, over the pool when it is large. */
static void run_job(bg_job *j)
{
    j->split_rows = j->mp > j->np;
    size_t macs = j->M * j->N, parts = lm_pool_threads();
    if (!lm_mul_ok(macs, j->K, &macs) || macs >= POOL_MIN_MACS) {
        lm_pool_run(parts, pack_part, j);
        lm_pool_run(parts, tiles_part, j);
    } else {
        pack_part(j, 0, 1);
        tiles_part(j, 0, 1);
    }
}
#endif

void lm_bgemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
              size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0) {
        scale_c(M, N, beta, C, ldc);
        return;
    }
#ifdef LM_BGEMM_X86
    if (lm_kernel_get(&choice) == BG_AVX512) {
        bg_job j = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .KP = (K + 1) / 2,
                    .alpha = alpha, .beta = beta, .A = A, .B = B, .lda = lda, .ldb = ldb,
                    .C = C, .ldc = ldc};
        j.mp = (M + BG_MR - 1) / BG_MR;
        j.np = (N + BG_NR - 1) / BG_NR;
        size_t na = j.mp * BG_MR * j.KP, nb = j.np * BG_NR * j.KP, n;
        /* Past about 2^61 words the sums below would overflow: such a product is no use here. */
        uint32_t *w = na <= SIZE_MAX / 8 && nb <= SIZE_MAX / 8 && lm_mul_ok(j.mp, j.KP, &n)
                          ? buf_get(na + nb)
                          : NULL;
        if (w) {
            j.pa = w;
            j.pb = w + na;
            run_job(&j);
            return;
        }
        /* Out of memory for the packed operands: the plain loops need none. */
    }
#endif
    lm_bgemm_ref(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* ---- the training precision (lstmlm.h) ---------------------------------------------------- */

const char *lm_precision_name(int precision)
{
    return precision == LM_PRECISION_F32 ? "f32" : precision == LM_PRECISION_BF16 ? "bf16" : NULL;
}

int lm_precision_parse(const char *name)
{
    return !strcmp(name, "f32") ? LM_PRECISION_F32 : !strcmp(name, "bf16") ? LM_PRECISION_BF16 : -1;
}

int lm_precision_check(int precision, lm_error *err)
{
    if (precision == LM_PRECISION_F32)
        return LM_OK;
    if (precision != LM_PRECISION_BF16)
        return lm_fail(err, LM_EINVAL, "unknown precision %d (expected f32 or bf16)", precision);
    if (!lm_bgemm_available())
        return lm_fail(err, LM_EINVAL,
                       "bf16 training needs a CPU with AVX-512 BF16 (vdpbf16ps); this one "
                       "has none (a new run can use f32; a bf16 checkpoint resumes only on "
                       "such a CPU)");
    return LM_OK;
}

const char *lm_bf16_kernel_name(void)
{
    return lm_bgemm_kernel_name();
}

bool lm_bgemm_grouped(size_t n, const float *X, const uint32_t *pk, size_t rows, size_t cols,
                      float *Y)
{
#ifdef LM_BGEMM_X86
    if (lm_kernel_get(&choice) != BG_AVX512 || !n || !rows || !cols)
        return false;
    /* B is only read: a grouped job packs A alone. */
    bg_job j = {.tb = true, .M = n, .N = rows, .K = cols, .KP = (cols + 1) / 2, .alpha = 1.0f,
                .beta = 1.0f, .A = X, .lda = cols, .C = Y, .ldc = rows, .pb = (uint32_t *)pk,
                .grouped = true};
    j.mp = (n + BG_MR - 1) / BG_MR;
    j.np = (rows + BG_NR - 1) / BG_NR;
    size_t na;
    if (!lm_mul_ok(j.mp * BG_MR, j.KP, &na) || na > SIZE_MAX / 8 || !(j.pa = buf_get(na)))
        return false;
    run_job(&j);
    return true;
#else
    (void)n, (void)X, (void)pk, (void)rows, (void)cols, (void)Y;
    return false;
#endif
}

bool lm_bgemm_fast(void)
{
#ifdef LM_BGEMM_X86
    /* The kernel choice is cached (and may be forced by tests); __builtin_cpu_is reads the
     * CPU model that detect's __builtin_cpu_init filled in. */
    return lm_kernel_get(&choice) == BG_AVX512 && __builtin_cpu_is("amd");
#else
    return false;
#endif
}
