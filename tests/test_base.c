/* test_base.c - RNG, BLAS wrapper, packed and bf16 kernels against plain loops, the thread
 * pool (also across fork), fast exp/sigmoid/tanh accuracy, errors. */
#include "base/base.h"
#include "base/fastmath.h"
#include "base/qgemv.h"
#include "harness.h"

#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void test_rng_repeatable(void)
{
    lm_rng a, b;
    lm_rng_seed(&a, 123);
    lm_rng_seed(&b, 123);
    for (int i = 0; i < 1000; i++)
        CU_ASSERT_EQUAL(lm_rng_next(&a), lm_rng_next(&b));
    lm_rng_seed(&b, 124);
    CU_ASSERT_NOT_EQUAL(lm_rng_next(&a), lm_rng_next(&b));
    double s = 0;
    for (int i = 0; i < 100000; i++) {
        double u = lm_rng_uniform(&a);
        CU_ASSERT_FATAL(u >= 0 && u < 1);
        s += u;
    }
    LM_ASSERT_CLOSE(s / 100000, 0.5, 0.005, 0);
}

/* Every transpose combination, including the M == 1 path that uses sgemv. */
static void test_gemm_matches_reference(void)
{
    lm_rng r;
    lm_rng_seed(&r, 5);
    size_t shapes[][3] = {{1, 7, 5}, {3, 1, 4}, {6, 9, 11}, {1, 1, 1}, {17, 33, 65}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float A[17 * 65], Bm[65 * 33], C1[17 * 33], C2[17 * 33];
        for (size_t i = 0; i < sizeof A / sizeof *A; i++)
            A[i] = (float)(lm_rng_uniform(&r) - 0.5);
        for (size_t i = 0; i < sizeof Bm / sizeof *Bm; i++)
            Bm[i] = (float)(lm_rng_uniform(&r) - 0.5);
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                size_t lda = ta ? M : K, ldb = tb ? K : N;
                for (size_t i = 0; i < M * N; i++)
                    C1[i] = C2[i] = (float)i * 0.01f;
                lm_gemm(ta, tb, M, N, K, 0.7f, A, lda, Bm, ldb, 0.3f, C1, N);
                lm_gemm_ref(ta, tb, M, N, K, 0.7f, A, lda, Bm, ldb, 0.3f, C2, N);
                CU_ASSERT(th_check_tensor("gemm", C1, C2, M * N, 1e-5, 1e-5));
            }
    }
}

/* The packed kernel against plain loops for every instruction set this CPU has: row counts
 * that exercise every tile height, column counts off the panel width, both operand layouts,
 * beta 0 and 1. */
