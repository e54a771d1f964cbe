/* lstm.c - a stack of LSTM layers over a window of T steps, forward and backward.
 *
 * One GEMM projects the inputs of all T steps, (T*B, I) x (I, 4H); per step only the recurrent
 * (B, H) x (H, 4H) product is sequential. Backward runs the per-step recursion for the gate
 * gradients of all steps, then one GEMM each for dW_ih, dW_hh and the input gradient.
 *
 * The sequential part: OpenBLAS repacks W_hh on every call, which for B = 20 rows costs as
 * much as the arithmetic. When a packed kernel exists (lm_pgemm) and the window has at least
 * lm_lstm_pack_min_steps steps, W_hh is packed once per layer and direction and the recursion
 * runs on the pool with the batch rows split between threads: row b of step t depends only on
 * row b of step t-1, so the threads never wait for each other inside the window. */
#include "nn/nn.h"

#include "base/fastmath.h"

#include <string.h>

/* Workspace of one layer for (T, B). */
typedef struct lstm_ws {
    float *G;    /* (T, B, 4H) gate activations i|f|g|o after their non-linearities */
    float *Hs;   /* (T+1, B, H) row 0 = initial h, row t+1 = h_t */
    float *Cs;   /* (T+1, B, H) row 0 = initial c */
    float *TC;   /* (T, B, H) tanh(c_t) */
    float *In;   /* (T, B, H) input of this layer (l > 0): dropout of the layer below */
    float *Mask; /* (T, B, H) dropout mask of In (l > 0, dropout > 0) */
} lstm_ws;

size_t lm_lstm_pack_min_steps = 4;
/* Workspaces for windows shorter than this (the (1,1) workspace of every generation state)
 * have no room for packed weights and never use them. */
#define PACK_FLOOR 2

typedef struct lstm_scratch {
    float *dG;   /* (T, B, 4H) */
    float *dIn;  /* (T, B, max(E, H)) */
    float *dH;   /* (T, B, H) gradient w.r.t. the output of the layer being processed */
    float *dh;   /* (B, H) carried to the previous step */
    float *dc;   /* (B, H) */
    float *bias; /* (4H) b_ih + b_hh */
    float *pack; /* W_hh packed for lm_pgemm, either direction */
} lstm_scratch;

static size_t layer_floats(size_t T, size_t B, size_t H)
{
    return T * B * 4 * H + 2 * (T + 1) * B * H + 3 * T * B * H;
}

static size_t pack_floats(size_t H)
{
    size_t f = lm_pgemm_floats(H, 4 * H), b = lm_pgemm_floats(4 * H, H);
    return f > b ? f : b;
}

/* Scratch floats before the packed block, rounded up to 64 bytes. */
static size_t scratch_floats(size_t T, size_t B, size_t H, size_t I)
{
    return (T * B * 4 * H + T * B * I + T * B * H + 2 * B * H + 4 * H + 15) & ~(size_t)15;
}

/* Weight drop: a block before the layers, in windows of T >= 2 (not in generation states):
 * a flag (the last forward dropped weights), then per layer the mask and the dropped W_hh,
 * then one (4H, H) scratch for dW_hh. */
static size_t wd_floats(const lm_lstm_dims *d, size_t T)
{
    if (!(d->weight_drop > 0) || T < 2)
        return 0;
    return (16 + (2 * d->L + 1) * 4 * d->H * d->H + 15) & ~(size_t)15;
}

typedef struct wd_view {
    float *flag, *mask, *W, *tmp; /* mask and W: layer l at l * 4H*H */
} wd_view;

static wd_view wd_at(const lm_lstm_dims *d, float *ws, size_t T)
{
    wd_view v = {0};
    if (!wd_floats(d, T))
        return v;
    size_t n = 4 * d->H * d->H;
    v.flag = ws;
    v.mask = ws + 16;
    v.W = v.mask + d->L * n;
    v.tmp = v.W + d->L * n;
    return v;
}

size_t lm_lstm_ws_floats(const lm_lstm_dims *d, size_t T, size_t B)
{
    size_t H = d->H, I = d->E > H ? d->E : H;
    size_t layers = (d->L * layer_floats(T, B, H) + 15) & ~(size_t)15;
    return wd_floats(d, T) + layers + scratch_floats(T, B, H, I) +
           (T >= PACK_FLOOR ? pack_floats(H) : 0);
}

