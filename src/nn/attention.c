/* attention.c - pre-LayerNorm transformer decoder blocks: causal multi-head self-attention and
 * a GELU MLP, forward and backward over a window, and cached single-token attention.
 *
 * Every projection is one GEMM over the window's T*B rows. Attention runs per stream, head and
 * chunk of at most C steps: S = Q K^T (one GEMM), a causal softmax per row, O = P V (one GEMM);
 * the backward mirrors it with four GEMMs. The probabilities P of every (stream, head) are kept
 * for the backward. */
#include "nn/attention.h"

#include "base/fastmath.h"
#include "nn/nn.h"

#include <math.h>
#include <string.h>

/* ---- workspace layout -------------------------------------------------------------------- */

typedef struct layer_ws {
    float *xin;       /* (N, D) input of the block (the residual stream) */
    float *a1;        /* (N, D) ln1 output */
    float *mu1, *rs1; /* (N) ln1 mean and 1/std */
    float *qkv;       /* (N, 3D) q|k|v */
    float *P;         /* (B, heads, T, T) attention probabilities (keep mode) */
    float *att;       /* (N, D) attention output, heads concatenated */
    float *xmid;      /* (N, D) residual stream after the attention branch */
    float *a2;        /* (N, D) ln2 output */
    float *mu2, *rs2; /* (N) */
    float *u, *g;     /* (N, F) MLP pre-activation and gelu output */
    float *m1, *m2;   /* (N, D) dropout masks of the two branches (dropout > 0) */
} layer_ws;

typedef struct win_ws {
    layer_ws l[LM_ATTN_MAX_LAYERS];
    float *xL;        /* (N, D) output of the last block */
    float *muf, *rsf; /* (N) ln_f statistics */
    float *Ps;        /* (Tc, Tc) shared probabilities when not kept for a backward */
    /* Backward scratch (keep mode only). */
    float *dR, *dtmp, *datt; /* (N, D) */
    float *dqkv;             /* (N, 3D) */
    float *dF;               /* (N, F) */
    float *dP;               /* (Tc, Tc) */
} win_ws;

static float *take(float *base, size_t *cur, size_t n)
{
    size_t off = *cur;
    *cur += (n + 15) & ~(size_t)15;
    return base ? base + off : NULL;
}

/* Carves the window workspace for (T, B) out of base (NULL: only counts). keep: everything a
 * backward needs is stored (probabilities per stream and head, masks, scratch). Returns the
 * number of floats. */
static size_t layout(const lm_attn_dims *d, size_t T, size_t B, int keep, float *base, win_ws *w)
{
    size_t N = T * B, D = d->D, F = d->F, Tc = T < d->C ? T : d->C, cur = 0;
    win_ws tmp;
    if (!w)
        w = &tmp;
    for (size_t l = 0; l < d->L; l++) {
        layer_ws *lw = &w->l[l];
        lw->xin = take(base, &cur, N * D);
        lw->a1 = take(base, &cur, N * D);
        lw->mu1 = take(base, &cur, N);
        lw->rs1 = take(base, &cur, N);
        lw->qkv = take(base, &cur, 3 * N * D);
        lw->P = keep ? take(base, &cur, B * d->heads * T * T) : NULL;
        lw->att = take(base, &cur, N * D);
        lw->xmid = take(base, &cur, N * D);
        lw->a2 = take(base, &cur, N * D);
        lw->mu2 = take(base, &cur, N);
        lw->rs2 = take(base, &cur, N);
        lw->u = take(base, &cur, N * F);
        lw->g = take(base, &cur, N * F);
        lw->m1 = keep && d->dropout > 0 ? take(base, &cur, N * D) : NULL;
        lw->m2 = keep && d->dropout > 0 ? take(base, &cur, N * D) : NULL;
    }
    w->xL = take(base, &cur, N * D);
    w->muf = take(base, &cur, N);
    w->rsf = take(base, &cur, N);
    w->Ps = keep ? NULL : take(base, &cur, Tc * Tc);
    w->dR = keep ? take(base, &cur, N * D) : NULL;
    w->dtmp = keep ? take(base, &cur, N * D) : NULL;
    w->datt = keep ? take(base, &cur, N * D) : NULL;
    w->dqkv = keep ? take(base, &cur, 3 * N * D) : NULL;
    w->dF = keep ? take(base, &cur, N * F) : NULL;
    w->dP = keep ? take(base, &cur, Tc * Tc) : NULL;
    return cur;
}