static void test_pgemm_matches_reference(void)
{
    if (!lm_pgemm_available()) {
        printf("\n  skipped: no packed kernel on this CPU (needs x86-64 with AVX2 or AVX-512)");
        return;
    }
    lm_rng r;
    lm_rng_seed(&r, 9);
    enum { MM = 25, NN = 70, KK = 41 };
    float *A = lm_alloc_floats(MM * KK), *Bm = lm_alloc_floats(NN * KK);
    float *P = lm_alloc_floats(lm_pgemm_floats(KK, NN));
    float *C1 = lm_alloc_floats(MM * NN), *C2 = lm_alloc_floats(MM * NN);
    for (size_t i = 0; i < MM * KK; i++)
        A[i] = (float)(lm_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < NN * KK; i++)
        Bm[i] = (float)(lm_rng_uniform(&r) - 0.5);
    size_t Ns[] = {1, 15, 16, 17, 33, 70}, Ks[] = {1, 5, 41};
    int kinds = 0;
    for (int kind = 2; kind >= 1; kind--) {
        if (!lm_pgemm_force(kind))
            continue;
        kinds++;
        for (size_t M = 1; M <= MM; M++)
            for (size_t ni = 0; ni < sizeof Ns / sizeof *Ns; ni++)
                for (size_t ki = 0; ki < sizeof Ks / sizeof *Ks; ki++)
                    for (int tb = 0; tb < 2; tb++)
                        for (int beta = 0; beta < 2; beta++) {
                            size_t N = Ns[ni], K = Ks[ki], ldb = tb ? KK : NN;
                            lm_pgemm_pack(tb, K, N, Bm, ldb, P);
                            for (size_t i = 0; i < MM * NN; i++)
                                C1[i] = C2[i] = (float)i * 0.01f;
                            lm_pgemm(M, N, K, A, KK, P, (float)beta, C1, NN);
                            lm_gemm_ref(false, tb, M, N, K, 1.0f, A, KK, Bm, ldb, (float)beta,
                                        C2, NN);
                            if (!th_check_tensor(lm_pgemm_kernel_name(), C1, C2, MM * NN, 1e-5,
                                                 1e-5)) {
                                printf("\n  M=%zu N=%zu K=%zu tb=%d beta=%d", M, N, K, tb, beta);
                                CU_FAIL("packed gemm differs from the reference");
                                goto out;
                            }
                        }
    }
    /* A block packed for one kernel stays readable after the choice changes. */
    if (lm_pgemm_force(2) && lm_pgemm_force(1)) {
        lm_pgemm_force(2);
        lm_pgemm_pack(true, KK, NN, Bm, KK, P);
        lm_pgemm_force(1);
        lm_pgemm(MM, NN, KK, A, KK, P, 0.0f, C1, NN);
        lm_gemm_ref(false, true, MM, NN, KK, 1.0f, A, KK, Bm, KK, 0.0f, C2, NN);
        CU_ASSERT(th_check_tensor("packed for avx512, run after forcing avx2", C1, C2, MM * NN,
                                  1e-5, 1e-5));
    }
out:
    lm_pgemm_force(-1);
    CU_ASSERT(kinds >= 1);
    lm_free(A);
    lm_free(Bm);
    lm_free(P);
    lm_free(C1);
    lm_free(C2);
}

/* ---- the bf16 GEMM ------------------------------------------------------------------------ */

/* The float32 sums of K products differ from the reference's (summed in double) by at most
 * K units of float rounding of the summed magnitudes. */
#define BF_SUM_ULP 6e-8

static float bf_round(float x)
{
    return lm_bf16_to_float(lm_float_to_bf16(x));
}

/* One case against the reference: strided operands (ld one past the width), C with a margin
 * that must stay untouched; |C - ref| <= K * BF_SUM_ULP * (sum |a b| + |beta C|). */
typedef void (*gemm_fn)(bool ta, bool tb, size_t M, size_t N, size_t K, float alpha,
                        const float *A, size_t lda, const float *B, size_t ldb, float beta,
                        float *C, size_t ldc);

static float no_round(float x)
{
    return x;
}

/* The product under test (f, named name, whose operands are rounded by rnd) against its
 * reference ref. */
