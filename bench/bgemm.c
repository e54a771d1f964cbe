/* bgemm.c - lstmlm's bf16 GEMM (lm_bgemm) and float32 GEMM (lm_sgemm, where the CPU has
 * AVX-512F) against OpenBLAS's sgemm on the
 * shapes of PTB training: the softmax head's three products (logits NT, dW TN, dX NN) and the
 * LSTM's input projection, for the small (2x200, 400-row windows) and medium (2x650, 700-row
 * windows) configurations. Each figure is the best of REPS calls in GFLOP/s (2 M N K / s) on
 * lstmlm's and OpenBLAS's thread count (OPENBLAS_NUM_THREADS).
 *
 *   bgemm [REPS]      (default 5)
 */
#include "base/base.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *filled(size_t n, lm_rng *r)
{
    float *x = lm_alloc_floats(n);
    for (size_t i = 0; x && i < n; i++)
        x[i] = (float)(lm_rng_uniform(r) - 0.5);
    return x;
}

static void shape(const char *name, bool ta, bool tb, size_t M, size_t N, size_t K, int reps)
{
    lm_rng r;
    lm_rng_seed(&r, 1);
    float *A = filled(M * K, &r), *B = filled(K * N, &r), *C = filled(M * N, &r);
    if (!A || !B || !C) {
        fprintf(stderr, "bgemm: out of memory\n");
        exit(1);
    }
    size_t lda = ta ? M : K, ldb = tb ? K : N;
    double g[3] = {0, 0, 0};
    bool own = lm_sgemm_force(1);
    lm_sgemm_force(0); /* lm_gemm: OpenBLAS */
    for (int w = 0; w < 3; w++) {
        double best = 1e30;
        for (int i = 0; i < reps && (w != 1 || own); i++) {
            double t = now();
            (w == 0 ? lm_gemm : w == 1 ? lm_sgemm : lm_bgemm)(ta, tb, M, N, K, 1.0f, A, lda, B,
                                                              ldb, 0.0f, C, N);
            t = now() - t;
            best = t < best ? t : best;
        }
        g[w] = 2.0 * (double)M * (double)N * (double)K / best / 1e9;
    }
    lm_sgemm_force(-1);
    printf("%-14s %c%c M=%5zu N=%5zu K=%5zu  openblas %6.1f  lstmlm-f32 %6.1f  bgemm %6.1f "
           "GFLOP/s  (%.2fx, %.2fx)\n",
           name, ta ? 'T' : 'N', tb ? 'T' : 'N', M, N, K, g[0], g[1], g[2], g[1] / g[0],
           g[2] / g[0]);
    lm_free(A);
    lm_free(B);
    lm_free(C);
}

int main(int argc, char **argv)
{
    int reps = argc > 1 ? atoi(argv[1]) : 5;
    reps = reps > 0 ? reps : 5;
    printf("bf16 kernel %s, OpenBLAS core %s (lm_gemm runs %s), %zu threads\n",
           lm_bgemm_kernel_name(), lm_blas_core_name(), lm_sgemm_kernel_name(), lm_pool_threads());
    shape("small logits", false, true, 400, 10000, 200, reps);
    shape("small dW", true, false, 10000, 200, 400, reps);
    shape("small dX", false, false, 400, 200, 10000, reps);
    shape("small W_ih", false, true, 400, 800, 200, reps);
    shape("medium logits", false, true, 700, 10000, 650, reps);
    shape("medium dW", true, false, 10000, 650, 700, reps);
    shape("medium dX", false, false, 700, 650, 10000, reps);
    shape("medium W_ih", false, true, 700, 2600, 650, reps);
    return 0;
}
