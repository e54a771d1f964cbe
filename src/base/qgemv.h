/* qgemv.h - reduced-precision weight matrices and their matrix-vector products for batch-1
 * generation (the quantized model kind, src/model/kind_quant.c). Internal.
 *
 * A matrix W (rows, cols) is row-major in one of three encodings:
 *   LM_QT_F32   float32 (no reduction; checks the quantized kind's step code),
 *   LM_QT_BF16  bfloat16: the upper 16 bits of the float32, rounded to nearest even,
 *   LM_QT_Q8    blocks of LM_Q8_BLOCK consecutive weights of a row share one scale d (IEEE
 *               half precision): w = d * q with q an int8 in [-127, 127] and d = max|w| / 127
 *               over the block (ggml's Q8_0). The last block of a row holds cols mod 32
 *               weights when cols is not a multiple of 32.
 * The products: y += W x with x and y in float32. bf16 weights are widened on the fly and
 * multiplied by x in float32. int8 weights meet x rounded the same way (ggml's Q8_0 x Q8_0):
 * each block of 32 values of x becomes 32 int8 with a float32 scale e = max|x| / 127, each
 * block's dot product is an exact integer sum, and y[r] += sum over blocks of sum_int * (d e).
 * Each product has a plain-C version (the reference) and SIMD versions chosen at run time
 * (AVX2+FMA+F16C; AVX-512F for bf16; AVX-512 VNNI's vpdpbusd for int8). The int8 kernels
 * form exact integer sums of four products per lane and scale each lane in float, so they agree
 * with the reference (one integer sum per block) to float rounding, as the bf16 ones do. */
#ifndef LM_QGEMV_H
#define LM_QGEMV_H

#include "base/base.h"

#include <string.h>

enum { LM_QT_F32 = 0, LM_QT_BF16 = 1, LM_QT_Q8 = 2 };
#define LM_Q8_BLOCK 32

typedef struct lm_qmat {
    int type;
    size_t rows, cols;
    void *w;         /* f32: float, bf16: uint16_t, q8: int8_t; rows * cols, 64-byte aligned */
    uint16_t *scale; /* q8: (rows, lm_qmat_blocks(cols)) half-precision scales; else NULL */
    /* q8 on a CPU with AVX-512 VNNI, after lm_qmat_pack: the same weights by groups of 16 rows
     * for lm_qgemv_q8_vnni16 (NULL otherwise). For row group g and block b, 8 vectors of 64
     * bytes at pk + ((g * nb + b) * 8 + t) * 64: byte 4 l + i of vector t is weight 4 t + i of
     * block b of row 16 g + l, plus 128 (an unsigned byte; rows past the end and the tail of the
     * last block are q = 0); the 16 rows' scales of the block at pd + (g * nb + b) * 16. */
    uint8_t *pk;
    uint16_t *pd;
    /* bf16 on a CPU with AVX-512F, after lm_qmat_pack: by groups of 16 rows and pairs of
     * columns, the 64 bytes at pk + (g * ceil(cols / 2) + p) * 64 hold, as 16 32-bit lanes,
     * (w[16 g + l][2 p], w[16 g + l][2 p + 1]) in lane l (the even column in the low half;
     * rows past the end and a last odd column's partner are 0). pd stays NULL. */
} lm_qmat;

/* Blocks of a q8 row of cols weights. */
static inline size_t lm_qmat_blocks(size_t cols)
{
    return (cols + LM_Q8_BLOCK - 1) / LM_Q8_BLOCK;
}
/* "f32", "bf16", "int8"; NULL for an unknown type. */
const char *lm_qtype_name(int type);
/* The type called name ("f32", "bf16", "int8"), or -1. */
int lm_qtype_parse(const char *name);

/* Allocates the storage of a (rows, cols) matrix of the type (zeroed): LM_OK or LM_ENOMEM.
 * Free with lm_qmat_free (a zeroed struct is a no-op). */
int lm_qmat_alloc(lm_qmat *m, int type, size_t rows, size_t cols);
void lm_qmat_free(lm_qmat *m);
/* Bytes of weights and scales. */
size_t lm_qmat_bytes(const lm_qmat *m);
/* Encodes src (rows, cols) float32 into m (allocated with the same shape). */
void lm_qmat_quantize(lm_qmat *m, const float *src);
/* Builds the packed copy (pk, pd) of a q8 matrix where the CPU has AVX-512 VNNI, of a bf16
 * one where it has AVX-512F, after its weights are set (quantized or loaded); a no-op for
 * other types and CPUs. Without the memory for it the products use the row-major weights. */