static bool gemm_case(gemm_fn f, gemm_fn ref, float (*rnd)(float), const char *name, lm_rng *r,
                      bool ta, bool tb, size_t M, size_t N, size_t K, float alpha, float beta)
{
    size_t lda = (ta ? M : K) + 1, ldb = (tb ? K : N) + 1, ldc = N + 3;
    size_t na = (ta ? K : M) * lda, nb = (tb ? N : K) * ldb, nc = M * ldc;
    float *A = lm_alloc_floats(na), *Bm = lm_alloc_floats(nb);
    float *C0 = lm_alloc_floats(nc), *C1 = lm_alloc_floats(nc), *C2 = lm_alloc_floats(nc);
    for (size_t i = 0; i < na; i++)
        A[i] = (float)(lm_rng_uniform(r) - 0.5);
    for (size_t i = 0; i < nb; i++)
        Bm[i] = (float)(lm_rng_uniform(r) - 0.5);
    for (size_t i = 0; i < nc; i++)
        C0[i] = C1[i] = C2[i] = (float)(lm_rng_uniform(r) - 0.5);
    f(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C1, ldc);
    ref(ta, tb, M, N, K, alpha, A, lda, Bm, ldb, beta, C2, ldc);
    bool ok = true;
    for (size_t i = 0; i < M && ok; i++)
        for (size_t j = 0; j < ldc && ok; j++) {
            double mag = fabs((double)beta * C0[i * ldc + j]);
            for (size_t k = 0; k < K && j < N; k++)
                mag += fabs((double)alpha * rnd(ta ? A[k * lda + i] : A[i * lda + k]) *
                            rnd(tb ? Bm[j * ldb + k] : Bm[k * ldb + j]));
            double d = fabs((double)C1[i * ldc + j] - C2[i * ldc + j]);
            if (j >= N ? d != 0 : d > (double)(K + 1) * BF_SUM_ULP * mag + 1e-30) {
                printf("\n  %s ta=%d tb=%d M=%zu N=%zu K=%zu alpha=%g beta=%g: C[%zu][%zu] %.9g "
                       "vs %.9g%s", name, ta, tb, M, N, K, (double)alpha,
                       (double)beta, i, j, (double)C1[i * ldc + j], (double)C2[i * ldc + j],
                       j >= N ? " (past N: written)" : "");
                ok = false;
            }
        }
    lm_free(A);
    lm_free(Bm);
    lm_free(C0);
    lm_free(C1);
    lm_free(C2);
    return ok;
}

/* Every shape of the sweep (tails and exact multiples of the kernels' tiles each way), each
 * transposition, alpha and beta varied; false at the first case that differs. */
static bool gemm_sweep(gemm_fn f, gemm_fn ref, float (*rnd)(float), const char *name, lm_rng *r,
                       int *cases)
{
    static const size_t Ms[] = {1, 2, 7, 8, 9, 17, 40};
    static const size_t Ns[] = {1, 15, 16, 17, 47, 48, 49, 100};
    static const size_t Ks[] = {1, 2, 3, 31, 32, 33, 257};
    for (int t = 0; t < 4; t++)
        for (size_t a = 0; a < sizeof Ms / sizeof *Ms; a++)
            for (size_t b = 0; b < sizeof Ns / sizeof *Ns; b++)
                for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
                    float alpha = (a + c) % 2 ? 0.5f : 1.0f;
                    float beta = (b + c) % 3 == 0 ? 0.0f : (b + c) % 3 == 1 ? 1.0f : 0.3f;
                    ++*cases;
                    if (!gemm_case(f, ref, rnd, name, r, t & 1, t & 2, Ms[a], Ns[b], Ks[c], alpha,
                                   beta))
                        return false;
                }
    return true;
}

static bool bgemm_case(lm_rng *r, bool ta, bool tb, size_t M, size_t N, size_t K, float alpha,
                       float beta)
{
    return gemm_case(lm_bgemm, lm_bgemm_ref, bf_round, lm_bgemm_kernel_name(), r, ta, tb, M, N,
                     K, alpha, beta);
}

/* Rounding: single products are exact, so they show the packing rounds to nearest even as
 * lm_float_to_bf16 does (halfway cases 1 + 2^-8 -> 1 and 1 + 3 * 2^-8 -> 1 + 2^-6). */
