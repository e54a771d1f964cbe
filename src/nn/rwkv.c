/* rwkv.c - RWKV-4 time-mix, channel-mix, LayerNorm and the block stack, forward and backward.
 *
 * Every projection is one GEMM over the window's N = T*B rows; only the WKV recurrence runs
 * step by step, independently per channel (the inner loops run over the d channels of a row and
 * vectorize). The forward keeps the recurrence's state (aa, bb, pp) before each step, so the
 * backward runs the exact reverse recurrence in the same scaled form: with gA_t = alpha_t e^-pp_t
 * and gB_t = beta_t e^-pp_t (the gradients w.r.t. the true sums A_t, B_t),
 *   alpha_t = g_t e1/den + alpha_t+1 e^(pp_t + w - pp_t+1),
 *   beta_t = -g_t wkv_t e1/den + beta_t+1 e^(pp_t + w - pp_t+1),
 * where e1 = e^(pp_t - q), e2 = e^(u + k_t - q), q = max(pp_t, u + k_t), den = e1 bb_t + e2, and
 *   dk_t = g_t e2/den (v_t - wkv_t) + (alpha_t+1 v_t + beta_t+1) e^(k_t - pp_t+1),
 *   dv_t = g_t e2/den + alpha_t+1 e^(k_t - pp_t+1),
 *   du += g_t e2/den (v_t - wkv_t),  dw += (alpha_t+1 aa_t + beta_t+1 bb_t) e^(pp_t + w - pp_t+1).
 * Since pp_t+1 = max(pp_t + w, k_t), every exponent is <= 0 and alpha, beta stay bounded by the
 * sum of |g|. time_decay gets dw * w (w = -exp(time_decay)). */
#include "nn/rwkv.h"

#include "base/fastmath.h"
#include "nn/nn.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#define PP_EMPTY (-1e30f)

static size_t pad16(size_t n)
{
    return (n + 15) & ~(size_t)15;
}

/* Takes n floats from *p (kept 64-byte aligned). */
static float *take(float **p, size_t n)
{
    float *r = *p;
    *p += pad16(n);
    return r;
}

/* ---- state -------------------------------------------------------------------------------- */

size_t lm_rwkv_state_floats(const lm_rwkv_dims *dm, size_t B)
{
    return LM_RWKV_SLOTS * dm->L * B * dm->d;
}

void lm_rwkv_state_reset(const lm_rwkv_dims *dm, float *state, size_t B)
{
    size_t Bd = B * dm->d;
    memset(state, 0, lm_rwkv_state_floats(dm, B) * sizeof(float));
    for (size_t l = 0; l < dm->L; l++) {
        float *pp = state + (LM_RWKV_SLOTS * l + LM_RWKV_PP) * Bd;
        for (size_t i = 0; i < Bd; i++)
            pp[i] = PP_EMPTY;
    }
}

/* ---- token shift -------------------------------------------------------------------------- */

/* out (T, B, d) = sx + mu * (x - sx), sx = x shifted one step, row 0 from xx0 (B, d). */
static void shift_mix(size_t T, size_t B, size_t d, const float *restrict x,
                      const float *restrict xx0, const float *restrict mu, float *restrict out)
{
    size_t Bd = B * d;
    for (size_t t = 0; t < T; t++) {
        const float *xt = x + t * Bd, *st = t ? x + (t - 1) * Bd : xx0;
        float *ot = out + t * Bd;
        for (size_t b = 0; b < B; b++) {
            const float *xr = xt + b * d, *sr = st + b * d;
            float *o = ot + b * d;
#pragma omp simd
            for (size_t j = 0; j < d; j++)
                o[j] = sr[j] + mu[j] * (xr[j] - sr[j]);
        }
    }
}

/* Backward of shift_mix given dm = d(out): dx += dm * mu at the step, dm * (1 - mu) at the step
 * before (the first step's share would reach the carried state: dropped); dmu += dm * (x - sx). */
