/* test_base.c - RNG, BLAS wrapper against plain loops, fast exp/sigmoid/tanh accuracy, errors. */
#include "base/base.h"
#include "base/fastmath.h"
#include "harness.h"

#include <math.h>
#include <string.h>

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
        {"fast exp, sigmoid, tanh accuracy", test_fast_math},
        {"error reporting", test_errors},
        {NULL, NULL},
    };
    return th_run("base", tests);
}