static bool bgemm_rounding(void)
{
    static const float v[] = {1.0f,       1.00390625f, 1.01171875f, -1.00390625f, 3.14159265f,
                              -2.71828f,  1e-3f,       6.5e4f,      -1e30f,       0.0f,
                              1.0f + 1e-7f, 0.333333f, -7.77e-5f,   123.456f,     1.99999f,
                              -0.5f};
    enum { n = sizeof v / sizeof *v };
    float C1[n * n], C2[n * n];
    lm_bgemm(false, true, n, n, 1, 1.0f, v, 1, v, 1, 0.0f, C1, n);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            C2[i * n + j] = bf_round(v[i]) * bf_round(v[j]);
    for (size_t i = 0; i < n * n; i++)
        if (C1[i] != C2[i]) { /* == also for the zeros of either sign */
            printf("\n  %s: %.9g x %.9g = %.9g, expected %.9g", lm_bgemm_kernel_name(),
                   (double)v[i / n], (double)v[i % n], (double)C1[i], (double)C2[i]);
            return false;
        }
    return bf_round(1.00390625f) == 1.0f && bf_round(1.01171875f) == 1.015625f;
}

static void test_bgemm(void)
{
    lm_rng r;
    lm_rng_seed(&r, 11);
    int cases = 0, kinds = 0;
    for (int kind = 1; kind >= 0; kind--) {
        if (!lm_bgemm_force(kind)) {
            printf("\n  skipped: the AVX-512 BF16 kernel (this CPU has no AVX-512 BF16)");
            continue;
        }
        kinds++;
        CU_ASSERT(bgemm_rounding());
        if (!gemm_sweep(lm_bgemm, lm_bgemm_ref, bf_round, lm_bgemm_kernel_name(), &r, &cases)) {
            CU_FAIL("bf16 gemm differs from the reference");
            goto out;
        }
        /* Several panels and K blocks each way, and the empty products. */
        for (int t = 0; t < 4; t++)
            CU_ASSERT(bgemm_case(&r, t & 1, t & 2, 130, 200, 600, 1.0f, 1.0f));
        float C[6] = {1, 2, 3, 4, 5, 6};
        lm_bgemm(false, false, 2, 3, 0, 1.0f, C, 1, C, 3, 0.5f, C, 3);
        CU_ASSERT(C[0] == 0.5f && C[5] == 3.0f);
        lm_bgemm(false, false, 0, 3, 4, 1.0f, NULL, 4, NULL, 3, 0.0f, NULL, 3);
    }
out:
    lm_bgemm_force(-1);
    CU_ASSERT(kinds >= 1);
    printf("(%d cases) ", cases);
}

/* The product on 1 and on 3 threads, each transposition: the same bits (every C element is
 * summed in the same order whatever the split). */
static void same_bits_threads(gemm_fn f, const float *A, const float *Bm, float *C1, float *C2,
                              size_t M, size_t N, size_t K, size_t parts)
{
    for (int t = 0; t < 4; t++) {
        bool ta = t & 1, tb = t & 2;
        size_t lda = ta ? M : K, ldb = tb ? K : N;
        lm_pool_set_threads(1);
        f(ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, 0.0f, C1, N);
        lm_pool_set_threads(3);
        f(ta, tb, M, N, K, 1.0f, A, lda, Bm, ldb, 0.0f, C2, N);
        CU_ASSERT(!memcmp(C1, C2, M * N * sizeof *C1));
    }
    lm_pool_set_threads(parts);
}

/* lstmlm's float32 kernel against the plain loops (the shapes of the bf16 test), lm_gemm's
 * dispatch to it when forced, and its pool split (the bits of one thread). */