static lstm_ws layer_view(const lm_lstm_dims *d, float *ws, size_t l, size_t T, size_t B)
{
    size_t H = d->H;
    float *p = ws + wd_floats(d, T) + l * layer_floats(T, B, H);
    lstm_ws w;
    w.G = p;
    p += T * B * 4 * H;
    w.Hs = p;
    p += (T + 1) * B * H;
    w.Cs = p;
    p += (T + 1) * B * H;
    w.TC = p;
    p += T * B * H;
    w.In = p;
    p += T * B * H;
    w.Mask = p;
    return w;
}

static lstm_scratch scratch_view(const lm_lstm_dims *d, float *ws, size_t T, size_t B)
{
    size_t H = d->H, I = d->E > H ? d->E : H;
    float *base = ws + wd_floats(d, T) + ((d->L * layer_floats(T, B, H) + 15) & ~(size_t)15);
    float *p = base;
    lstm_scratch s;
    s.dG = p;
    p += T * B * 4 * H;
    s.dIn = p;
    p += T * B * I;
    s.dH = p;
    p += T * B * H;
    s.dh = p;
    p += B * H;
    s.dc = p;
    p += B * H;
    s.bias = p;
    s.pack = base + scratch_floats(T, B, H, I);
    return s;
}

/* One step of the cell for B rows.
 * g: (B, 4H) pre-activations in, activations out; c_prev, c, tc, h: (B, H). */
LM_HOT static void lstm_cell(size_t B, size_t H, float *restrict g, const float *restrict c_prev,
                             float *restrict c, float *restrict tc, float *restrict h)
{
    for (size_t b = 0; b < B; b++) {
        float *gi = g + b * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        const float *cp = c_prev + b * H;
        float *cb = c + b * H, *tb = tc + b * H, *hb = h + b * H;
#pragma omp simd
        for (size_t j = 0; j < H; j++) {
            float i = lm_sigmoidf(gi[j]), f = lm_sigmoidf(gf[j]), gv = lm_tanhf(gg[j]);
            float o = lm_sigmoidf(go[j]);
            float cv = f * cp[j] + i * gv;
            float t = lm_tanhf(cv);
            gi[j] = i;
            gf[j] = f;
            gg[j] = gv;
            go[j] = o;
            cb[j] = cv;
            tb[j] = t;
            hb[j] = o * t;
        }
    }
}

/* The recurrence of one layer for batch rows [lo, hi), on packed W_hh^T. */
typedef struct rec_job {
    const lm_lstm_dims *d;
    lstm_ws w;
    lstm_scratch s;
    const float *dHout;
    size_t T, B;
} rec_job;

static void forward_rows(void *ctx, size_t part, size_t nparts)
{
    const rec_job *j = ctx;
    size_t H = j->d->H, G4 = 4 * H, B = j->B, BH = B * H, lo, hi;
    lm_pool_range(B, part, nparts, &lo, &hi);
    const lstm_ws *w = &j->w;
    for (size_t t = 0; t < j->T; t++) {
        float *g = w->G + t * B * G4 + lo * G4;
        lm_pgemm(hi - lo, G4, H, w->Hs + t * BH + lo * H, H, j->s.pack, 1.0f, g, G4);
        lstm_cell(hi - lo, H, g, w->Cs + t * BH + lo * H, w->Cs + (t + 1) * BH + lo * H,
                  w->TC + t * BH + lo * H, w->Hs + (t + 1) * BH + lo * H);
    }
}

static bool use_packed(size_t T)
{
    return T >= PACK_FLOOR && T >= lm_lstm_pack_min_steps && lm_pgemm_available();
}

