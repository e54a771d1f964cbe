/* qgemv.c - reduced-precision matrices: encoding, decoding, the plain-C products and the
 * run-time choice of the SIMD ones (see qgemv.h). */
#include "base/qgemv.h"
#include "base/bgemm.h"

#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>

/* ---- types and storage ------------------------------------------------------------------- */

static const char *const type_names[] = {"f32", "bf16", "int8"};

const char *lm_qtype_name(int type)
{
    return type >= 0 && type <= LM_QT_Q8 ? type_names[type] : NULL;
}

int lm_qtype_parse(const char *name)
{
    for (int i = 0; i <= LM_QT_Q8; i++)
        if (!strcmp(name, type_names[i]))
            return i;
    return -1;
}

static size_t weight_bytes(int type, size_t n)
{
    return type == LM_QT_F32 ? 4 * n : type == LM_QT_BF16 ? 2 * n : n;
}

int lm_qmat_alloc(lm_qmat *m, int type, size_t rows, size_t cols)
{
    LM_ASSERT(type >= LM_QT_F32 && type <= LM_QT_Q8);
    memset(m, 0, sizeof *m);
    size_t n;
    if (!lm_mul_ok(rows, cols, &n) || n > SIZE_MAX / 8)
        return LM_ENOMEM;
    m->type = type;
    m->rows = rows;
    m->cols = cols;
    m->w = lm_alloc_floats((weight_bytes(type, n) + 3) / 4 + 1);
    if (type == LM_QT_Q8)
        m->scale = (uint16_t *)lm_alloc_floats((rows * lm_qmat_blocks(cols) * 2 + 3) / 4 + 1);
    if (!m->w || (type == LM_QT_Q8 && !m->scale)) {
        lm_qmat_free(m);
        return LM_ENOMEM;
    }
    return LM_OK;
}

void lm_qmat_free(lm_qmat *m)
{
    lm_free(m->w);
    lm_free(m->scale);
    lm_free(m->pk);
    lm_free(m->pd);
    memset(m, 0, sizeof *m);
}

size_t lm_qmat_bytes(const lm_qmat *m)
{
    size_t n = weight_bytes(m->type, m->rows * m->cols);
    return n + (m->type == LM_QT_Q8 ? 2 * m->rows * lm_qmat_blocks(m->cols) : 0);
}

/* ---- half precision ---------------------------------------------------------------------- */

uint16_t lm_float_to_half(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    uint32_t sign = (u >> 16) & 0x8000u, a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or NaN */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u : 0));
    if (a >= 0x477ff000u) /* rounds to beyond 65504: infinity */
        return (uint16_t)(sign | 0x7c00u);
    if (a < 0x38800000u) {
        /* Subnormal half (or zero): the value in units of 2^-24, rounded to nearest even. */
        if (a < 0x33000000u)
            return (uint16_t)sign;
        uint32_t mant = (a & 0x7fffffu) | 0x800000u;
        int shift = 126 - (int)(a >> 23); /* 14 .. 24 */
        uint32_t v = mant >> shift, rem = mant & ((1u << shift) - 1), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (v & 1)))
            v++;
        return (uint16_t)(sign | v);
    }
    /* Normal: rebias the exponent, round the 13 dropped mantissa bits to nearest even. */
    uint32_t v = a - 0x38000000u;
    v += 0xfffu + ((v >> 13) & 1u);
    return (uint16_t)(sign | (v >> 13));
}

float lm_half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, mant = h & 0x3ffu, u;
    if (e == 0) {
        float f = ldexpf((float)mant, -24);
        return sign ? -f : f;
    }
    if (e == 31)
        u = sign | 0x7f800000u | (mant << 13);
    else
        u = sign | ((e + 112) << 23) | (mant << 13);
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* ---- encoding and decoding --------------------------------------------------------------- */

/* One q8 block: n weights -> q, returns the half-precision scale. The scale is rounded first
 * and the weights divided by the rounded value, so decoding reproduces the nearest level. */