size_t lm_attn_ws_floats(const lm_attn_dims *d, size_t T, size_t B)
{
    return layout(d, T, B, 1, NULL, NULL);
}

/* Scratch of lm_attn_step: x, a, att (D each), qkv (3D), u, g (F each), scores (H C). */
static size_t step_floats(const lm_attn_dims *d)
{
    size_t cur = 0;
    take(NULL, &cur, d->F);
    take(NULL, &cur, d->D);
    take(NULL, &cur, d->D);
    take(NULL, &cur, d->D);
    take(NULL, &cur, 3 * d->D);
    take(NULL, &cur, d->F);
    take(NULL, &cur, d->heads * d->C);
    return cur;
}

size_t lm_attn_step_ws_floats(const lm_attn_dims *d, size_t T)
{
    return step_floats(d) + layout(d, T ? T : 1, 1, 0, NULL, NULL);
}

/* ---- element-wise kernels ---------------------------------------------------------------- */

#define GELU_K0 0.7978845608028654f /* sqrt(2 / pi) */
#define GELU_K1 0.044715f

LM_HOT void lm_gelu_forward(size_t n, const float *u, float *g)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = u[i];
        g[i] = 0.5f * x * (1.0f + lm_tanhf(GELU_K0 * (x + GELU_K1 * x * x * x)));
    }
}

/* dg: (n) in, gradient w.r.t. u out (in place). */
static void gelu_backward(size_t n, const float *restrict u, float *restrict dg)
{
#pragma omp simd
    for (size_t i = 0; i < n; i++) {
        float x = u[i], t = lm_tanhf(GELU_K0 * (x + GELU_K1 * x * x * x));
        float dt = GELU_K0 * (1.0f + 3.0f * GELU_K1 * x * x);
        dg[i] *= 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * dt;
    }
}

/* Every row of y (N, cols) = b. */
static void fill_rows(float *restrict y, const float *restrict b, size_t N, size_t cols)
{
    for (size_t r = 0; r < N; r++)
        memcpy(y + r * cols, b, cols * sizeof(float));
}

/* gb (cols) += column sums of dy (N, cols). */
static void col_sums(const float *restrict dy, size_t N, size_t cols, float *restrict gb)
{
    for (size_t r = 0; r < N; r++) {
        const float *d = dy + r * cols;
#pragma omp simd
        for (size_t j = 0; j < cols; j++)
            gb[j] += d[j];
    }
}

/* Causal softmax of the len x len block s (leading dimension ld) in place: row i over
 * columns 0..i, the columns after i set to 0. */
static void causal_softmax(float *s, size_t len, size_t ld)
{
    for (size_t i = 0; i < len; i++) {
        float *row = s + i * ld, mx = row[0];
        for (size_t j = 1; j <= i; j++)
            mx = row[j] > mx ? row[j] : mx;
        float sum = 0.0f;
        for (size_t j = 0; j <= i; j++) {
            float e = lm_expf(row[j] - mx);
            row[j] = e;
            sum += e;
        }
        float inv = 1.0f / sum;
        for (size_t j = 0; j <= i; j++)
            row[j] *= inv;
        for (size_t j = i + 1; j < len; j++)
            row[j] = 0.0f;
    }
}

/* ---- window forward and backward --------------------------------------------------------- */

/* Attention of one block over the window: qkv (N, 3D) -> att (N, D). P: kept probabilities
 * (B, heads, T, T) or NULL to use the shared (Tc, Tc) scratch Ps. */
static void attn_forward(const lm_attn_dims *d, size_t T, size_t B, const float *qkv, float *att,
                         float *P, float *Ps)
{
    size_t D = d->D, H = d->heads, hd = D / H, ld3 = B * 3 * D, C = d->C;
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++) {
            const float *Q = qkv + b * 3 * D + h * hd, *K = Q + D, *Vv = Q + 2 * D;
            for (size_t s0 = 0; s0 < T; s0 += C) {
                size_t len = T - s0 < C ? T - s0 : C;
                float *Pc = P ? P + (b * H + h) * T * T + s0 * T + s0 : Ps;
                size_t ldp = P ? T : len;
                lm_gemm(false, true, len, len, hd, scale, Q + s0 * ld3, ld3, K + s0 * ld3, ld3,
                        0.0f, Pc, ldp);
                causal_softmax(Pc, len, ldp);
                lm_gemm(false, false, len, hd, len, 1.0f, Pc, ldp, Vv + s0 * ld3, ld3, 0.0f,
                        att + (s0 * B + b) * D + h * hd, B * D);
            }
        }
}