static void shift_mix_backward(size_t T, size_t B, size_t d, const float *restrict x,
                               const float *restrict xx0, const float *restrict mu,
                               const float *restrict dm, float *restrict dx,
                               float *restrict dmu)
{
    size_t Bd = B * d;
    for (size_t t = 0; t < T; t++) {
        const float *xt = x + t * Bd, *st = t ? x + (t - 1) * Bd : xx0;
        const float *dt = dm + t * Bd;
        float *dxt = dx + t * Bd, *dxs = t ? dx + (t - 1) * Bd : NULL;
        for (size_t b = 0; b < B; b++) {
            const float *xr = xt + b * d, *sr = st + b * d, *g = dt + b * d;
            float *o = dxt + b * d;
#pragma omp simd
            for (size_t j = 0; j < d; j++) {
                dmu[j] += g[j] * (xr[j] - sr[j]);
                o[j] += g[j] * mu[j];
            }
            if (dxs) {
                float *os = dxs + b * d;
#pragma omp simd
                for (size_t j = 0; j < d; j++)
                    os[j] += g[j] * (1.0f - mu[j]);
            }
        }
    }
}

/* Copies the last step's rows of x (T, B, d) into xx (B, d): the next window's shift state. */
static void keep_last(size_t T, size_t B, size_t d, const float *x, float *xx)
{
    memcpy(xx, x + (T - 1) * B * d, B * d * sizeof(float));
}

/* ---- time-mix ----------------------------------------------------------------------------- */

size_t lm_rwkv_att_cache_floats(size_t T, size_t B, size_t d)
{
    size_t N = T * B;
    return pad16(B * d) + 9 * pad16(N * d) + 3 * pad16((T + 1) * B * d);
}

lm_rwkv_att_cache lm_rwkv_att_cache_view(float *p, size_t T, size_t B, size_t d)
{
    size_t N = T * B, S = (T + 1) * B * d;
    lm_rwkv_att_cache c;
    c.xx0 = take(&p, B * d);
    c.xk = take(&p, N * d);
    c.xv = take(&p, N * d);
    c.xr = take(&p, N * d);
    c.k = take(&p, N * d);
    c.v = take(&p, N * d);
    c.r = take(&p, N * d);
    c.wkv = take(&p, N * d);
    c.rw = take(&p, N * d);
    c.aa = take(&p, S);
    c.bb = take(&p, S);
    c.pp = take(&p, S);
    return c;
}

size_t lm_rwkv_scratch_floats(size_t T, size_t B, size_t d, size_t F)
{
    size_t N = T * B;
    size_t att = 5 * pad16(N * d) + 2 * pad16(B * d) + 2 * pad16(d);
    size_t ffn = 3 * pad16(N * d) + pad16(N * F);
    return att > ffn ? att : ffn;
}

/* The WKV scan over T steps; aa, bb, pp rows 0..T (row 0 = initial state, filled by the
 * caller); w = -exp(time_decay), u = time_first. */
static void wkv_forward(size_t T, size_t B, size_t d, const float *restrict w,
                        const float *restrict u, const float *restrict k,
                        const float *restrict v, float *restrict aa, float *restrict bb,
                        float *restrict pp, float *restrict wkv)
{
    size_t Bd = B * d;
    for (size_t t = 0; t < T; t++) {
        const float *a0 = aa + t * Bd, *b0 = bb + t * Bd, *p0 = pp + t * Bd;
        float *a1 = aa + (t + 1) * Bd, *b1 = bb + (t + 1) * Bd, *p1 = pp + (t + 1) * Bd;
        const float *kt = k + t * Bd, *vt = v + t * Bd;
        float *yt = wkv + t * Bd;
        for (size_t b = 0; b < B; b++) {
            size_t o = b * d;
#pragma omp simd
            for (size_t j = 0; j < d; j++) {
                float a = a0[o + j], bq = b0[o + j], p = p0[o + j], kk = kt[o + j];
                float vv = vt[o + j];
                float ww = u[j] + kk, q = p > ww ? p : ww;
                float e1 = lm_expf(p - q), e2 = lm_expf(ww - q);
                yt[o + j] = (e1 * a + e2 * vv) / (e1 * bq + e2);
                ww = p + w[j];
                q = ww > kk ? ww : kk;
                e1 = lm_expf(ww - q);
                e2 = lm_expf(kk - q);
                a1[o + j] = e1 * a + e2 * vv;
                b1[o + j] = e1 * bq + e2;
                p1[o + j] = q;
            }
        }
    }
}