static uint16_t q8_block(const float *w, size_t n, int8_t *q)
{
    float amax = 0.0f;
    for (size_t j = 0; j < n; j++)
        amax = fabsf(w[j]) > amax ? fabsf(w[j]) : amax;
    uint16_t dh = lm_float_to_half(amax / 127.0f);
    float d = lm_half_to_float(dh);
    if (!(d > 0.0f)) { /* all zero, or too small for a half scale */
        memset(q, 0, n);
        return 0;
    }
    if (!isfinite(d)) { /* beyond the half range: the largest scale, weights clamped */
        dh = 0x7bffu;
        d = 65504.0f;
    }
    float id = 1.0f / d;
    for (size_t j = 0; j < n; j++) {
        float v = nearbyintf(w[j] * id);
        v = v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v;
        q[j] = (int8_t)v;
    }
    return dh;
}

void lm_qmat_quantize(lm_qmat *m, const float *src)
{
    size_t R = m->rows, C = m->cols, nb = lm_qmat_blocks(C);
    switch (m->type) {
    case LM_QT_F32:
        memcpy(m->w, src, R * C * sizeof(float));
        break;
    case LM_QT_BF16: {
        uint16_t *w = m->w;
        for (size_t i = 0; i < R * C; i++)
            w[i] = lm_float_to_bf16(src[i]);
        break;
    }
    default:
        for (size_t r = 0; r < R; r++)
            for (size_t b = 0; b < nb; b++) {
                size_t j0 = b * LM_Q8_BLOCK, n = C - j0 < LM_Q8_BLOCK ? C - j0 : LM_Q8_BLOCK;
                m->scale[r * nb + b] = q8_block(src + r * C + j0, n, (int8_t *)m->w + r * C + j0);
            }
    }
}

static bool cpu_vnni(void);
static bool cpu_avx512(void);

static void pack_bf16(lm_qmat *m)
{
    size_t R = m->rows, C = m->cols, P = (C + 1) / 2, G = (R + 15) / 16, n;
    if (!lm_mul_ok(G * P, 64, &n) || n > SIZE_MAX / 8)
        return;
    uint16_t *pk = (uint16_t *)lm_alloc_floats(n / 4);
    if (!pk)
        return;
    const uint16_t *w = m->w;
    for (size_t g = 0; g < G; g++)
        for (size_t p = 0; p < P; p++)
            for (size_t l = 0; l < 16; l++)
                for (size_t i = 0; i < 2; i++) {
                    size_t r = 16 * g + l, j = 2 * p + i;
                    pk[(g * P + p) * 32 + 2 * l + i] = r < R && j < C ? w[r * C + j] : 0;
                }
    m->pk = (uint8_t *)pk;
}

void lm_qmat_pack(lm_qmat *m)
{
    if (m->type == LM_QT_BF16 && !m->pk && cpu_avx512()) {
        pack_bf16(m);
        return;
    }
    if (m->type != LM_QT_Q8 || m->pk || !cpu_vnni())
        return;
    size_t R = m->rows, C = m->cols, nb = lm_qmat_blocks(C), G = (R + 15) / 16, n;
    if (!lm_mul_ok(G * nb, 512, &n) || n > SIZE_MAX / 8)
        return;
    uint8_t *pk = (uint8_t *)lm_alloc_floats(n / 4);
    uint16_t *pd = (uint16_t *)lm_alloc_floats(G * nb * 8);
    if (!pk || !pd) {
        lm_free(pk);
        lm_free(pd);
        return;
    }
    const int8_t *q = m->w;
    for (size_t g = 0; g < G; g++)
        for (size_t b = 0; b < nb; b++) {
            uint8_t *dst = pk + (g * nb + b) * 512;
            uint16_t *ds = pd + (g * nb + b) * 16;
            for (size_t l = 0; l < 16; l++) {
                size_t r = 16 * g + l;
                ds[l] = r < R ? m->scale[r * nb + b] : 0;
                for (size_t k = 0; k < LM_Q8_BLOCK; k++) {
                    size_t j = b * LM_Q8_BLOCK + k;
                    int v = r < R && j < C ? q[r * C + j] : 0;
                    dst[(k / 4) * 64 + 4 * l + k % 4] = (uint8_t)(v + 128);
                }
            }
        }
    m->pk = pk;
    m->pd = pd;
}