/* Backward of attn_forward: datt (N, D) in, dqkv (N, 3D) overwritten. */
static void attn_backward(const lm_attn_dims *d, size_t T, size_t B, const float *qkv,
                          const float *P, const float *datt, float *dqkv, float *dP)
{
    size_t D = d->D, H = d->heads, hd = D / H, ld3 = B * 3 * D, ldo = B * D, C = d->C;
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t b = 0; b < B; b++)
        for (size_t h = 0; h < H; h++) {
            const float *Q = qkv + b * 3 * D + h * hd, *K = Q + D, *Vv = Q + 2 * D;
            float *dQ = dqkv + b * 3 * D + h * hd, *dK = dQ + D, *dV = dQ + 2 * D;
            for (size_t s0 = 0; s0 < T; s0 += C) {
                size_t len = T - s0 < C ? T - s0 : C;
                const float *Pc = P + (b * H + h) * T * T + s0 * T + s0;
                const float *dO = datt + (s0 * B + b) * D + h * hd;
                /* dP = dO V^T; dV = P^T dO. */
                lm_gemm(false, true, len, len, hd, 1.0f, dO, ldo, Vv + s0 * ld3, ld3, 0.0f, dP,
                        len);
                lm_gemm(true, false, len, hd, len, 1.0f, Pc, T, dO, ldo, 0.0f, dV + s0 * ld3, ld3);
                /* dS = P * (dP - rowsum(P * dP)), times the scale of S. */
                for (size_t i = 0; i < len; i++) {
                    const float *pr = Pc + i * T;
                    float *gr = dP + i * len;
                    float dot = 0.0f;
                    for (size_t j = 0; j <= i; j++)
                        dot += pr[j] * gr[j];
                    for (size_t j = 0; j <= i; j++)
                        gr[j] = scale * pr[j] * (gr[j] - dot);
                    for (size_t j = i + 1; j < len; j++)
                        gr[j] = 0.0f;
                }
                /* dQ = dS K; dK = dS^T Q. */
                lm_gemm(false, false, len, hd, len, 1.0f, dP, len, K + s0 * ld3, ld3, 0.0f,
                        dQ + s0 * ld3, ld3);
                lm_gemm(true, false, len, hd, len, 1.0f, dP, len, Q + s0 * ld3, ld3, 0.0f,
                        dK + s0 * ld3, ld3);
            }
        }
}

/* The forward over a window with the workspace w. keep: store what the backward needs.
 * cache (B == 1, or NULL): receives the keys and values of every row. Y may be NULL (ln_f is
 * then skipped). */