/* The reverse scan (see the head of the file). dy: (T, B, d) gradient w.r.t. wkv; dk, dv
 * overwritten; dw, du (d) accumulated (dw w.r.t. w itself); alpha, beta: (B, d) scratch. */
static void wkv_backward(size_t T, size_t B, size_t d, const float *restrict w,
                         const float *restrict u, const float *restrict k,
                         const float *restrict v, const float *restrict aa,
                         const float *restrict bb, const float *restrict pp,
                         const float *restrict wkv, const float *restrict dy,
                         float *restrict dk, float *restrict dv, float *restrict dw,
                         float *restrict du, float *restrict alpha, float *restrict beta)
{
    size_t Bd = B * d;
    memset(alpha, 0, Bd * sizeof(float));
    memset(beta, 0, Bd * sizeof(float));
    for (size_t t = T; t-- > 0;) {
        const float *a0 = aa + t * Bd, *b0 = bb + t * Bd, *p0 = pp + t * Bd;
        const float *p1 = pp + (t + 1) * Bd;
        const float *kt = k + t * Bd, *vt = v + t * Bd, *yt = wkv + t * Bd, *gt = dy + t * Bd;
        float *dkt = dk + t * Bd, *dvt = dv + t * Bd;
        for (size_t b = 0; b < B; b++) {
            size_t o = b * d;
            float *al = alpha + o, *be = beta + o;
#pragma omp simd
            for (size_t j = 0; j < d; j++) {
                float a = a0[o + j], bq = b0[o + j], p = p0[o + j], pn = p1[o + j];
                float kk = kt[o + j], vv = vt[o + j], y = yt[o + j], g = gt[o + j];
                float ww = u[j] + kk, q = p > ww ? p : ww;
                float e1 = lm_expf(p - q), e2 = lm_expf(ww - q);
                float inv = 1.0f / (e1 * bq + e2);
                float go = g * e2 * inv, gk = go * (vv - y);
                float ek = lm_expf(kk - pn), ew = lm_expf(p + w[j] - pn);
                float an = al[j], bn = be[j];
                dkt[o + j] = gk + (an * vv + bn) * ek;
                dvt[o + j] = go + an * ek;
                du[j] += gk;
                dw[j] += (an * a + bn * bq) * ew;
                float ge = g * e1 * inv;
                al[j] = ge + an * ew;
                be[j] = -ge * y + bn * ew;
            }
        }
    }
}

void lm_rwkv_att_forward(size_t T, size_t B, size_t d, const lm_rwkv_layer *p, const float *x,
                         float *state, lm_rwkv_att_cache *c, float *out, float *scratch)
{
    size_t N = T * B, Bd = B * d;
    float *xx = state + LM_RWKV_ATT_XX * Bd, *aa = state + LM_RWKV_AA * Bd;
    float *bb = state + LM_RWKV_BB * Bd, *pp = state + LM_RWKV_PP * Bd;
    float *w = scratch;
    for (size_t j = 0; j < d; j++)
        w[j] = -expf(p->time_decay[j]);
    memcpy(c->xx0, xx, Bd * sizeof(float));
    shift_mix(T, B, d, x, xx, p->att_mix_k, c->xk);
    shift_mix(T, B, d, x, xx, p->att_mix_v, c->xv);
    shift_mix(T, B, d, x, xx, p->att_mix_r, c->xr);
    lm_gemm_train(false, true, N, d, d, 1.0f, c->xk, d, p->att_key, d, 0.0f, c->k, d);
    lm_gemm_train(false, true, N, d, d, 1.0f, c->xv, d, p->att_value, d, 0.0f, c->v, d);
    lm_gemm_train(false, true, N, d, d, 1.0f, c->xr, d, p->att_receptance, d, 0.0f, c->r, d);
    float *r = c->r;
#pragma omp simd
    for (size_t i = 0; i < N * d; i++)
        r[i] = lm_sigmoidf(r[i]);
    memcpy(c->aa, aa, Bd * sizeof(float));
    memcpy(c->bb, bb, Bd * sizeof(float));
    memcpy(c->pp, pp, Bd * sizeof(float));
    wkv_forward(T, B, d, w, p->time_first, c->k, c->v, c->aa, c->bb, c->pp, c->wkv);
    memcpy(aa, c->aa + T * Bd, Bd * sizeof(float));
    memcpy(bb, c->bb + T * Bd, Bd * sizeof(float));
    memcpy(pp, c->pp + T * Bd, Bd * sizeof(float));
    keep_last(T, B, d, x, xx);
    lm_mul(c->rw, c->r, c->wkv, N * d);
    lm_gemm_train(false, true, N, d, d, 1.0f, c->rw, d, p->att_output, d, 0.0f, out, d);
}

