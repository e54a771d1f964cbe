/* base.h - internal helpers shared by every module: errors, allocation, BLAS, kernels. */
#ifndef LM_BASE_H
#define LM_BASE_H

#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "lstmlm-tools.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Programmer errors: always compiled in, prints file:line and aborts. */
#define LM_ASSERT(x)                                                                         \
    do {                                                                                     \
        if (!(x))                                                                            \
            lm_assert_fail(__FILE__, __LINE__, #x);                                          \
    } while (0)
_Noreturn void lm_assert_fail(const char *file, int line, const char *expr);

/* A kernel chosen at run time (SIMD variants): detect() gives the best one the CPU runs
 * (variants numbered by capability, 0 the plain one); the choice is made once, lazily, and
 * can be forced for tests. */
typedef struct lm_kernel_choice {
    _Atomic int chosen; /* -1 until detected or forced */
    int (*detect)(void);
} lm_kernel_choice;
int lm_kernel_get(lm_kernel_choice *k);
/* Forces variant want (a negative want: back to detection); false when the CPU lacks it. */
bool lm_kernel_force(lm_kernel_choice *k, int want);

/* Makes room for n elements of size bytes in the array *p of *cap elements (doubling, at
 * least 16): LM_OK, or LM_ENOMEM with *p and *cap unchanged. */
int lm_grow(void **p, size_t *cap, size_t n, size_t size);
/* Prefixes an existing message: "prefix: old message". */
void lm_error_prefix(lm_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Sends one formatted line to the log callback, if any. */
void lm_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Hot element-wise loops are compiled for AVX-512, AVX2+FMA and the baseline, chosen once at
 * load time (GCC function multi-versioning, when configure found it works); elsewhere they are
 * compiled once. Not under ThreadSanitizer, whose instrumented ifunc resolvers run before it
 * starts. */
#if defined(LM_HAVE_TARGET_CLONES) && defined(__x86_64__) && !defined(__SANITIZE_THREAD__)
#define LM_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define LM_HOT
#endif

/* GCC on x86: the hand-written kernels (target attributes and intrinsics, chosen at run time
 * by what the CPU has) are built; elsewhere only their portable versions. */
#if (defined(__x86_64__) || defined(__i386__)) && defined(__GNUC__) && !defined(__clang__)
#define LM_X86_KERNELS 1
#endif

/* Overflow-checked product: false when a*b overflows size_t. */
static inline bool lm_mul_ok(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/* 64-byte aligned, zeroed block of n floats (NULL on failure or overflow). Free with lm_free. */
float *lm_alloc_floats(size_t n);
void lm_free(void *p);

/* A scratch buffer of this thread of at least bytes (64-byte aligned, contents undefined),
 * kept for the next call of the same slot and freed when the thread ends (scratch.c); NULL
 * when memory runs out. Growth is geometric, so varying sizes settle after a few calls. */
enum {
    LM_SCRATCH_BGEMM = 0,
    LM_SCRATCH_Q8 = 1,
    LM_SCRATCH_SGEMM = 2,
    LM_SCRATCH_QGEMM = 3,
    LM_SCRATCH_SLOTS = 4
};
void *lm_thread_scratch(int which, size_t bytes);

/* BLAS wrapper (the only place that includes cblas.h). Row-major.
 * C (M,N) = alpha * op(A) op(B) + beta * C, op = transpose when ta/tb. M == 1 uses sgemv.
 * Where OpenBLAS runs generic kernels on a CPU with AVX-512F (lm_sgemm_kernel_name), products
 * of at least two rows run on lstmlm's own float32 kernel (lm_sgemm) instead. On OpenBLAS,
 * products of a million multiply-adds or more (and matrix-vector products of 2^18 entries) are
 * split over the pool by the larger dimension of the result, each part one single-threaded
 * OpenBLAS call (lm_blas_split). */
void lm_gemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
             size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* The same with plain loops (reference for tests). */
void lm_gemm_ref(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                 size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* y (M) = alpha * op(A) x + beta * y, A (rows, cols) row-major; op = transpose when ta. */
void lm_gemv(bool ta, size_t rows, size_t cols, float alpha, const float *A, const float *x,
             float beta, float *y);
/* True when lm_gemm and lm_gemv split OpenBLAS's products over the pool (OpenBLAS then runs one
 * thread): unless LSTMLM_GEMM=openblas-threads, whenever the pool has more than one thread. */
bool lm_blas_split(void);

/* lstmlm's float32 GEMM (sgemm.h): the contract of lm_gemm, a blocked, packed AVX-512F kernel
 * split over lm_pool_run, with its B-packing buffer in the calling thread's scratch. Without
 * AVX-512F, or when the buffer cannot grow, lm_gemm_ref. lm_sgemm_kernel_name: "avx512" when
 * lm_gemm uses it (OpenBLAS's core is generic here, or LSTMLM_GEMM=own), "openblas" otherwise
 * (or LSTMLM_GEMM=openblas). lm_sgemm_force: tests: 0 = OpenBLAS, 1 = this kernel (false when
 * the CPU lacks AVX-512F), -1 = the automatic choice. */
void lm_sgemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
              size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
const char *lm_sgemm_kernel_name(void);
bool lm_sgemm_force(int kind);
/* Its matrix-vector product, which lm_gemm (one row) and lm_gemv use where lm_gemm uses
 * lm_sgemm: y (op(A) rows) = alpha op(A) x + beta y, A (rows, cols) with row stride lda; split
 * over the pool for large matrices; plain loops without AVX-512F. */
void lm_sgemv(bool ta, size_t rows, size_t cols, float alpha, const float *A, size_t lda,
              const float *x, float beta, float *y);

/* bf16 GEMM: the contract of lm_gemm (float32 in and out), but op(A) and op(B) are rounded to
 * bfloat16 (nearest even, lm_float_to_bf16 of qgemv.h) as they are packed, and the products
 * (exact in float32) are summed in float32. With AVX-512 BF16 a blocked, packed kernel
 * (vdpbf16ps: two products per float lane per instruction, twice the arithmetic of a float32
 * FMA of the same width) split over lm_pool_run; its packing buffers belong to the calling
 * thread and grow to the largest product it has run (no allocation for the same shapes
 * again). Elsewhere, and when the buffers cannot grow, the plain loops of lm_bgemm_ref (which
 * sum in double). Thread-safe. The kernel counts denormal bf16 values (below 2^-126) as zero;
 * the reference does not. */
void lm_bgemm(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
              size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
void lm_bgemm_ref(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                  size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
/* True when the fast kernel runs here; its name ("avx512-bf16", "plain"). */
bool lm_bgemm_available(void);
const char *lm_bgemm_kernel_name(void);
/* Tests: 0 = the plain loops, 1 = AVX-512 BF16; false if the CPU lacks it. -1 restores the
 * automatic choice. */
bool lm_bgemm_force(int kind);

/* The products of a training window: lm_gemm, or lm_bgemm while the calling thread's training
 * precision is LM_PRECISION_BF16. lm_gemm_train_set sets that precision (LM_PRECISION_F32 until
 * set) and returns the previous one, so a caller can restore it. The training window
 * (lm_net_window) sets it from the model's setting for its forward and backward; evaluation
 * and generation run with LM_PRECISION_F32. */
void lm_gemm_train(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, const float *A,
                   size_t lda, const float *B, size_t ldb, float beta, float *C, size_t ldc);
int lm_gemm_train_set(int precision);

/* Packed-panel GEMM for products with few rows (the recurrent step: B rows against a weight
 * matrix that stays fixed for a whole window). OpenBLAS repacks its B operand on every call,
 * which for B = 20 rows costs as much as the arithmetic; packing once per window and running
 * this kernel is 2-3x faster. x86-64 with AVX2+FMA or AVX-512F only; elsewhere
 * lm_pgemm_available() is false and callers use lm_gemm.
 * lm_pgemm_pack stores op(B) (K,N) (op = transpose when tb) into P, which must hold
 * lm_pgemm_floats(K, N) floats. lm_pgemm: C (M,N) = A (M,K) op(B) + beta C, beta 0 or 1.
 * Thread-safe; single-threaded (callers split rows across lm_pool_run). */
bool lm_pgemm_available(void);
const char *lm_pgemm_kernel_name(void);
size_t lm_pgemm_floats(size_t K, size_t N);
void lm_pgemm_pack(bool tb, size_t K, size_t N, const float *B, size_t ldb, float *P);
void lm_pgemm(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *P,
              float beta, float *C, size_t ldc);
/* Tests: 0 = no packed kernel, 1 = AVX2, 2 = AVX-512; returns false if the CPU lacks it.
 * -1 restores the automatic choice. */
bool lm_pgemm_force(int kind);

/* A persistent thread pool for lstmlm's own work and the split of OpenBLAS's products.
 * lm_pool_run calls fn(ctx, i, n) for i = 0..n-1 (n capped at lm_pool_threads()), part 0 on
 * the caller, and returns when all are done. lm_pool_range splits [0, count) evenly: part i
 * gets [lo, hi); lm_pool_range16 the same in whole groups of 16 (no two parts write one cache
 * line of a float row), false when the part is empty. */
#define LM_POOL_MAX 64 /* lm_pool_threads() never exceeds it: per-part arrays can use it */
typedef void (*lm_pool_fn)(void *ctx, size_t part, size_t nparts);
void lm_pool_run(size_t n, lm_pool_fn fn, void *ctx);
size_t lm_pool_threads(void);
void lm_pool_set_threads(size_t n);
void lm_pool_range(size_t count, size_t part, size_t nparts, size_t *lo, size_t *hi);
bool lm_pool_range16(size_t count, size_t part, size_t nparts, size_t *lo, size_t *hi);
/* Below these sizes a product runs on the calling thread: a pool dispatch costs a few
 * microseconds, which a part of under a million multiply-adds (or a matrix-vector product of
 * under 2^18 weights) does not win back. */
#define LM_POOL_MIN_MACS ((size_t)1 << 20)
#define LM_POOL_MIN_GEMV ((size_t)1 << 18)
/* A matrix-vector product y = alpha op(A) x + beta y (A (rows, cols), row stride lda) as a
 * pool job: each part computes a range of y (lm_gemv's split, lm_sgemv's). */
typedef struct lm_gemv_job {
    bool ta;
    size_t rows, cols, lda;
    float alpha, beta;
    const float *A, *x;
    float *y;
} lm_gemv_job;


/* Element-wise helpers over contiguous arrays. */
double lm_sumsq(const float *x, size_t n);
void lm_scale(float *x, size_t n, float a);
void lm_axpy(size_t n, float a, const float *x, float *y);

#endif