static void win_forward(const lm_attn_dims *d, const lm_attn_tensors *p, const win_ws *w,
                        const float *X, float *Y, size_t T, size_t B, int train, lm_rng *rng,
                        int keep, float *cache)
{
    size_t D = d->D, F = d->F, N = T * B, L = d->L, C = d->C;
    int drop = keep && train && d->dropout > 0;
    float *x0 = w->l[0].xin;
    for (size_t t = 0; t < T; t++) {
        const float *pe = p->pos + (t % C) * D;
        for (size_t b = 0; b < B; b++) {
            const float *xr = X + (t * B + b) * D;
            float *o = x0 + (t * B + b) * D;
#pragma omp simd
            for (size_t j = 0; j < D; j++)
                o[j] = xr[j] + pe[j];
        }
    }
    for (size_t l = 0; l < L; l++) {
        const layer_ws *lw = &w->l[l];
        float *const *q = p->b[l];
        float *xout = l + 1 < L ? w->l[l + 1].xin : w->xL;
        lm_layernorm_forward(N, D, lw->xin, q[LM_ATTN_LN1_W], q[LM_ATTN_LN1_B], lw->a1, lw->mu1,
                             lw->rs1);
        fill_rows(lw->qkv, q[LM_ATTN_QKV_B], N, 3 * D);
        lm_gemm_train(false, true, N, 3 * D, D, 1.0f, lw->a1, D, q[LM_ATTN_QKV_W], D, 1.0f, lw->qkv,
                      3 * D);
        if (cache)
            for (size_t t = 0; t < T; t++)
                memcpy(cache + t * 2 * L * D + l * 2 * D, lw->qkv + t * 3 * D + D,
                       2 * D * sizeof(float));
        attn_forward(d, T, B, lw->qkv, lw->att, keep ? lw->P : NULL, w->Ps);
        fill_rows(lw->xmid, q[LM_ATTN_PROJ_B], N, D);
        lm_gemm_train(false, true, N, D, D, 1.0f, lw->att, D, q[LM_ATTN_PROJ_W], D, 1.0f, lw->xmid,
                      D);
        if (drop) {
            lm_dropout_mask(lw->m1, N * D, d->dropout, rng);
            lm_mul(lw->xmid, lw->xmid, lw->m1, N * D);
        }
        for (size_t i = 0; i < N * D; i++)
            lw->xmid[i] += lw->xin[i];
        lm_layernorm_forward(N, D, lw->xmid, q[LM_ATTN_LN2_W], q[LM_ATTN_LN2_B], lw->a2, lw->mu2,
                             lw->rs2);
        fill_rows(lw->u, q[LM_ATTN_FC_B], N, F);
        lm_gemm_train(false, true, N, F, D, 1.0f, lw->a2, D, q[LM_ATTN_FC_W], D, 1.0f, lw->u, F);
        lm_gelu_forward(N * F, lw->u, lw->g);
        fill_rows(xout, q[LM_ATTN_MP_B], N, D);
        lm_gemm_train(false, true, N, D, F, 1.0f, lw->g, F, q[LM_ATTN_MP_W], F, 1.0f, xout, D);
        if (drop) {
            lm_dropout_mask(lw->m2, N * D, d->dropout, rng);
            lm_mul(xout, xout, lw->m2, N * D);
        }
        for (size_t i = 0; i < N * D; i++)
            xout[i] += lw->xmid[i];
    }
    if (Y)
        lm_layernorm_forward(N, D, w->xL, p->lnf_w, p->lnf_b, Y, w->muf, w->rsf);
}

void lm_attn_forward(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws, const float *X,
                     float *Y, size_t T, size_t B, int train, lm_rng *rng)
{
    LM_ASSERT(d->L >= 1 && d->L <= LM_ATTN_MAX_LAYERS && d->D % d->heads == 0);
    win_ws w;
    layout(d, T, B, 1, ws, &w);
    win_forward(d, p, &w, X, Y, T, B, train, rng, 1, NULL);
}