void lm_rwkv_att_backward(size_t T, size_t B, size_t d, const lm_rwkv_layer *p, const float *x,
                          const lm_rwkv_att_cache *c, const float *dout, float *dx,
                          const lm_rwkv_layer *g, float *scratch)
{
    size_t N = T * B, Nd = N * d;
    float *s = scratch;
    float *drw = take(&s, Nd), *dk = take(&s, Nd), *dv = take(&s, Nd), *dr = take(&s, Nd);
    float *tmp = take(&s, Nd), *alpha = take(&s, B * d), *beta = take(&s, B * d);
    float *w = take(&s, d), *dw = take(&s, d);
    for (size_t j = 0; j < d; j++) {
        w[j] = -expf(p->time_decay[j]);
        dw[j] = 0;
    }
    /* out = rw Wo^T. */
    lm_gemm_train(true, false, d, d, N, 1.0f, dout, d, c->rw, d, 1.0f, g->att_output, d);
    lm_gemm_train(false, false, N, d, d, 1.0f, dout, d, p->att_output, d, 0.0f, drw, d);
    /* rw = r * wkv: drw becomes d(wkv); dr the gradient before the sigmoid. */
    for (size_t i = 0; i < Nd; i++) {
        float r = c->r[i];
        dr[i] = drw[i] * c->wkv[i] * r * (1.0f - r);
        drw[i] *= r;
    }
    wkv_backward(T, B, d, w, p->time_first, c->k, c->v, c->aa, c->bb, c->pp, c->wkv, drw, dk, dv,
                 dw, g->time_first, alpha, beta);
    for (size_t j = 0; j < d; j++)
        g->time_decay[j] += dw[j] * w[j];
    /* The three projections: weight gradients, then input gradients through the shifts. */
    memset(dx, 0, Nd * sizeof(float));
    lm_gemm_train(true, false, d, d, N, 1.0f, dk, d, c->xk, d, 1.0f, g->att_key, d);
    lm_gemm_train(false, false, N, d, d, 1.0f, dk, d, p->att_key, d, 0.0f, tmp, d);
    shift_mix_backward(T, B, d, x, c->xx0, p->att_mix_k, tmp, dx, g->att_mix_k);
    lm_gemm_train(true, false, d, d, N, 1.0f, dv, d, c->xv, d, 1.0f, g->att_value, d);
    lm_gemm_train(false, false, N, d, d, 1.0f, dv, d, p->att_value, d, 0.0f, tmp, d);
    shift_mix_backward(T, B, d, x, c->xx0, p->att_mix_v, tmp, dx, g->att_mix_v);
    lm_gemm_train(true, false, d, d, N, 1.0f, dr, d, c->xr, d, 1.0f, g->att_receptance, d);
    lm_gemm_train(false, false, N, d, d, 1.0f, dr, d, p->att_receptance, d, 0.0f, tmp, d);
    shift_mix_backward(T, B, d, x, c->xx0, p->att_mix_r, tmp, dx, g->att_mix_r);
}

/* ---- channel-mix -------------------------------------------------------------------------- */