void lm_qmat_row(const lm_qmat *m, size_t r, float *out)
{
    size_t C = m->cols, nb = lm_qmat_blocks(C);
    LM_ASSERT(r < m->rows);
    switch (m->type) {
    case LM_QT_F32:
        memcpy(out, (const float *)m->w + r * C, C * sizeof(float));
        break;
    case LM_QT_BF16: {
        const uint16_t *w = (const uint16_t *)m->w + r * C;
        for (size_t j = 0; j < C; j++)
            out[j] = lm_bf16_to_float(w[j]);
        break;
    }
    default: {
        const int8_t *q = (const int8_t *)m->w + r * C;
        for (size_t b = 0; b < nb; b++) {
            float d = lm_half_to_float(m->scale[r * nb + b]);
            size_t j1 = (b + 1) * LM_Q8_BLOCK < C ? (b + 1) * LM_Q8_BLOCK : C;
            for (size_t j = b * LM_Q8_BLOCK; j < j1; j++)
                out[j] = d * (float)q[j];
        }
    }
    }
}

void lm_qmat_dequantize(const lm_qmat *m, float *dst)
{
    for (size_t r = 0; r < m->rows; r++)
        lm_qmat_row(m, r, dst + r * m->cols);
}

/* ---- rounding the activations of the int8 products ------------------------------------- */