void lm_lstm_forward(const lm_lstm_dims *d, const lm_lstm_params *p, float *ws, const float *X,
                     float *Y, float *state, size_t T, size_t B, int train, lm_rng *rng)
{
    size_t H = d->H, L = d->L, G4 = 4 * H, BH = B * H;
    lstm_scratch s = scratch_view(d, ws, T, B);
    wd_view wd = wd_at(d, ws, T);
    if (wd.flag)
        wd.flag[0] = train ? 1.0f : 0.0f;
    for (size_t l = 0; l < L; l++) {
        lstm_ws w = layer_view(d, ws, l, T, B);
        const float *in = X;
        size_t I = d->E;
        if (l > 0) {
            lstm_ws below = layer_view(d, ws, l - 1, T, B);
            I = H;
            if (train && d->dropout > 0) {
                if (d->locked)
                    lm_locked_mask(w.Mask, T, B, H, d->dropout, rng);
                else
                    lm_dropout_mask(w.Mask, T * BH, d->dropout, rng);
                lm_mul(w.In, below.Hs + BH, w.Mask, T * BH);
                in = w.In;
            } else
                in = below.Hs + BH;
        }
        const float *whh = p->w_hh[l];
        if (wd.flag && train) {
            float *mk = wd.mask + l * G4 * H, *W = wd.W + l * G4 * H;
            lm_dropout_mask(mk, G4 * H, d->weight_drop, rng);
            lm_mul(W, whh, mk, G4 * H);
            whh = W;
        }
        /* All T input projections at once. */
        lm_gemm_train(false, true, T * B, G4, I, 1.0f, in, I, p->w_ih[l], I, 0.0f, w.G, G4);
        for (size_t k = 0; k < G4; k++)
            s.bias[k] = p->b_ih[l][k] + p->b_hh[l][k];
        for (size_t r = 0; r < T * B; r++) {
            float *g = w.G + r * G4;
#pragma omp simd
            for (size_t k = 0; k < G4; k++)
                g[k] += s.bias[k];
        }
        float *h0 = state + l * BH, *c0 = state + (L + l) * BH;
        memcpy(w.Hs, h0, BH * sizeof(float));
        memcpy(w.Cs, c0, BH * sizeof(float));
        if (use_packed(T)) {
            lm_pgemm_pack(true, H, G4, whh, H, s.pack);
            rec_job j = {.d = d, .w = w, .s = s, .T = T, .B = B};
            lm_pool_run(B, forward_rows, &j);
        } else {
            for (size_t t = 0; t < T; t++) {
                float *g = w.G + t * B * G4;
                lm_gemm(false, true, B, G4, H, 1.0f, w.Hs + t * BH, H, whh, H, 1.0f, g, G4);
                lstm_cell(B, H, g, w.Cs + t * BH, w.Cs + (t + 1) * BH, w.TC + t * BH,
                          w.Hs + (t + 1) * BH);
            }
        }
        memcpy(h0, w.Hs + T * BH, BH * sizeof(float));
        memcpy(c0, w.Cs + T * BH, BH * sizeof(float));
    }
    lstm_ws top = layer_view(d, ws, L - 1, T, B);
    memcpy(Y, top.Hs + BH, T * BH * sizeof(float));
}

/* Gate gradients of one step. dhy: (B, H) gradient reaching h_t (from above plus the future);
 * dc: (B, H) in (from t+1) and out (to t-1). dG: (B, 4H) out. */
LM_HOT static void lstm_cell_backward(size_t B, size_t H, const float *restrict g,
                                      const float *restrict c_prev, const float *restrict tc,
                                      const float *restrict dhy, const float *restrict dh,
                                      float *restrict dc, float *restrict dG)
{
    for (size_t b = 0; b < B; b++) {
        const float *gi = g + b * 4 * H, *gf = gi + H, *gg = gi + 2 * H, *go = gi + 3 * H;
        float *di = dG + b * 4 * H, *df = di + H, *dg = di + 2 * H, *dout = di + 3 * H;
        const float *cp = c_prev + b * H, *t = tc + b * H, *dy = dhy + b * H, *dhb = dh + b * H;
        float *dcb = dc + b * H;
#pragma omp simd
        for (size_t j = 0; j < H; j++) {
            float dht = dy[j] + dhb[j];
            float i = gi[j], f = gf[j], gv = gg[j], o = go[j], tj = t[j];
            float dct = dcb[j] + dht * o * (1.0f - tj * tj);
            dout[j] = dht * tj * o * (1.0f - o);
            di[j] = dct * gv * i * (1.0f - i);
            dg[j] = dct * i * (1.0f - gv * gv);
            df[j] = dct * cp[j] * f * (1.0f - f);
            dcb[j] = dct * f;
        }
    }
}

