/* pgemm_kernel.h - the packed-panel kernel, instantiated once per instruction set by
 * pgemm_avx2.c and pgemm_avx512.c (each defines PG_VL lanes, PG_NV vectors per panel, PG_MR
 * rows per tile and PG_FN, and sets its target before including this file).
 *
 * P holds op(B) in panels of PG_NR = PG_VL * PG_NV columns: panel p is K rows of PG_NR floats,
 * columns past N zero. A tile of up to PG_MR rows of C keeps its PG_MR x PG_NR sums in
 * registers while one panel streams through: per k, PG_NV loads and PG_MR broadcasts feed
 * PG_MR * PG_NV fused multiply-adds. Rows are split into near-equal tiles so M = 20 runs as
 * two tiles of 10 rather than 12 + 8. */
#include <stddef.h>
#include <string.h>

typedef float pg_vec __attribute__((vector_size(PG_VL * 4)));
#define PG_NR (PG_VL * PG_NV)

static inline __attribute__((always_inline)) void pg_tile(const int mr, size_t K, const float *A,
                                                          size_t lda, const float *P, float beta,
                                                          float *C, size_t ldc, size_t nc)
{
    pg_vec acc[PG_MR][PG_NV];
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++)
#pragma GCC unroll 8
        for (int v = 0; v < PG_NV; v++)
            acc[r][v] = (pg_vec){0};
    for (size_t k = 0; k < K; k++) {
        pg_vec w[PG_NV];
#pragma GCC unroll 8
        for (int v = 0; v < PG_NV; v++)
            memcpy(&w[v], P + k * PG_NR + v * PG_VL, sizeof(pg_vec));
#pragma GCC unroll 16
        for (int r = 0; r < mr; r++) {
            float a = A[r * lda + k];
#pragma GCC unroll 8
            for (int v = 0; v < PG_NV; v++)
                acc[r][v] += a * w[v];
        }
    }
#pragma GCC unroll 16
    for (int r = 0; r < mr; r++) {
        float *c = C + r * ldc;
        if (nc == PG_NR) {
#pragma GCC unroll 8
            for (int v = 0; v < PG_NV; v++) {
                pg_vec x = acc[r][v];
                if (beta != 0.0f) {
                    pg_vec y;
                    memcpy(&y, c + v * PG_VL, sizeof y);
                    x += y;
                }
                memcpy(c + v * PG_VL, &x, sizeof x);
            }
        } else {
            float t[PG_NR];
#pragma GCC unroll 8
            for (int v = 0; v < PG_NV; v++) {
                pg_vec x = acc[r][v]; /* a copy, so acc itself never needs an address */
                memcpy(t + v * PG_VL, &x, sizeof x);
            }
            for (size_t j = 0; j < nc; j++)
                c[j] = (beta != 0.0f ? c[j] : 0.0f) + t[j];
        }
    }
}

void PG_FN(size_t M, size_t N, size_t K, const float *A, size_t lda, const float *P, float beta,
           float *C, size_t ldc)
{
    size_t np = (N + PG_NR - 1) / PG_NR;
    size_t tiles = (M + PG_MR - 1) / PG_MR;
    for (size_t p = 0; p < np; p++) {
        size_t j0 = p * PG_NR, nc = N - j0 < PG_NR ? N - j0 : PG_NR;
        const float *pp = P + p * K * PG_NR;
        size_t i = 0;
        for (size_t t = 0; t < tiles; t++) {
            size_t mr = (M - i + (tiles - t) - 1) / (tiles - t);
            const float *a = A + i * lda;
            float *c = C + i * ldc + j0;
            switch (mr) {
#define PG_CASE(n)                                                                                 \
    case n:                                                                                        \
        pg_tile(n, K, a, lda, pp, beta, c, ldc, nc);                                               \
        break;
                PG_CASE(1)
                PG_CASE(2)
                PG_CASE(3)
                PG_CASE(4)
                PG_CASE(5)
                PG_CASE(6)
#if PG_MR > 6
                PG_CASE(7)
                PG_CASE(8)
                PG_CASE(9)
                PG_CASE(10)
                PG_CASE(11)
                PG_CASE(12)
#endif
#undef PG_CASE
            default:
                break;
            }
            i += mr;
        }
    }
}