size_t lm_rwkv_ffn_cache_floats(size_t T, size_t B, size_t d, size_t F)
{
    size_t N = T * B;
    return pad16(B * d) + 4 * pad16(N * d) + 2 * pad16(N * F);
}

lm_rwkv_ffn_cache lm_rwkv_ffn_cache_view(float *p, size_t T, size_t B, size_t d, size_t F)
{
    size_t N = T * B;
    lm_rwkv_ffn_cache c;
    c.xx0 = take(&p, B * d);
    c.xk = take(&p, N * d);
    c.xr = take(&p, N * d);
    c.r = take(&p, N * d);
    c.vv = take(&p, N * d);
    c.kr = take(&p, N * F);
    c.ks = take(&p, N * F);
    return c;
}

void lm_rwkv_ffn_forward(size_t T, size_t B, size_t d, size_t F, const lm_rwkv_layer *p,
                         const float *x, float *state, lm_rwkv_ffn_cache *c, float *out)
{
    size_t N = T * B, Bd = B * d;
    float *xx = state + LM_RWKV_FFN_XX * Bd;
    memcpy(c->xx0, xx, Bd * sizeof(float));
    shift_mix(T, B, d, x, xx, p->ffn_mix_k, c->xk);
    shift_mix(T, B, d, x, xx, p->ffn_mix_r, c->xr);
    keep_last(T, B, d, x, xx);
    lm_gemm_train(false, true, N, F, d, 1.0f, c->xk, d, p->ffn_key, d, 0.0f, c->kr, F);
    float *kr = c->kr, *ks = c->ks;
#pragma omp simd
    for (size_t i = 0; i < N * F; i++) {
        float a = kr[i] > 0.0f ? kr[i] : 0.0f;
        kr[i] = a;
        ks[i] = a * a;
    }
    lm_gemm_train(false, true, N, d, F, 1.0f, c->ks, F, p->ffn_value, F, 0.0f, c->vv, d);
    lm_gemm_train(false, true, N, d, d, 1.0f, c->xr, d, p->ffn_receptance, d, 0.0f, c->r, d);
    float *r = c->r;
#pragma omp simd
    for (size_t i = 0; i < N * d; i++)
        r[i] = lm_sigmoidf(r[i]);
    lm_mul(out, c->r, c->vv, N * d);
}

void lm_rwkv_ffn_backward(size_t T, size_t B, size_t d, size_t F, const lm_rwkv_layer *p,
                          const float *x, const lm_rwkv_ffn_cache *c, const float *dout,
                          float *dx, const lm_rwkv_layer *g, float *scratch)
{
    size_t N = T * B, Nd = N * d;
    float *s = scratch;
    float *dr = take(&s, Nd), *dvv = take(&s, Nd), *tmp = take(&s, Nd), *dks = take(&s, N * F);
    for (size_t i = 0; i < Nd; i++) {
        float r = c->r[i];
        dr[i] = dout[i] * c->vv[i] * r * (1.0f - r);
        dvv[i] = dout[i] * r;
    }
    /* vv = ks Wv^T; ks = relu(xk Wk^T)^2. */
    lm_gemm_train(true, false, d, F, N, 1.0f, dvv, d, c->ks, F, 1.0f, g->ffn_value, F);
    lm_gemm_train(false, false, N, F, d, 1.0f, dvv, d, p->ffn_value, F, 0.0f, dks, F);
#pragma omp simd
    for (size_t i = 0; i < N * F; i++)
        dks[i] *= 2.0f * c->kr[i];
    memset(dx, 0, Nd * sizeof(float));
    lm_gemm_train(true, false, F, d, N, 1.0f, dks, F, c->xk, d, 1.0f, g->ffn_key, d);
    lm_gemm_train(false, false, N, d, F, 1.0f, dks, F, p->ffn_key, d, 0.0f, tmp, d);
    shift_mix_backward(T, B, d, x, c->xx0, p->ffn_mix_k, tmp, dx, g->ffn_mix_k);
    lm_gemm_train(true, false, d, d, N, 1.0f, dr, d, c->xr, d, 1.0f, g->ffn_receptance, d);
    lm_gemm_train(false, false, N, d, d, 1.0f, dr, d, p->ffn_receptance, d, 0.0f, tmp, d);
    shift_mix_backward(T, B, d, x, c->xx0, p->ffn_mix_r, tmp, dx, g->ffn_mix_r);
}