static void backward_rows(void *ctx, size_t part, size_t nparts)
{
    const rec_job *j = ctx;
    size_t H = j->d->H, G4 = 4 * H, B = j->B, BH = B * H, lo, hi;
    lm_pool_range(B, part, nparts, &lo, &hi);
    const lstm_ws *w = &j->w;
    const lstm_scratch *s = &j->s;
    for (size_t t = j->T; t-- > 0;) {
        float *dGt = s->dG + t * B * G4 + lo * G4;
        lstm_cell_backward(hi - lo, H, w->G + t * B * G4 + lo * G4, w->Cs + t * BH + lo * H,
                           w->TC + t * BH + lo * H, j->dHout + t * BH + lo * H, s->dh + lo * H,
                           s->dc + lo * H, dGt);
        if (t > 0)
            lm_pgemm(hi - lo, H, G4, dGt, G4, s->pack, 0.0f, s->dh + lo * H, H);
    }
}

void lm_lstm_backward(const lm_lstm_dims *d, const lm_lstm_params *p, float *ws, const float *X,
                      const float *dY, float *dX, const lm_lstm_grads *g, size_t T, size_t B)
{
    size_t H = d->H, L = d->L, G4 = 4 * H, BH = B * H;
    lstm_scratch s = scratch_view(d, ws, T, B);
    wd_view wd = wd_at(d, ws, T);
    int dropped = wd.flag && wd.flag[0] != 0.0f;
    const float *dHout = dY;
    for (size_t l = L; l-- > 0;) {
        lstm_ws w = layer_view(d, ws, l, T, B);
        const float *whh = dropped ? wd.W + l * G4 * H : p->w_hh[l];
        memset(s.dh, 0, BH * sizeof(float));
        memset(s.dc, 0, BH * sizeof(float));
        if (use_packed(T)) {
            lm_pgemm_pack(false, G4, H, whh, H, s.pack);
            rec_job j = {.d = d, .w = w, .s = s, .dHout = dHout, .T = T, .B = B};
            lm_pool_run(B, backward_rows, &j);
        } else {
            for (size_t t = T; t-- > 0;) {
                float *dGt = s.dG + t * B * G4;
                lstm_cell_backward(B, H, w.G + t * B * G4, w.Cs + t * BH, w.TC + t * BH,
                                   dHout + t * BH, s.dh, s.dc, dGt);
                if (t > 0)
                    lm_gemm(false, false, B, H, G4, 1.0f, dGt, G4, whh, H, 0.0f, s.dh, H);
            }
        }
        const float *in = X;
        size_t I = d->E;
        if (l > 0) {
            I = H;
            lstm_ws below = layer_view(d, ws, l - 1, T, B);
            in = d->dropout > 0 ? w.In : below.Hs + BH;
        }
        /* The window's weight gradients in one GEMM each. */
        if (dropped) {
            /* d(W_hh * M) / dW_hh = M: the gradient of the dropped weights, masked. */
            const float *mk = wd.mask + l * G4 * H;
            float *gw = g->w_hh[l];
            lm_gemm_train(true, false, G4, H, T * B, 1.0f, s.dG, G4, w.Hs, H, 0.0f, wd.tmp,
                          H);
            for (size_t k = 0; k < G4 * H; k++)
                gw[k] += wd.tmp[k] * mk[k];
        } else
            lm_gemm_train(true, false, G4, H, T * B, 1.0f, s.dG, G4, w.Hs, H, 1.0f, g->w_hh[l],
                          H);
        lm_gemm_train(true, false, G4, I, T * B, 1.0f, s.dG, G4, in, I, 1.0f, g->w_ih[l], I);
        for (size_t r = 0; r < T * B; r++) {
            const float *dg = s.dG + r * G4;
            float *bi = g->b_ih[l], *bh = g->b_hh[l];
#pragma omp simd
            for (size_t k = 0; k < G4; k++) {
                bi[k] += dg[k];
                bh[k] += dg[k];
            }
        }
        if (l > 0) {
            lm_gemm_train(false, false, T * B, H, G4, 1.0f, s.dG, G4, p->w_ih[l], H, 0.0f,
                          s.dIn, H);
            if (d->dropout > 0)
                lm_mul(s.dH, s.dIn, w.Mask, T * BH);
            else
                memcpy(s.dH, s.dIn, T * BH * sizeof(float));
            dHout = s.dH;
        } else if (dX) {
            lm_gemm_train(false, false, T * B, d->E, G4, 1.0f, s.dG, G4, p->w_ih[0], d->E, 0.0f,
                          dX, d->E);
        }
    }
}