/* One block of n <= 32 values of x -> int8 in q, returns the scale (0: all zero). */
static float q8_act_block(const float *x, size_t n, int8_t *q)
{
    float amax = 0.0f;
    for (size_t j = 0; j < n; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    float e = amax / 127.0f;
    /* Below 127 FLT_MIN the inverse scale would overflow: such a block counts as zero, as an
     * infinite one does (the float model's sums would not be finite either). */
    if (!(amax >= 127.0f * FLT_MIN) || !isfinite(amax)) {
        memset(q, 0, n);
        return 0.0f;
    }
    float ie = 127.0f / amax;
    for (size_t j = 0; j < n; j++) {
        float v = nearbyintf(x[j] * ie);
        v = v == v ? v : 0.0f; /* NaN */
        q[j] = (int8_t)(v > 127.0f ? 127.0f : v < -127.0f ? -127.0f : v);
    }
    return e;
}

void lm_q8_activations(const float *x, size_t cols, int8_t *xq, float *xe)
{
    size_t nb = lm_qmat_blocks(cols);
    for (size_t b = 0; b < nb; b++) {
        size_t j0 = b * LM_Q8_BLOCK, n = cols - j0 < LM_Q8_BLOCK ? cols - j0 : LM_Q8_BLOCK;
        xe[b] = q8_act_block(x + j0, n, xq + j0);
        memset(xq + j0 + n, 0, LM_Q8_BLOCK - n);
    }
}

/* ---- products ---------------------------------------------------------------------------- */

void lm_qgemv_ref(const lm_qmat *m, size_t r0, size_t r1, const float *x, float *y)
{
    size_t C = m->cols, nb = lm_qmat_blocks(C);
    for (size_t r = r0; r < r1; r++) {
        float acc = 0.0f;
        if (m->type == LM_QT_F32) {
            const float *w = (const float *)m->w + r * C;
            for (size_t j = 0; j < C; j++)
                acc += w[j] * x[j];
        } else if (m->type == LM_QT_BF16) {
            const uint16_t *w = (const uint16_t *)m->w + r * C;
            for (size_t j = 0; j < C; j++)
                acc += lm_bf16_to_float(w[j]) * x[j];
        } else {
            const int8_t *q = (const int8_t *)m->w + r * C;
            for (size_t b = 0; b < nb; b++) {
                size_t j0 = b * LM_Q8_BLOCK, n = C - j0 < LM_Q8_BLOCK ? C - j0 : LM_Q8_BLOCK;
                int8_t xq[LM_Q8_BLOCK];
                float e = q8_act_block(x + j0, n, xq);
                int32_t s = lm_q8_dot(q + j0, xq, n);
                acc += (float)s * (lm_half_to_float(m->scale[r * nb + b]) * e);
            }
        }
        y[r] += acc;
    }
}

enum { QG_REF = 0, QG_AVX2 = 1, QG_AVX512 = 2, QG_VNNI = 3 };
static const char *const kernel_names[] = {"plain", "avx2", "avx512", "avx512-vnni"};

static int detect(void)
{
#ifdef LM_QGEMV_X86
    __builtin_cpu_init();
    bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                __builtin_cpu_supports("f16c");
    if (__builtin_cpu_supports("avx512f") && avx2) {
        if (__builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
            __builtin_cpu_supports("avx512vnni"))
            return QG_VNNI;
        return QG_AVX512;
    }
    if (avx2)
        return QG_AVX2;
#endif
    return QG_REF;
}

static lm_kernel_choice choice = {-1, detect};

static bool cpu_vnni(void)
{
    return detect() == QG_VNNI;
}

static bool cpu_avx512(void)
{
    return detect() >= QG_AVX512;
}

static int kernel(void)
{
    return lm_kernel_get(&choice);
}

bool lm_qgemv_force(int k)
{
    return lm_kernel_force(&choice, k);
}

const char *lm_qgemv_kernel_name(void)
{
    return kernel_names[kernel()];
}

/* The rounded activations of an int8 product, in this thread's scratch (lm_thread_scratch). */
typedef struct q8_act {
    const int8_t *q;
    const float *e;
    const int32_t *s; /* 128 x each block's sum of q (the packed kernel's correction) */
} q8_act;

static bool q8_act_prepare(const float *x, size_t cols, q8_act *a)
{
    size_t nb = lm_qmat_blocks(cols);
    /* nb * 32 int8, then nb floats and nb int32 (32 bytes per block keep them aligned). */
    int8_t *buf = nb <= SIZE_MAX / 64 ? lm_thread_scratch(LM_SCRATCH_Q8, nb * 40) : NULL;
    if (!buf)
        return false;
    float *e = (float *)(buf + nb * LM_Q8_BLOCK);
    int32_t *s = (int32_t *)(e + nb);
    lm_q8_activations(x, cols, buf, e);
    for (size_t b = 0; b < nb; b++) {
        int32_t t = 0;
        for (size_t k = 0; k < LM_Q8_BLOCK; k++)
            t += buf[b * LM_Q8_BLOCK + k];
        s[b] = 128 * t;
    }
    a->q = buf;
    a->e = e;
    a->s = s;
    return true;
}

/* Whether rows [r0, r1) are whole groups of 16 of the packed copy (the last may be short). */
static bool packed_rows(const lm_qmat *m, size_t r0, size_t r1)
{
    return m->pk && r0 % 16 == 0 && (r1 % 16 == 0 || r1 == m->rows);
}

/* Rows [r0, r1) of an int8 matrix against rounded activations with the chosen kernel. */
static void q8_rows(const lm_qmat *m, size_t r0, size_t r1, const q8_act *a, float *y)
{
    const int8_t *q = m->w;
    size_t C = m->cols, nb = lm_qmat_blocks(C);
    int k = kernel();
#ifdef LM_QGEMV_X86
    if (k == QG_VNNI && packed_rows(m, r0, r1)) {
        lm_qgemv_q8_vnni16(r0 / 16, (r1 + 15) / 16, m->rows, C, m->pk, m->pd, a->q, a->e, a->s,
                           y);
        return;
    }
    if (k == QG_VNNI) {
        lm_qgemv_q8_vnni(r0, r1, C, q, m->scale, a->q, a->e, y);
        return;
    }
    if (k == QG_AVX2 || k == QG_AVX512) {
        lm_qgemv_q8_avx2(r0, r1, C, q, m->scale, a->q, a->e, y);
        return;
    }
#endif
    (void)k;
    for (size_t r = r0; r < r1; r++) {
        float acc = 0.0f;
        for (size_t b = 0; b < nb; b++) {
            size_t j0 = b * LM_Q8_BLOCK, n = C - j0 < LM_Q8_BLOCK ? C - j0 : LM_Q8_BLOCK;
            int32_t s = lm_q8_dot(q + r * C + j0, a->q + j0, n);
            acc += (float)s * (lm_half_to_float(m->scale[r * nb + b]) * a->e[b]);
        }
        y[r] += acc;
    }
}

static void rows_with(const lm_qmat *m, size_t r0, size_t r1, const float *x, const q8_act *a,
                      float *y)
{
    if (r0 >= r1)
        return;
    if (m->type == LM_QT_F32) {
        /* OpenBLAS for float32 weights, as the neural kind does. */
        lm_gemv(false, r1 - r0, m->cols, 1.0f, (const float *)m->w + r0 * m->cols, x, 1.0f, y + r0);
        return;
    }
    if (m->type == LM_QT_Q8) {
        if (a)
            q8_rows(m, r0, r1, a, y);
        else /* no memory for the rounded activations: the reference rounds block by block */
            lm_qgemv_ref(m, r0, r1, x, y);
        return;
    }
#ifdef LM_QGEMV_X86
    int k = kernel();
    if (k == QG_AVX512 || k == QG_VNNI) {
        if (packed_rows(m, r0, r1))
            lm_qgemv_bf16_avx512x16(r0 / 16, (r1 + 15) / 16, m->rows, m->cols, m->pk, x, y);
        else
            lm_qgemv_bf16_avx512(r0, r1, m->cols, m->w, x, y);
        return;
    }
    if (k == QG_AVX2) {
        lm_qgemv_bf16_avx2(r0, r1, m->cols, m->w, x, y);
        return;
    }
#endif
    lm_qgemv_ref(m, r0, r1, x, y);
}

void lm_qgemv_rows(const lm_qmat *m, size_t r0, size_t r1, const float *x, float *y)
{
    q8_act a;
    bool q8 = m->type == LM_QT_Q8 && r0 < r1 && q8_act_prepare(x, m->cols, &a);
    rows_with(m, r0, r1, x, q8 ? &a : NULL, y);
}

typedef struct gemv_job {
    const lm_qmat *m;
    const float *x;
    const q8_act *a;
    float *y;
} gemv_job;

static void gemv_part(void *ctx, size_t part, size_t nparts)
{
    const gemv_job *j = ctx;
    size_t lo, hi;
    /* Parts of whole groups of 16 rows, so no two threads write one cache line of y. */
    if (lm_pool_range16(j->m->rows, part, nparts, &lo, &hi))
        rows_with(j->m, lo, hi, j->x, j->a, j->y);
}

/* Rows decoded per lm_gemm call: about 256 KiB of float32, at least 16 rows. */
#define QGEMM_BLOCK_FLOATS 65536

/* Rows from which a bf16 matrix's product runs on the bf16 kernel (its A panels are 8 rows). */
#define QGEMM_BF16_MIN_ROWS 8

bool lm_qgemm_rounds(const lm_qmat *m, size_t n)
{
    return m->type == LM_QT_BF16 && m->pk && n >= QGEMM_BF16_MIN_ROWS && lm_bgemm_fast();
}

void lm_qgemm(const lm_qmat *m, size_t n, const float *X, float *Y)
{
    if (lm_qgemm_rounds(m, n) &&
        lm_bgemm_grouped(n, X, (const uint32_t *)(const void *)m->pk, m->rows, m->cols, Y))
        return;
    size_t R = m->cols ? QGEMM_BLOCK_FLOATS / m->cols : m->rows;
    if (R < 16)
        R = 16;
    if (R > m->rows)
        R = m->rows;
    float *buf = n > 1 && R && m->cols <= SIZE_MAX / sizeof(float) / R
                     ? lm_thread_scratch(LM_SCRATCH_QGEMM, R * m->cols * sizeof(float))
                     : NULL;
    if (!buf) { /* one row of X at a time */
        for (size_t t = 0; t < n; t++)
            lm_qgemv(m, X + t * m->cols, Y + t * m->rows);
        return;
    }
    for (size_t r0 = 0; r0 < m->rows; r0 += R) {
        size_t r1 = r0 + R < m->rows ? r0 + R : m->rows;
        for (size_t r = r0; r < r1; r++)
            lm_qmat_row(m, r, buf + (r - r0) * m->cols);
        lm_gemm(false, true, n, r1 - r0, m->cols, 1.0f, X, m->cols, buf, m->cols, 1.0f, Y + r0,
                m->rows);
    }
}

void lm_qgemv(const lm_qmat *m, const float *x, float *y)
{
    size_t threads = lm_pool_threads();
    if (m->type == LM_QT_F32 || threads < 2 || m->rows < 64 ||
        m->rows * m->cols < LM_POOL_MIN_GEMV) {
        lm_qgemv_rows(m, 0, m->rows, x, y);
        return;
    }
    /* The activations are rounded once, by the calling thread, for all parts. */
    q8_act a;
    bool q8 = m->type == LM_QT_Q8 && q8_act_prepare(x, m->cols, &a);
    gemv_job j = {m, x, q8 ? &a : NULL, y};
    lm_pool_run(threads, gemv_part, &j);
}