static void test_sgemm(void)
{
    if (!lm_sgemm_force(1)) {
        printf("\n  skipped: the AVX-512 float32 kernel (this CPU has no AVX-512F)");
        return;
    }
    lm_rng r;
    lm_rng_seed(&r, 13);
    int cases = 0;
    if (!gemm_sweep(lm_sgemm, lm_gemm_ref, no_round, "avx512", &r, &cases)) {
        CU_FAIL("float32 gemm differs from the reference");
        goto out;
    }
    for (int t = 0; t < 4; t++) {
        CU_ASSERT(gemm_case(lm_sgemm, lm_gemm_ref, no_round, "avx512", &r, t & 1, t & 2, 130, 200,
                            600, 1.0f, 1.0f));
        CU_ASSERT(gemm_case(lm_gemm, lm_gemm_ref, no_round, "lm_gemm", &r, t & 1, t & 2, 33, 70,
                            300, 0.5f, 0.3f));
    }
    CU_ASSERT_STRING_EQUAL(lm_sgemm_kernel_name(), "avx512");
    size_t M = 300, N = 500, K = 201, parts = lm_pool_threads();
    float *A = lm_alloc_floats(M * K), *Bm = lm_alloc_floats(N * K);
    float *C1 = lm_alloc_floats(M * N), *C2 = lm_alloc_floats(M * N);
    for (size_t i = 0; i < M * K; i++)
        A[i] = (float)(lm_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < N * K; i++)
        Bm[i] = (float)(lm_rng_uniform(&r) - 0.5);
    same_bits_threads(lm_sgemm, A, Bm, C1, C2, M, N, K, parts);
    /* The matrix-vector product, both ways, small and split over the pool, through lm_gemm's
     * one-row case and lm_gemv; |y - ref| within K float roundings of the summed magnitudes. */
    static const size_t vr[] = {1, 15, 17, 130, 1000}, vc[] = {1, 16, 33, 200, 650};
    lm_free(A);
    lm_free(Bm);
    lm_free(C1);
    lm_free(C2);
    A = lm_alloc_floats(1000 * 650);
    Bm = lm_alloc_floats(1000);
    C1 = lm_alloc_floats(1000);
    C2 = lm_alloc_floats(1000);
    for (size_t i = 0; i < 1000 * 650; i++)
        A[i] = (float)(lm_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < 1000; i++)
        Bm[i] = (float)(lm_rng_uniform(&r) - 0.5);
    for (int t = 0; t < 2; t++)
        for (size_t a = 0; a < 5; a++)
            for (size_t b = 0; b < 5; b++) {
                size_t R = vr[a], Cc = vc[b], ny = t ? Cc : R, nx = t ? R : Cc;
                float beta = (a + b) % 2 ? 0.3f : 0.0f;
                for (size_t i = 0; i < ny; i++)
                    C1[i] = C2[i] = (float)(lm_rng_uniform(&r) - 0.5);
                if (t)
                    lm_gemm(false, false, 1, Cc, R, 0.5f, Bm, R, A, Cc, beta, C1, Cc);
                else
                    lm_gemv(false, R, Cc, 0.5f, A, Bm, beta, C1);
                for (size_t i = 0; i < ny; i++) {
                    double s = 0, mag = fabs((double)beta * C2[i]);
                    for (size_t k = 0; k < nx; k++) {
                        double p = (double)(t ? A[k * Cc + i] : A[i * Cc + k]) * Bm[k];
                        s += p;
                        mag += fabs(0.5 * p);
                    }
                    double want = 0.5 * s + (beta == 0.0f ? 0.0 : beta * C2[i]);
                    if (fabs(C1[i] - want) > (double)(nx + 1) * BF_SUM_ULP * mag + 1e-30) {
                        printf("\n  gemv ta=%d rows=%zu cols=%zu: y[%zu] %.9g vs %.9g", t, R, Cc,
                               i, (double)C1[i], want);
                        CU_FAIL("float32 gemv differs from the reference");
                        break;
                    }
                }
            }
    lm_free(A);
    lm_free(Bm);
    lm_free(C1);
    lm_free(C2);
out:
    CU_ASSERT(lm_sgemm_force(0));
    CU_ASSERT_STRING_EQUAL(lm_sgemm_kernel_name(), "openblas");
    lm_sgemm_force(-1);
    printf("(%d cases) ", cases);
}

/* OpenBLAS's products split over the pool (lm_blas_split): 2 and 3 parts, results split by
 * rows (M >= N) and by columns, tails off the 16-wide part boundaries, every transposition,
 * strided operands, nothing written past N; and the matrix-vector products both ways. */