/* ---- the stack ---------------------------------------------------------------------------- */

/* Workspace of the stack for (T, B). */
typedef struct stack_ws {
    float *flag;           /* [0]: 1 when the last forward drew dropout masks, [1]: weight drop */
    float *H;              /* (2L+1) x (N, d): residual stream h_0, after att 0, after ffn 0, ... */
    float *mean, *rstd;    /* (2L+2) x N: ln0, then ln1 and ln2 of each layer, then ln_out */
    float *x1, *x2;        /* L x (N, d): LN1 and LN2 outputs */
    float *att, *ffn;      /* L caches each */
    float *mask;           /* 2L x (N, d) dropout masks, when dropout > 0 */
    float *wd, *wdg;       /* weight drop: L x WD_MATS x (mask, dropped copy), then the
                            * WD_MATS (d, d) gradients before their masks */
    float *dH, *tmp, *dx;  /* (N, d) */
    float *scratch;
    size_t att_f, ffn_f;   /* floats per cache */
} stack_ws;

/* Weight drop (DropConnect, Wan et al. 2013, as AWD-LSTM drops an LSTM's W_hh): one mask per
 * window on each of the time mix's four (d, d) matrices, those that write the WKV recurrence's
 * keys and values and read it out. The forward multiplies a copy by the mask; the backward
 * uses the copy for the input gradients and masks the weight gradients. */
enum { WD_MATS = 4 };
static const size_t wd_mat[WD_MATS] = {
    offsetof(lm_rwkv_layer, att_key), offsetof(lm_rwkv_layer, att_value),
    offsetof(lm_rwkv_layer, att_receptance), offsetof(lm_rwkv_layer, att_output)};

static float **wd_ptr(lm_rwkv_layer *y, size_t k)
{
    return (float **)(void *)((char *)y + wd_mat[k]);
}

static float *wd_get(const lm_rwkv_layer *y, size_t k)
{
    return *(float *const *)(const void *)((const char *)y + wd_mat[k]);
}

static int wd_on(const lm_rwkv_dims *dm, size_t T)
{
    return dm->weight_drop > 0 && T >= 2;
}

/* Lays the workspace out from base (or only measures it when base is NULL); returns its floats. */
static size_t stack_layout(const lm_rwkv_dims *dm, float *base, size_t T, size_t B, stack_ws *s)
{
    size_t N = T * B, L = dm->L, d = dm->d, Nd = pad16(N * d), Np = pad16(N), off = 0;
    s->att_f = pad16(lm_rwkv_att_cache_floats(T, B, d));
    s->ffn_f = pad16(lm_rwkv_ffn_cache_floats(T, B, d, dm->F));
    struct {
        float **p;
        size_t n;
    } parts[] = {
        {&s->flag, 2},
        {&s->H, (2 * L + 1) * Nd},
        {&s->mean, (2 * L + 2) * Np},
        {&s->rstd, (2 * L + 2) * Np},
        {&s->x1, L * Nd},
        {&s->x2, L * Nd},
        {&s->att, L * s->att_f},
        {&s->ffn, L * s->ffn_f},
        {&s->mask, dm->dropout > 0 ? 2 * L * Nd : 0},
        {&s->wd, wd_on(dm, T) ? L * WD_MATS * 2 * pad16(d * d) : 0},
        {&s->wdg, wd_on(dm, T) ? WD_MATS * pad16(d * d) : 0},
        {&s->dH, N * d},
        {&s->tmp, N * d},
        {&s->dx, N * d},
        {&s->scratch, lm_rwkv_scratch_floats(T, B, d, dm->F)},
    };
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        *parts[i].p = base && parts[i].n ? base + off : NULL;
        off += pad16(parts[i].n);
    }
    return off;
}

static stack_ws stack_view(const lm_rwkv_dims *dm, float *base, size_t T, size_t B)
{
    stack_ws s;
    stack_layout(dm, base, T, B, &s);
    return s;
}