void lm_attn_backward(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws, const float *dY,
                      float *dX, const lm_attn_tensors *g, size_t T, size_t B)
{
    size_t D = d->D, F = d->F, N = T * B, C = d->C;
    int drop = d->dropout > 0;
    win_ws w;
    layout(d, T, B, 1, ws, &w);
    float *dR = w.dR, *dtmp = w.dtmp;
    memset(dR, 0, N * D * sizeof(float));
    lm_layernorm_backward(N, D, w.xL, p->lnf_w, w.muf, w.rsf, dY, dR, g->lnf_w, g->lnf_b);
    for (size_t l = d->L; l-- > 0;) {
        const layer_ws *lw = &w.l[l];
        float *const *q = p->b[l], *const *gq = g->b[l];
        /* MLP branch: xout = xmid + drop(g Wmp^T + bmp). */
        const float *dm = dR;
        if (drop) {
            lm_mul(dtmp, dR, lw->m2, N * D);
            dm = dtmp;
        }
        lm_gemm_train(true, false, D, F, N, 1.0f, dm, D, lw->g, F, 1.0f, gq[LM_ATTN_MP_W], F);
        col_sums(dm, N, D, gq[LM_ATTN_MP_B]);
        lm_gemm_train(false, false, N, F, D, 1.0f, dm, D, q[LM_ATTN_MP_W], F, 0.0f, w.dF, F);
        gelu_backward(N * F, lw->u, w.dF);
        lm_gemm_train(true, false, F, D, N, 1.0f, w.dF, F, lw->a2, D, 1.0f, gq[LM_ATTN_FC_W], D);
        col_sums(w.dF, N, F, gq[LM_ATTN_FC_B]);
        lm_gemm_train(false, false, N, D, F, 1.0f, w.dF, F, q[LM_ATTN_FC_W], D, 0.0f, dtmp, D);
        lm_layernorm_backward(N, D, lw->xmid, q[LM_ATTN_LN2_W], lw->mu2, lw->rs2, dtmp, dR,
                              gq[LM_ATTN_LN2_W], gq[LM_ATTN_LN2_B]);
        /* Attention branch: xmid = xin + drop(att Wp^T + bp). */
        dm = dR;
        if (drop) {
            lm_mul(dtmp, dR, lw->m1, N * D);
            dm = dtmp;
        }
        lm_gemm_train(true, false, D, D, N, 1.0f, dm, D, lw->att, D, 1.0f, gq[LM_ATTN_PROJ_W], D);
        col_sums(dm, N, D, gq[LM_ATTN_PROJ_B]);
        lm_gemm_train(false, false, N, D, D, 1.0f, dm, D, q[LM_ATTN_PROJ_W], D, 0.0f, w.datt, D);
        attn_backward(d, T, B, lw->qkv, lw->P, w.datt, w.dqkv, w.dP);
        lm_gemm_train(true, false, 3 * D, D, N, 1.0f, w.dqkv, 3 * D, lw->a1, D, 1.0f,
                      gq[LM_ATTN_QKV_W], D);
        col_sums(w.dqkv, N, 3 * D, gq[LM_ATTN_QKV_B]);
        lm_gemm_train(false, false, N, D, 3 * D, 1.0f, w.dqkv, 3 * D, q[LM_ATTN_QKV_W], D, 0.0f,
                      dtmp, D);
        lm_layernorm_backward(N, D, lw->xin, q[LM_ATTN_LN1_W], lw->mu1, lw->rs1, dtmp, dR,
                              gq[LM_ATTN_LN1_W], gq[LM_ATTN_LN1_B]);
    }
    /* The position embedding was added to the input. */
    for (size_t t = 0; t < T; t++) {
        float *gp = g->pos + (t % C) * D;
        for (size_t b = 0; b < B; b++) {
            const float *r = dR + (t * B + b) * D;
#pragma omp simd
            for (size_t j = 0; j < D; j++)
                gp[j] += r[j];
        }
    }
    if (dX)
        memcpy(dX, dR, N * D * sizeof(float));
}

static int attn_detect(void)
{
#ifdef LM_ATTN_AVX512
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
#else
    return 0;
#endif
}

lm_kernel_choice lm_attn_kernel = {-1, attn_detect};

typedef struct attn_job {
    size_t D, H, S, n;
    const float *qkv, *kv;
    float *sc, *att;
} attn_job;

/* Heads [h0, h1) of the job, the portable loop; head h's scores in sc + h (n + 1). */
LM_HOT static void cached_heads(const attn_job *a, size_t h0, size_t h1)
{
    size_t D = a->D, S = a->S, n = a->n, hd = D / a->H;
    float scale = 1.0f / sqrtf((float)hd);
    for (size_t h = h0; h < h1; h++) {
        const float *qh = a->qkv + h * hd, *kv = a->kv;
        float mx = -INFINITY, *sc = a->sc + h * (n + 1);
        for (size_t j = 0; j <= n; j++) {
            const float *k = kv + j * S + h * hd;
            float s = 0.0f;
#pragma omp simd reduction(+ : s)
            for (size_t i = 0; i < hd; i++)
                s += qh[i] * k[i];
            sc[j] = s * scale;
            mx = sc[j] > mx ? sc[j] : mx;
        }
        float sum = 0.0f;
        for (size_t j = 0; j <= n; j++) {
            sc[j] = lm_expf(sc[j] - mx);
            sum += sc[j];
        }
        float inv = 1.0f / sum, *o = a->att + h * hd;
        memset(o, 0, hd * sizeof(float));
        for (size_t j = 0; j <= n; j++) {
            const float *v = kv + j * S + D + h * hd;
            float pj = sc[j] * inv;
#pragma omp simd
            for (size_t i = 0; i < hd; i++)
                o[i] += pj * v[i];
        }
    }
}