static void test_blas_split(void)
{
    lm_sgemm_force(0);
    size_t keep = lm_pool_threads();
    lm_rng r;
    lm_rng_seed(&r, 21);
    static const size_t shapes[][3] = {{400, 1000, 200}, {1000, 200, 400}, {33, 4001, 17},
                                       {517, 37, 129}, {64, 64, 256}};
    int cases = 0;
    for (size_t parts = 2; parts <= 3; parts++) {
        lm_pool_set_threads(parts);
        CU_ASSERT(lm_blas_split());
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
            for (int t = 0; t < 4; t++, cases++)
                CU_ASSERT(gemm_case(lm_gemm, lm_gemm_ref, no_round, "split", &r, t & 1, t & 2,
                                    shapes[s][0], shapes[s][1], shapes[s][2], 0.5f,
                                    t < 2 ? 0.0f : 0.3f));
        /* One row: lm_gemm's sgemv case (y = B^T a and y = B a) and lm_gemv, both ways. */
        static const size_t vs[][2] = {{1000, 650}, {650, 1001}, {513, 517}};
        for (size_t v = 0; v < sizeof vs / sizeof *vs; v++)
            for (int t = 0; t < 2; t++, cases += 2) {
                CU_ASSERT(gemm_case(lm_gemm, lm_gemm_ref, no_round, "split gemv", &r, false,
                                    t, 1, vs[v][0], vs[v][1], 0.5f, t ? 0.3f : 0.0f));
                size_t R = vs[v][0], Cc = vs[v][1], nx = t ? R : Cc, ny = t ? Cc : R;
                float *A = lm_alloc_floats(R * Cc), *x = lm_alloc_floats(nx);
                float *y = lm_alloc_floats(ny), *want = lm_alloc_floats(ny);
                for (size_t i = 0; i < R * Cc; i++)
                    A[i] = (float)(lm_rng_uniform(&r) - 0.5);
                for (size_t i = 0; i < nx; i++)
                    x[i] = (float)(lm_rng_uniform(&r) - 0.5);
                for (size_t i = 0; i < ny; i++)
                    y[i] = want[i] = (float)(lm_rng_uniform(&r) - 0.5);
                lm_gemv(t, R, Cc, 0.5f, A, x, 0.3f, y);
                if (t)
                    lm_gemm_ref(false, false, 1, Cc, R, 0.5f, x, R, A, Cc, 0.3f, want, Cc);
                else
                    lm_gemm_ref(false, true, 1, R, Cc, 0.5f, x, Cc, A, Cc, 0.3f, want, R);
                CU_ASSERT(th_check_tensor("lm_gemv split", y, want, ny, 1e-5, 1e-5));
                lm_free(A);
                lm_free(x);
                lm_free(y);
                lm_free(want);
            }
    }
    lm_pool_set_threads(1);
    CU_ASSERT(!lm_blas_split());
    lm_pool_set_threads(keep);
    lm_sgemm_force(-1);
    printf("(%d cases) ", cases);
}

/* The pool split gives the bits of one thread (every C element is summed in the same order),
 * and lm_gemm_train follows the thread's training precision. */