size_t lm_rwkv_ws_floats(const lm_rwkv_dims *dm, size_t T, size_t B)
{
    stack_ws s;
    return stack_layout(dm, NULL, T, B, &s);
}

/* h_out = h_in + branch, the branch dropped out first when a mask is given. */
static void residual_add(size_t n, const float *h_in, float *branch, const float *mask,
                         float *h_out)
{
    if (mask)
        lm_mul(branch, branch, mask, n);
    for (size_t i = 0; i < n; i++)
        h_out[i] = h_in[i] + branch[i];
}

void lm_rwkv_forward(const lm_rwkv_dims *dm, const lm_rwkv_tensors *p, float *ws, const float *X,
                     float *Y, float *state, size_t T, size_t B, int train, lm_rng *rng)
{
    size_t N = T * B, L = dm->L, d = dm->d, F = dm->F, Nd = pad16(N * d), Np = pad16(N);
    LM_ASSERT(L >= 1 && L <= LM_RWKV_MAX_LAYERS && T >= 1 && B >= 1);
    stack_ws s = stack_view(dm, ws, T, B);
    int drop = train && dm->dropout > 0, wdrop = train && wd_on(dm, T);
    size_t dd = pad16(d * d);
    s.flag[0] = (float)drop;
    s.flag[1] = (float)wdrop;
    lm_layernorm_forward(N, d, X, p->ln0_w, p->ln0_b, s.H, s.mean, s.rstd);
    for (size_t l = 0; l < L; l++) {
        const lm_rwkv_layer *q = &p->layer[l];
        lm_rwkv_layer dq;
        if (wdrop) {
            dq = *q;
            for (size_t k = 0; k < WD_MATS; k++) {
                float *mk = s.wd + (l * WD_MATS + k) * 2 * dd, *W = mk + dd;
                lm_dropout_mask(mk, d * d, dm->weight_drop, rng);
                lm_mul(W, wd_get(q, k), mk, d * d);
                *wd_ptr(&dq, k) = W;
            }
            q = &dq;
        }
        float *st = state + LM_RWKV_SLOTS * l * B * d;
        float *h = s.H + 2 * l * Nd, *h1 = h + Nd, *h2 = h1 + Nd;
        float *x1 = s.x1 + l * Nd, *x2 = s.x2 + l * Nd;
        float *m1 = drop ? s.mask + 2 * l * Nd : NULL, *m2 = drop ? m1 + Nd : NULL;
        lm_rwkv_att_cache ac = lm_rwkv_att_cache_view(s.att + l * s.att_f, T, B, d);
        lm_rwkv_ffn_cache fc = lm_rwkv_ffn_cache_view(s.ffn + l * s.ffn_f, T, B, d, F);
        lm_layernorm_forward(N, d, h, q->ln1_w, q->ln1_b, x1, s.mean + (2 * l + 1) * Np,
                             s.rstd + (2 * l + 1) * Np);
        lm_rwkv_att_forward(T, B, d, q, x1, st, &ac, s.tmp, s.scratch);
        if (drop)
            lm_dropout_mask(m1, N * d, dm->dropout, rng);
        residual_add(N * d, h, s.tmp, m1, h1);
        lm_layernorm_forward(N, d, h1, q->ln2_w, q->ln2_b, x2, s.mean + (2 * l + 2) * Np,
                             s.rstd + (2 * l + 2) * Np);
        lm_rwkv_ffn_forward(T, B, d, F, q, x2, st, &fc, s.tmp);
        if (drop)
            lm_dropout_mask(m2, N * d, dm->dropout, rng);
        residual_add(N * d, h1, s.tmp, m2, h2);
    }
    lm_layernorm_forward(N, d, s.H + 2 * L * Nd, p->lnout_w, p->lnout_b, Y,
                         s.mean + (2 * L + 1) * Np, s.rstd + (2 * L + 1) * Np);
}