static void run_heads(const attn_job *a, size_t h0, size_t h1)
{
#ifdef LM_ATTN_AVX512
    size_t hd = a->D / a->H;
    if (hd % 16 == 0 && hd <= 128 && lm_kernel_get(&lm_attn_kernel) == 1) {
        lm_attn_cached_avx512(a->D, a->H, a->S, a->n, a->qkv, a->kv, a->sc, a->att, h0, h1);
        return;
    }
#endif
    cached_heads(a, h0, h1);
}

static void heads_part(void *ctx, size_t part, size_t nparts)
{
    const attn_job *a = ctx;
    size_t lo, hi;
    lm_pool_range(a->H, part, nparts, &lo, &hi);
    run_heads(a, lo, hi);
}

/* Caches of fewer floats (slots x D) than this run on the calling thread: below it a head's
 * work is shorter than handing it to the pool. */
#define ATTN_POOL_MIN ((size_t)1 << 15)

void lm_attn_cached(size_t D, size_t H, size_t S, size_t n, const float *qkv, const float *kv,
                    float *sc, float *att)
{
    attn_job a = {D, H, S, n, qkv, kv, sc, att};
    size_t parts = lm_pool_threads();
    if (parts > 1 && H > 1 && (n + 1) * D >= ATTN_POOL_MIN)
        lm_pool_run(parts < H ? parts : H, heads_part, &a);
    else
        run_heads(&a, 0, H);
}

/* ---- cached generation ------------------------------------------------------------------- */

void lm_attn_step(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws, const float *xin,
                  float *y, float *cache, size_t n)
{
    size_t D = d->D, F = d->F, L = d->L, H = d->heads, S = 2 * L * D;
    LM_ASSERT(n < d->C);
    size_t cur = 0;
    float *x = take(ws, &cur, D), *a = take(ws, &cur, D), *att = take(ws, &cur, D);
    float *qkv = take(ws, &cur, 3 * D), *u = take(ws, &cur, F), *g = take(ws, &cur, F);
    float *sc = take(ws, &cur, d->heads * d->C);
    const float *pe = p->pos + n * D;
    for (size_t j = 0; j < D; j++)
        x[j] = xin[j] + pe[j];
    for (size_t l = 0; l < L; l++) {
        float *const *q = p->b[l];
        lm_layernorm_forward(1, D, x, q[LM_ATTN_LN1_W], q[LM_ATTN_LN1_B], a, NULL, NULL);
        memcpy(qkv, q[LM_ATTN_QKV_B], 3 * D * sizeof(float));
        lm_gemv(false, 3 * D, D, 1.0f, q[LM_ATTN_QKV_W], a, 1.0f, qkv);
        float *kv = cache + l * 2 * D;
        memcpy(kv + n * S, qkv + D, 2 * D * sizeof(float));
        lm_attn_cached(D, H, S, n, qkv, kv, sc, att);
        /* x += att Wp^T + bp; x += gelu(ln2(x) Wfc^T + bfc) Wmp^T + bmp. */
        memcpy(a, q[LM_ATTN_PROJ_B], D * sizeof(float));
        lm_gemv(false, D, D, 1.0f, q[LM_ATTN_PROJ_W], att, 1.0f, a);
        for (size_t j = 0; j < D; j++)
            x[j] += a[j];
        lm_layernorm_forward(1, D, x, q[LM_ATTN_LN2_W], q[LM_ATTN_LN2_B], a, NULL, NULL);
        memcpy(u, q[LM_ATTN_FC_B], F * sizeof(float));
        lm_gemv(false, F, D, 1.0f, q[LM_ATTN_FC_W], a, 1.0f, u);
        lm_gelu_forward(F, u, g);
        memcpy(a, q[LM_ATTN_MP_B], D * sizeof(float));
        lm_gemv(false, D, F, 1.0f, q[LM_ATTN_MP_W], g, 1.0f, a);
        for (size_t j = 0; j < D; j++)
            x[j] += a[j];
    }
    lm_layernorm_forward(1, D, x, p->lnf_w, p->lnf_b, y, NULL, NULL);
}

void lm_attn_encode(const lm_attn_dims *d, const lm_attn_tensors *p, float *ws, const float *X,
                    float *cache, size_t T)
{
    LM_ASSERT(T >= 1 && T <= d->C);
    win_ws w;
    layout(d, T, 1, 0, ws + step_floats(d), &w);
    win_forward(d, p, &w, X, NULL, T, 1, 0, NULL, 0, cache);
}