static void test_bgemm_threads(void)
{
    size_t M = 300, N = 500, K = 201, parts = lm_pool_threads();
    lm_rng r;
    lm_rng_seed(&r, 12);
    float *A = lm_alloc_floats(M * K), *Bm = lm_alloc_floats(N * K);
    float *C1 = lm_alloc_floats(M * N), *C2 = lm_alloc_floats(M * N);
    for (size_t i = 0; i < M * K; i++)
        A[i] = (float)(lm_rng_uniform(&r) - 0.5);
    for (size_t i = 0; i < N * K; i++)
        Bm[i] = (float)(lm_rng_uniform(&r) - 0.5);
    same_bits_threads(lm_bgemm, A, Bm, C1, C2, M, N, K, parts);
    CU_ASSERT(lm_gemm_train_set(LM_PRECISION_BF16) == LM_PRECISION_F32);
    lm_gemm_train(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C1, N);
    lm_bgemm(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C2, N);
    CU_ASSERT(!memcmp(C1, C2, M * N * sizeof *C1));
    CU_ASSERT(lm_gemm_train_set(LM_PRECISION_F32) == LM_PRECISION_BF16);
    lm_gemm_train(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C1, N);
    lm_gemm(false, true, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C2, N);
    CU_ASSERT(!memcmp(C1, C2, M * N * sizeof *C1));
    lm_free(A);
    lm_free(Bm);
    lm_free(C1);
    lm_free(C2);
}

/* Every part runs exactly once, on distinct threads when there are several, and the ranges
 * cover [0, n) without overlap. A call made while a job runs (nested) still runs all parts. */
typedef struct pool_case {
    int hits[8];
    size_t nparts[8];
    int nested_hits[8];
} pool_case;

static void pool_nested(void *ctx, size_t part, size_t nparts)
{
    pool_case *c = ctx;
    (void)nparts;
    c->nested_hits[part]++;
}

static void pool_part(void *ctx, size_t part, size_t nparts)
{
    pool_case *c = ctx;
    c->hits[part]++;
    c->nparts[part] = nparts;
    if (part == 0)
        lm_pool_run(nparts, pool_nested, c);
}

static void test_pool(void)
{
    size_t keep = lm_pool_threads();
    for (size_t threads = 1; threads <= 4; threads++) {
        lm_pool_set_threads(threads);
        for (int rep = 0; rep < 200; rep++) {
            pool_case c = {0};
            size_t want = (size_t)rep % 6; /* 0..5 parts asked, capped at threads */
            lm_pool_run(want, pool_part, &c);
            size_t n = want < threads ? want : threads;
            for (size_t i = 0; i < 8; i++) {
                CU_ASSERT_EQUAL(c.hits[i], i < n ? 1 : 0);
                if (i < n)
                    CU_ASSERT_EQUAL(c.nparts[i], n);
            }
            for (size_t i = 0; i < 8; i++)
                CU_ASSERT_EQUAL(c.nested_hits[i], i < n ? 1 : 0);
        }
    }
    for (size_t count = 0; count < 50; count++)
        for (size_t n = 1; n <= 7; n++) {
            size_t next = 0;
            for (size_t i = 0; i < n; i++) {
                size_t lo, hi;
                lm_pool_range(count, i, n, &lo, &hi);
                CU_ASSERT(lo == next && hi >= lo);
                next = hi;
            }
            CU_ASSERT_EQUAL(next, count);
        }
    lm_pool_set_threads(keep);
}

/* After fork the child has none of the parent's workers: its jobs must still complete (an
 * alarm turns a hang into a failure) and run every part once. */
static void count_part(void *ctx, size_t part, size_t nparts)
{
    (void)nparts;
    atomic_fetch_add((atomic_int *)ctx + part, 1);
}