void lm_qmat_pack(lm_qmat *m);
/* Row r decoded into out (cols floats); the whole matrix into dst (rows * cols). */
void lm_qmat_row(const lm_qmat *m, size_t r, float *out);
void lm_qmat_dequantize(const lm_qmat *m, float *dst);

/* y (rows) += W x (x: cols). Large matrices are split by rows over lm_pool_run. */
void lm_qgemv(const lm_qmat *m, const float *x, float *y);
/* The same for rows [r0, r1) on the calling thread with the chosen kernel / the plain loops. */
void lm_qgemv_rows(const lm_qmat *m, size_t r0, size_t r1, const float *x, float *y);
void lm_qgemv_ref(const lm_qmat *m, size_t r0, size_t r1, const float *x, float *y);
/* Y (n, rows) += X (n, cols) W^T: n vectors at once, for a window of tokens. W is decoded by
 * blocks of rows into the calling thread's scratch and multiplied by lm_gemm, so its weights
 * are read once for all n rows rather than once per row. The products are those of the
 * decoded weights in float32 (int8: X is not rounded to int8 as lm_qgemv rounds x). Without
 * the scratch memory, lm_qgemv row by row. A bf16 matrix on a CPU whose bf16 dot products
 * outrun its float32 FMAs (lm_bgemm_fast) takes its packed copy as it is to the AVX-512 BF16
 * kernel instead, with X rounded to bf16 (lm_qgemm_rounds says when). */
void lm_qgemm(const lm_qmat *m, size_t n, const float *X, float *Y);
bool lm_qgemm_rounds(const lm_qmat *m, size_t n);
/* Tests: 0 = plain C, 1 = AVX2, 2 = AVX-512F (int8 through the AVX2 kernel), 3 = AVX-512
 * with VNNI; false when the CPU lacks it. -1 restores the automatic choice. */
bool lm_qgemv_force(int kind);
const char *lm_qgemv_kernel_name(void);

/* The exact integer dot product of n int8 pairs: one block, or the tail of a row. */
static inline int32_t lm_q8_dot(const int8_t *a, const int8_t *b, size_t n)
{
    int32_t s = 0;
    for (size_t j = 0; j < n; j++)
        s += (int32_t)a[j] * b[j];
    return s;
}

/* x (cols) rounded for the int8 products: xq gets lm_qmat_blocks(cols) * 32 int8 (the tail
 * beyond cols zero), xe one scale per block (0 for an all-zero block). */
void lm_q8_activations(const float *x, size_t cols, int8_t *xq, float *xe);

/* Scalar conversions (round to nearest even). */
uint16_t lm_float_to_half(float f);
float lm_half_to_float(uint16_t h);
static inline uint16_t lm_float_to_bf16(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}
static inline float lm_bf16_to_float(uint16_t h)
{
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* The instruction-set variants (qgemv_avx2.c, qgemv_avx512.c). */
#ifdef LM_X86_KERNELS
#define LM_QGEMV_X86 1
void lm_qgemv_bf16_avx2(size_t r0, size_t r1, size_t cols, const uint16_t *w, const float *x,
                        float *y);
void lm_qgemv_bf16_avx512(size_t r0, size_t r1, size_t cols, const uint16_t *w, const float *x,
                          float *y);
/* Row groups [g0, g1) of a packed bf16 matrix (lm_qmat pk) of rows rows. */
void lm_qgemv_bf16_avx512x16(size_t g0, size_t g1, size_t rows, size_t cols, const uint8_t *pk,
                             const float *x, float *y);
/* int8 rows against x rounded by lm_q8_activations (xq: the blocks of x, whole, the tail of
 * the last zero; xe: their scales). */
void lm_qgemv_q8_avx2(size_t r0, size_t r1, size_t cols, const int8_t *q, const uint16_t *d,
                      const int8_t *xq, const float *xe, float *y);
void lm_qgemv_q8_vnni(size_t r0, size_t r1, size_t cols, const int8_t *q, const uint16_t *d,
                      const int8_t *xq, const float *xe, float *y);
/* Row groups [g0, g1) of a packed matrix (lm_qmat pk, pd) of rows rows; xs: 128 x the sum of
 * each block of xq (what the +128 of the packed weights adds to each block's sum). */
void lm_qgemv_q8_vnni16(size_t g0, size_t g1, size_t rows, size_t cols, const uint8_t *pk,
                        const uint16_t *pd, const int8_t *xq, const float *xe, const int32_t *xs,
                        float *y);
#endif

#endif