void lm_rwkv_backward(const lm_rwkv_dims *dm, const lm_rwkv_tensors *p, float *ws,
                      const float *X, const float *dY, float *dX, const lm_rwkv_tensors *g,
                      size_t T, size_t B)
{
    size_t N = T * B, L = dm->L, d = dm->d, F = dm->F, Nd = pad16(N * d), Np = pad16(N);
    stack_ws s = stack_view(dm, ws, T, B);
    int drop = s.flag[0] != 0.0f, wdrop = s.flag[1] != 0.0f;
    size_t dd = pad16(d * d);
    memset(s.dH, 0, N * d * sizeof(float));
    lm_layernorm_backward(N, d, s.H + 2 * L * Nd, p->lnout_w, s.mean + (2 * L + 1) * Np,
                          s.rstd + (2 * L + 1) * Np, dY, s.dH, g->lnout_w, g->lnout_b);
    for (size_t l = L; l-- > 0;) {
        const lm_rwkv_layer *q = &p->layer[l], *gq = &g->layer[l];
        lm_rwkv_layer dq, dg;
        if (wdrop) {
            /* The dropped copies stand for the weights; their gradients go to wdg first. */
            dq = *q;
            dg = *gq;
            for (size_t k = 0; k < WD_MATS; k++) {
                *wd_ptr(&dq, k) = s.wd + (l * WD_MATS + k) * 2 * dd + dd;
                *wd_ptr(&dg, k) = s.wdg + k * dd;
            }
            memset(s.wdg, 0, WD_MATS * dd * sizeof(float));
        }
        float *h = s.H + 2 * l * Nd, *h1 = h + Nd;
        float *x1 = s.x1 + l * Nd, *x2 = s.x2 + l * Nd;
        lm_rwkv_att_cache ac = lm_rwkv_att_cache_view(s.att + l * s.att_f, T, B, d);
        lm_rwkv_ffn_cache fc = lm_rwkv_ffn_cache_view(s.ffn + l * s.ffn_f, T, B, d, F);
        /* dH holds d(h2); the residual passes it to h1 unchanged and the branch adds its part
         * through LN2. Then the same for the time-mix, from h1 to h. */
        const float *dout = s.dH;
        if (drop) {
            lm_mul(s.tmp, s.dH, s.mask + (2 * l + 1) * Nd, N * d);
            dout = s.tmp;
        }
        lm_rwkv_ffn_backward(T, B, d, F, q, x2, &fc, dout, s.dx, gq, s.scratch);
        lm_layernorm_backward(N, d, h1, q->ln2_w, s.mean + (2 * l + 2) * Np,
                              s.rstd + (2 * l + 2) * Np, s.dx, s.dH, gq->ln2_w, gq->ln2_b);
        dout = s.dH;
        if (drop) {
            lm_mul(s.tmp, s.dH, s.mask + 2 * l * Nd, N * d);
            dout = s.tmp;
        }
        if (wdrop) {
            lm_rwkv_att_backward(T, B, d, &dq, x1, &ac, dout, s.dx, &dg, s.scratch);
            for (size_t k = 0; k < WD_MATS; k++) {
                const float *mk = s.wd + (l * WD_MATS + k) * 2 * dd, *t = s.wdg + k * dd;
                float *gw = wd_get(gq, k);
#pragma omp simd
                for (size_t i = 0; i < d * d; i++)
                    gw[i] += t[i] * mk[i];
            }
        } else
            lm_rwkv_att_backward(T, B, d, q, x1, &ac, dout, s.dx, gq, s.scratch);
        lm_layernorm_backward(N, d, h, q->ln1_w, s.mean + (2 * l + 1) * Np,
                              s.rstd + (2 * l + 1) * Np, s.dx, s.dH, gq->ln1_w, gq->ln1_b);
    }
    if (dX) {
        memset(dX, 0, N * d * sizeof(float));
        lm_layernorm_backward(N, d, X, p->ln0_w, s.mean, s.rstd, s.dH, dX, g->ln0_w, g->ln0_b);
    } else {
        /* The ln0 parameters still get their gradients. */
        lm_layernorm_backward(N, d, X, p->ln0_w, s.mean, s.rstd, s.dH, s.dx, g->ln0_w, g->ln0_b);
    }
}