static void test_pool_fork(void)
{
    size_t keep = lm_pool_threads();
    lm_pool_set_threads(2);
    atomic_int hits[2] = {0, 0};
    lm_pool_run(2, count_part, hits); /* the parent's worker exists */
    CU_ASSERT(hits[0] == 1 && hits[1] == 1);
    fflush(stdout);
    pid_t pid = fork();
    CU_ASSERT_FATAL(pid >= 0);
    if (pid == 0) {
        alarm(20);
        atomic_int h[2] = {0, 0};
        for (int i = 0; i < 100; i++)
            lm_pool_run(2, count_part, h);
        _exit(h[0] == 100 && h[1] == 100 ? 0 : 1);
    }
    int status = 0;
    CU_ASSERT_EQUAL(waitpid(pid, &status, 0), pid);
    CU_ASSERT(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    lm_pool_run(2, count_part, hits); /* and the parent's pool still works */
    CU_ASSERT(hits[0] == 2 && hits[1] == 2);
    lm_pool_set_threads(keep);
}

static void test_fast_math(void)
{
    double worst = 0;
    for (double x = -80; x <= 80; x += 0.0137) {
        double rel = fabs(lm_expf((float)x) - exp((float)x)) / exp((float)x);
        worst = rel > worst ? rel : worst;
    }
    CU_ASSERT(worst < 5e-7);
    CU_ASSERT_EQUAL(lm_expf(-1000.0f) < 1e-37f, 1);
    for (double x = -20; x <= 20; x += 0.00731) {
        CU_ASSERT(fabs(lm_sigmoidf((float)x) - 1 / (1 + exp(-x))) < 1e-6);
        double t = tanh(x);
        CU_ASSERT(fabs(lm_tanhf((float)x) - t) <= 1e-6 * fabs(t) + 1e-7);
    }
    CU_ASSERT(lm_tanhf(1e-5f) == 1e-5f || fabs(lm_tanhf(1e-5f) - 1e-5) < 1e-11);
}

/* The sum of squares (the gradient norm) against one double sum, over lengths with and without
 * a tail after its blocks of 32. */
static void test_sumsq(void)
{
    static const size_t lens[] = {0, 1, 31, 32, 33, 100, 1000, 100003};
    float *x = malloc(100003 * sizeof *x);
    lm_rng r;
    lm_rng_seed(&r, 5);
    for (size_t i = 0; i < 100003; i++)
        x[i] = (float)(lm_rng_uniform(&r) * 2 - 1) * (i % 7 == 0 ? 1e3f : 1.0f);
    for (size_t k = 0; k < sizeof lens / sizeof lens[0]; k++) {
        double want = 0;
        for (size_t i = 0; i < lens[k]; i++)
            want += (double)x[i] * x[i];
        CU_ASSERT(fabs(lm_sumsq(x, lens[k]) - want) <= 1e-12 * want);
    }
    free(x);
}

static void test_errors(void)
{
    lm_error e;
    CU_ASSERT_EQUAL(lm_fail(&e, LM_EIO, "%s: %d", "file.txt", 3), LM_EIO);
    CU_ASSERT_STRING_EQUAL(e.msg, "file.txt: 3");
    CU_ASSERT_EQUAL(e.code, LM_EIO);
    CU_ASSERT_EQUAL(lm_fail(NULL, LM_EINVAL, "x"), LM_EINVAL);
    for (int c = 0; c >= -8; c--)
        CU_ASSERT_PTR_NOT_NULL(lm_strerror(c));
    size_t out;
    CU_ASSERT_FALSE(lm_mul_ok(SIZE_MAX / 2, 3, &out));
    CU_ASSERT_TRUE(lm_mul_ok(1000, 1000, &out) && out == 1000000);
    CU_ASSERT_STRING_EQUAL(lm_version_string(), "0.1.0");
}

int main(void)
{
    static const th_test tests[] = {
        {"rng is repeatable and uniform", test_rng_repeatable},
        {"gemm matches plain loops", test_gemm_matches_reference},
        {"packed gemm matches plain loops", test_pgemm_matches_reference},
        {"bf16 gemm matches plain loops", test_bgemm},
        {"bf16 gemm: threads, training precision", test_bgemm_threads},
        {"float32 gemm kernel matches plain loops", test_sgemm},
        {"OpenBLAS products split over the pool match plain loops", test_blas_split},
        {"thread pool runs every part once", test_pool},
        {"thread pool works in a forked child", test_pool_fork},
        {"fast exp, sigmoid, tanh accuracy", test_fast_math},
        {"sum of squares against one double sum", test_sumsq},
        {"error reporting", test_errors},
        {NULL, NULL},
    };
    return th_run("base", tests);
}
