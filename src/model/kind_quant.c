/* kind_quant.c - quantized neural models (bf16 or int8 weights) behind the language-model
 * interface: made from a float32 model by lm_model_quantize, saved and loaded as their own
 * file kind (lstmlm-model(5), "Quantized models"), used for generation and evaluation only.
 *
 * Every matrix of the parameter table (embedding, head, LSTM W_ih/W_hh, RWKV and attention
 * projections, the position embedding) is stored as an lm_qmat; every vector (biases,
 * LayerNorms, RWKV decay and mix vectors) stays float32. The step of each architecture is
 * written here once more over the quantized matrix-vector product (base/qgemv.h): the float
 * code in src/nn/ runs its projections as GEMMs over float blocks, while a batch-1 step is one
 * pass over the weights that decodes them on the fly. States have the layout of the float
 * model's (the architecture's state_floats/state_reset); the kind's name ("lstm-int8") marks
 * saved states as this model's.
 *
 * Evaluation (lm_kind_score) decodes the whole model into a temporary float32 network and runs
 * the neural kind's batched windows over it: the same weights the step uses, at GEMM speed, for
 * the memory of the float model during the call. */
#include "base/fastmath.h"
#include "base/qgemv.h"
#include "lm/lm.h"
#include "model/kind.h"
#include "model/model.h"
#include "nn/attention.h"
#include "nn/nn.h"
#include "nn/rwkv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUANT_ARCH "quantized" /* the file's root "arch" attribute */
#define FORMAT_VERSION 1

typedef struct quant_model quant_model;

/* One architecture's step over quantized matrices. */
typedef struct quant_ops {
    const lm_arch *arch;
    /* Floats of scratch a one-stream step needs. */
    size_t (*ws_floats)(const lm_config *c);
    /* x (E) the token's embedding -> y (out_dim); state and pos as lm_arch.step. */
    void (*step)(const quant_model *q, float *ws, int32_t tok, const float *x, float *y,
                 float *state, size_t pos);
} quant_ops;

struct quant_model {
    lm_config cfg;
    const lm_arch *arch;
    const quant_ops *ops;
    int type;
    lm_vocab *vocab;
    lm_ptable table;
    size_t i_emb, i_head_w, i_head_b;
    size_t i_proj; /* head.proj.weight of a model tied through a projection; 0 = none */
    size_t i_tail; /* the adaptive softmax's first tail tensor (lm_net.i_tail); 0 = none */
    float **vec;  /* per tensor: float32 values of a vector, NULL for a matrix */
    lm_qmat *mat; /* per tensor: the encoded matrix (zeroed for a vector) */
    lm_history_row *hist;
    size_t n_hist;
    char name[32]; /* the kind's name: "lstm-int8" */
};

/* ---- tensors ------------------------------------------------------------------------------ */

static bool is_matrix(const lm_param *p)
{
    return p->cols > 0;
}

static int find(const quant_model *q, const char *name)
{
    for (size_t i = 0; i < q->table.n; i++)
        if (!strcmp(q->table.p[i].name, name))
            return (int)i;
    return -1;
}

static const float *vec(const quant_model *q, const char *fmt, size_t l)
{
    char name[48];
    snprintf(name, sizeof name, fmt, l);
    int i = find(q, name);
    LM_ASSERT(i >= 0 && q->vec[i]);
    return q->vec[i];
}

static const lm_qmat *mat(const quant_model *q, const char *fmt, size_t l)
{
    char name[48];
    snprintf(name, sizeof name, fmt, l);
    int i = find(q, name);
    LM_ASSERT(i >= 0 && q->mat[i].w);
    return &q->mat[i];
}

/* ---- LSTM --------------------------------------------------------------------------------
 * Per layer: g = b_ih + b_hh + W_ih x + W_hh h; i, f, o = sigmoid, g = tanh (gates i|f|g|o);
 * c = f c + i g; h = o tanh(c). State: h (L, H) then c (L, H). */

typedef struct q_lstm {
    const lm_qmat *w_ih[LM_LSTM_MAX_LAYERS], *w_hh[LM_LSTM_MAX_LAYERS];
    const float *b_ih[LM_LSTM_MAX_LAYERS], *b_hh[LM_LSTM_MAX_LAYERS];
} q_lstm;

static size_t lstm_ws(const lm_config *c)
{
    return 4 * c->hidden + 16;
}

static void lstm_step(const quant_model *q, float *ws, int32_t tok, const float *x, float *y,
                      float *state, size_t pos)
{
    (void)tok;
    (void)pos;
    size_t H = q->cfg.hidden, L = q->cfg.layers;
    float *g = ws;
    const float *cur = x;
    for (size_t l = 0; l < L; l++) {
        const float *bi = vec(q, "lstm.bias_ih_l%zu", l), *bh = vec(q, "lstm.bias_hh_l%zu", l);
        for (size_t k = 0; k < 4 * H; k++)
            g[k] = bi[k] + bh[k];
        lm_qgemv(mat(q, "lstm.weight_ih_l%zu", l), cur, g);
        float *h = state + l * H, *c = state + (L + l) * H;
        lm_qgemv(mat(q, "lstm.weight_hh_l%zu", l), h, g);
        for (size_t j = 0; j < H; j++) {
            float i = lm_sigmoidf(g[j]), f = lm_sigmoidf(g[H + j]), gv = lm_tanhf(g[2 * H + j]);
            float o = lm_sigmoidf(g[3 * H + j]);
            c[j] = f * c[j] + i * gv;
            h[j] = o * lm_tanhf(c[j]);
        }
        cur = h;
    }
    memcpy(y, cur, H * sizeof(float));
}

/* ---- RWKV-4 --------------------------------------------------------------------------------
 * The one-token form of nn/rwkv.c (names as arch_rwkv.c): h = LN0(x); per layer the time-mix
 * on LN1(h) (token shift, k, v, sigmoid(r), the WKV recurrence in its scaled form, output
 * projection) and the channel-mix on LN2(h) (token shift, squared ReLU key, value, sigmoid
 * receptance), each added to h; y = LN_out(h). State per layer: five (d) slots att_xx, aa,
 * bb, pp, ffn_xx (nn/rwkv.h). */

static size_t ffn_width(const lm_config *c)
{
    return c->ffn ? c->ffn : 4 * c->embed;
}

static size_t rwkv_ws(const lm_config *c)
{
    return 10 * c->embed + ffn_width(c) + 16;
}

static void shift(size_t d, const float *x, const float *xx, const float *mu, float *out)
{
    for (size_t j = 0; j < d; j++)
        out[j] = xx[j] + mu[j] * (x[j] - xx[j]);
}

static void rwkv_step(const quant_model *q, float *ws, int32_t tok, const float *x, float *y,
                      float *state, size_t pos)
{
    (void)tok;
    (void)pos;
    size_t d = q->cfg.embed, F = ffn_width(&q->cfg), L = q->cfg.layers;
    float *h = ws, *a = h + d, *xk = a + d, *xv = xk + d, *xr = xv + d, *k = xr + d;
    float *v = k + d, *r = v + d, *o = r + d, *kf = o + d;
    lm_layernorm_forward(1, d, x, vec(q, "blocks.0.ln0.weight", 0), vec(q, "blocks.0.ln0.bias", 0),
                         h, NULL, NULL);
    for (size_t l = 0; l < L; l++) {
        float *st = state + LM_RWKV_SLOTS * l * d;
        float *xx = st + LM_RWKV_ATT_XX * d, *aa = st + LM_RWKV_AA * d;
        float *bb = st + LM_RWKV_BB * d, *pp = st + LM_RWKV_PP * d, *fx = st + LM_RWKV_FFN_XX * d;
        /* Time-mix. */
        lm_layernorm_forward(1, d, h, vec(q, "blocks.%zu.ln1.weight", l),
                             vec(q, "blocks.%zu.ln1.bias", l), a, NULL, NULL);
        shift(d, a, xx, vec(q, "blocks.%zu.att.time_mix_k", l), xk);
        shift(d, a, xx, vec(q, "blocks.%zu.att.time_mix_v", l), xv);
        shift(d, a, xx, vec(q, "blocks.%zu.att.time_mix_r", l), xr);
        memcpy(xx, a, d * sizeof(float));
        memset(k, 0, 3 * d * sizeof(float));
        lm_qgemv(mat(q, "blocks.%zu.att.key.weight", l), xk, k);
        lm_qgemv(mat(q, "blocks.%zu.att.value.weight", l), xv, v);
        lm_qgemv(mat(q, "blocks.%zu.att.receptance.weight", l), xr, r);
        const float *decay = vec(q, "blocks.%zu.att.time_decay", l);
        const float *u = vec(q, "blocks.%zu.att.time_first", l);
        for (size_t j = 0; j < d; j++) {
            float w = -expf(decay[j]);
            float ww = u[j] + k[j], qm = pp[j] > ww ? pp[j] : ww;
            float e1 = lm_expf(pp[j] - qm), e2 = lm_expf(ww - qm);
            float wkv = (e1 * aa[j] + e2 * v[j]) / (e1 * bb[j] + e2);
            ww = pp[j] + w;
            qm = ww > k[j] ? ww : k[j];
            e1 = lm_expf(ww - qm);
            e2 = lm_expf(k[j] - qm);
            aa[j] = e1 * aa[j] + e2 * v[j];
            bb[j] = e1 * bb[j] + e2;
            pp[j] = qm;
            xv[j] = lm_sigmoidf(r[j]) * wkv; /* r * wkv, into a free buffer */
        }
        memset(o, 0, d * sizeof(float));
        lm_qgemv(mat(q, "blocks.%zu.att.output.weight", l), xv, o);
        for (size_t j = 0; j < d; j++)
            h[j] += o[j];
        /* Channel-mix. */
        lm_layernorm_forward(1, d, h, vec(q, "blocks.%zu.ln2.weight", l),
                             vec(q, "blocks.%zu.ln2.bias", l), a, NULL, NULL);
        shift(d, a, fx, vec(q, "blocks.%zu.ffn.time_mix_k", l), xk);
        shift(d, a, fx, vec(q, "blocks.%zu.ffn.time_mix_r", l), xr);
        memcpy(fx, a, d * sizeof(float));
        memset(kf, 0, F * sizeof(float));
        lm_qgemv(mat(q, "blocks.%zu.ffn.key.weight", l), xk, kf);
        for (size_t j = 0; j < F; j++) {
            float t = kf[j] > 0.0f ? kf[j] : 0.0f;
            kf[j] = t * t;
        }
        memset(v, 0, 2 * d * sizeof(float));
        lm_qgemv(mat(q, "blocks.%zu.ffn.value.weight", l), kf, v);
        lm_qgemv(mat(q, "blocks.%zu.ffn.receptance.weight", l), xr, r);
        for (size_t j = 0; j < d; j++)
            h[j] += lm_sigmoidf(r[j]) * v[j];
    }
    lm_layernorm_forward(1, d, h, vec(q, "ln_out.weight", 0), vec(q, "ln_out.bias", 0), y, NULL,
                         NULL);
}

/* ---- transformer ---------------------------------------------------------------------------
 * The one-token form of nn/attention.c's lm_attn_step, with the cache of arch_transformer.c:
 * state[0 .. C) the token ids of the cached slots, then per slot and layer the key and the
 * value (D each). A full cache keeps its last K = C/2 tokens, re-encoded at positions 0..K-1
 * in one pass over the K tokens (tf_rows: each product reads its weights once for all K, as
 * the float model's window forward does), so every prediction is that of a window over the
 * cached tokens. */

/* tf_rows's scratch for K rows: X, A, ATT (K D each), QKV (K 3D), U (K F), the scores (H C). */
static size_t tf_rows_ws(const lm_config *c, size_t K)
{
    return K * (6 * c->embed + ffn_width(c)) + c->heads * c->context + 64;
}

/* bias (n) copied into each of the K rows of Y (K, n). */
static void rows_bias(float *Y, size_t K, const float *bias, size_t n)
{
    for (size_t i = 0; i < K; i++)
        memcpy(Y + i * n, bias, n * sizeof(float));
}

/* Feeds K tokens at positions n0..n0+K-1, their embeddings in the first K D floats of ws (the
 * rows X): row i reads cache slots 0..n0+i-1 and writes slot n0+i, and X ends as the blocks'
 * output. Each product takes all K rows at once (lm_qgemm), so a re-encode reads its weights
 * once; one row is one batch-1 step (lm_qgemm of one row is lm_qgemv). */
static void tf_rows(const quant_model *q, float *ws, size_t K, size_t n0, float *cache)
{
    size_t D = q->cfg.embed, F = ffn_width(&q->cfg), L = q->cfg.layers, H = q->cfg.heads;
    size_t S = 2 * L * D;
    float *x = ws, *a = x + K * D, *att = a + K * D, *qkv = att + K * D, *u = qkv + K * 3 * D;
    float *sc = u + K * F;
    for (size_t i = 0; i < K; i++) {
        lm_qmat_row(mat(q, "pos_embedding.weight", 0), n0 + i, a);
        for (size_t j = 0; j < D; j++)
            x[i * D + j] += a[j];
    }
    for (size_t l = 0; l < L; l++) {
        lm_layernorm_forward(K, D, x, vec(q, "blocks.%zu.ln1.weight", l),
                             vec(q, "blocks.%zu.ln1.bias", l), a, NULL, NULL);
        rows_bias(qkv, K, vec(q, "blocks.%zu.attn.qkv.bias", l), 3 * D);
        lm_qgemm(mat(q, "blocks.%zu.attn.qkv.weight", l), K, a, qkv);
        float *kv = cache + l * 2 * D;
        for (size_t i = 0; i < K; i++)
            memcpy(kv + (n0 + i) * S, qkv + i * 3 * D + D, 2 * D * sizeof(float));
        for (size_t i = 0; i < K; i++)
            lm_attn_cached(D, H, S, n0 + i, qkv + i * 3 * D, kv, sc, att + i * D);
        rows_bias(a, K, vec(q, "blocks.%zu.attn.proj.bias", l), D);
        lm_qgemm(mat(q, "blocks.%zu.attn.proj.weight", l), K, att, a);
        for (size_t j = 0; j < K * D; j++)
            x[j] += a[j];
        lm_layernorm_forward(K, D, x, vec(q, "blocks.%zu.ln2.weight", l),
                             vec(q, "blocks.%zu.ln2.bias", l), a, NULL, NULL);
        rows_bias(u, K, vec(q, "blocks.%zu.mlp.fc.bias", l), F);
        lm_qgemm(mat(q, "blocks.%zu.mlp.fc.weight", l), K, a, u);
        lm_gelu_forward(K * F, u, u);
        rows_bias(a, K, vec(q, "blocks.%zu.mlp.proj.bias", l), D);
        lm_qgemm(mat(q, "blocks.%zu.mlp.proj.weight", l), K, u, a);
        for (size_t j = 0; j < K * D; j++)
            x[j] += a[j];
    }
}

static void tf_step(const quant_model *q, float *ws, int32_t token, const float *x, float *y,
                    float *state, size_t pos)
{
    size_t C = q->cfg.context, K = C / 2, D = q->cfg.embed;
    size_t n = pos <= C ? pos : K + 1 + (pos - C - 1) % (C - K);
    float *tok = state, *cache = state + C;
    if (n == C) {
        memmove(tok, tok + C - K, K * sizeof(float));
        for (size_t i = 0; i < K; i++)
            lm_qmat_row(&q->mat[q->i_emb], (size_t)tok[i], ws + i * D);
        tf_rows(q, ws, K, 0, cache);
        n = K;
    }
    tok[n] = (float)token;
    memcpy(ws, x, D * sizeof(float));
    tf_rows(q, ws, 1, n, cache);
    lm_layernorm_forward(1, D, ws, vec(q, "ln_f.weight", 0), vec(q, "ln_f.bias", 0), y, NULL,
                         NULL);
}

static size_t tf_ws_all(const lm_config *c)
{
    return tf_rows_ws(c, c->context / 2 > 1 ? c->context / 2 : 1);
}

static const quant_ops ops_table[] = {
    {&lm_arch_lstm, lstm_ws, lstm_step},
    {&lm_arch_rwkv, rwkv_ws, rwkv_step},
    {&lm_arch_transformer, tf_ws_all, tf_step},
};

static const quant_ops *ops_for(const lm_arch *a)
{
    for (size_t i = 0; i < sizeof ops_table / sizeof ops_table[0]; i++)
        if (ops_table[i].arch == a)
            return &ops_table[i];
    return NULL;
}

/* ---- the model object ------------------------------------------------------------------- */

static void qm_free(void *impl)
{
    quant_model *q = impl;
    if (!q)
        return;
    for (size_t i = 0; q->vec && i < q->table.n; i++) {
        lm_free(q->vec[i]);
        lm_qmat_free(&q->mat[i]);
    }
    free(q->vec);
    free(q->mat);
    free(q->table.p);
    lm_vocab_free(q->vocab);
    free(q->hist);
    free(q);
}

/* The parameter table of the configuration, built as model.c builds a float model's:
 * embedding.weight, the architecture's body, the head (lm_head_layout: head.proj.weight when
 * tied through a projection, head.weight unless tied, head.bias, the adaptive softmax's
 * tails); and the storage of every tensor (vectors float32, matrices of the type). */
static int qm_alloc(const lm_config *c, int type, lm_vocab *vocab, quant_model **out, lm_error *err)
{
    quant_model *q = calloc(1, sizeof *q);
    if (!q) {
        lm_vocab_free(vocab);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    q->cfg = *c;
    q->vocab = vocab;
    q->type = type;
    q->arch = lm_arch_find(c->arch);
    q->ops = q->arch ? ops_for(q->arch) : NULL;
    if (!q->ops) {
        qm_free(q);
        return lm_fail(err, LM_EINVAL, "no quantized step for the %s architecture", c->arch);
    }
    snprintf(q->name, sizeof q->name, "%s-%s", c->arch, lm_qtype_name(type));
    size_t V = c->vocab, O = q->arch->out_dim(c);
    int i = lm_ptable_add(&q->table, "embedding.weight", V, c->embed);
    if (i < 0 || q->arch->layout(c, &q->table) < 0)
        goto oom;
    q->i_emb = (size_t)i;
    lm_head_idx hd;
    if (lm_head_layout(c, O, q->i_emb, &q->table, &hd))
        goto oom;
    q->i_proj = hd.proj;
    q->i_head_w = hd.w;
    q->i_head_b = hd.b;
    q->i_tail = hd.tail;
    q->vec = calloc(q->table.n, sizeof *q->vec);
    q->mat = calloc(q->table.n, sizeof *q->mat);
    if (!q->vec || !q->mat)
        goto oom;
    for (size_t k = 0; k < q->table.n; k++) {
        const lm_param *p = &q->table.p[k];
        if (is_matrix(p)) {
            if (lm_qmat_alloc(&q->mat[k], type, p->rows, p->cols))
                goto oom;
        } else if (!(q->vec[k] = lm_alloc_floats(p->rows ? p->rows : 1)))
            goto oom;
    }
    *out = q;
    return LM_OK;
oom:
    qm_free(q);
    return lm_fail(err, LM_ENOMEM, "out of memory for a quantized model");
}

static size_t weight_bytes(const quant_model *q)
{
    size_t b = 0;
    for (size_t k = 0; k < q->table.n; k++)
        b += is_matrix(&q->table.p[k]) ? lm_qmat_bytes(&q->mat[k])
                                       : q->table.p[k].rows * sizeof(float);
    return b;
}

int lm_model_quantize(const lm_model *m, const char *type_name, lm_model **out, lm_error *err)
{
    int type = lm_qtype_parse(type_name);
    if (type < 0)
        return lm_fail(err, LM_EINVAL, "quantization type '%s' (expected bf16, int8 or f32)",
                       type_name);
    lm_net *n = lm_model_net(m);
    if (!n)
        return lm_fail(err, LM_EINVAL,
                       "a %s model cannot be quantized (only float32 neural "
                       "models)",
                       lm_model_kind(m));
    /* The vocabulary is copied through its tokens and counts. */
    lm_vocab *v;
    int rc = lm_vocab_create(&v, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < lm_vocab_size(n->vocab); i++) {
        const char *t = lm_vocab_token(n->vocab, (int32_t)i);
        int32_t id = lm_vocab_add(v, t, strlen(t), 0);
        if (id != (int32_t)i) {
            lm_vocab_free(v);
            return lm_fail(err, LM_ENOMEM, "out of memory copying the vocabulary");
        }
        lm_vocab_set_count(v, id, lm_vocab_count(n->vocab, (int32_t)i));
    }
    quant_model *q;
    if ((rc = qm_alloc(&n->cfg, type, v, &q, err)))
        return rc;
    LM_ASSERT(q->table.n == n->table.n);
    for (size_t k = 0; k < q->table.n; k++) {
        const lm_param *p = &q->table.p[k], *s = &n->table.p[k];
        LM_ASSERT(!strcmp(p->name, s->name) && p->rows == s->rows && p->cols == s->cols);
        const float *src = lm_tensor(n, n->params, k);
        if (is_matrix(p)) {
            lm_qmat_quantize(&q->mat[k], src);
            lm_qmat_pack(&q->mat[k]);
        }
        else
            memcpy(q->vec[k], src, p->rows * sizeof(float));
    }
    if (n->n_hist) {
        if (!(q->hist = malloc(n->n_hist * sizeof *q->hist))) {
            qm_free(q);
            return lm_fail(err, LM_ENOMEM, "out of memory");
        }
        memcpy(q->hist, n->hist, n->n_hist * sizeof *q->hist);
        q->n_hist = n->n_hist;
    }
    return lm_model_wrap(&lm_kind_quant, q, out, err);
}

/* ---- the file ---------------------------------------------------------------------------- */

static int qm_write(const quant_model *q, lm_h5 *h, lm_error *err)
{
    const lm_config *c = &q->cfg;
    int rc;
    if ((rc = lm_file_write_head(h, QUANT_ARCH, c, q->vocab, FORMAT_VERSION, err)) ||
        (rc = lm_h5_attr_set_str(h, "/quant", "arch", c->arch, err)) ||
        (rc = lm_h5_attr_set_str(h, "/quant", "type", lm_qtype_name(q->type), err)) ||
        (rc = lm_h5_attr_set_u64(h, "/quant", "block", LM_Q8_BLOCK, err)))
        return rc;
    for (size_t k = 0; k < q->table.n; k++) {
        const lm_param *p = &q->table.p[k];
        char path[128];
        snprintf(path, sizeof path, "/params/%s", p->name);
        if (!is_matrix(p)) {
            size_t dv[1] = {p->rows};
            rc = lm_h5_write(h, path, LM_H5_F32, q->vec[k], 1, dv, err);
        } else {
            const lm_qmat *w = &q->mat[k];
            size_t dm[2] = {p->rows, p->cols};
            int t = w->type == LM_QT_F32 ? LM_H5_F32 : w->type == LM_QT_BF16 ? LM_H5_U16 : LM_H5_I8;
            rc = lm_h5_write(h, path, t, w->w, 2, dm, err);
            if (!rc && w->type == LM_QT_Q8) {
                size_t ds[2] = {p->rows, lm_qmat_blocks(p->cols)};
                snprintf(path, sizeof path, "/scales/%s", p->name);
                rc = lm_h5_write(h, path, LM_H5_U16, w->scale, 2, ds, err);
            }
        }
        if (rc)
            return rc;
    }
    return lm_history_write(h, q->hist, q->n_hist, err);
}

static int qm_save(const void *impl, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_create(path, &h, err);
    if (rc)
        return rc;
    if ((rc = qm_write(impl, h, err))) {
        lm_h5_close(h);
        return rc;
    }
    return lm_h5_commit(h, err);
}

/* Checks that the half-precision scales are finite and not negative (a damaged file). */
static int check_tensor(lm_h5 *h, const quant_model *q, size_t k, lm_error *err)
{
    const lm_param *p = &q->table.p[k];
    if (!is_matrix(p)) {
        for (size_t j = 0; j < p->rows; j++)
            if (!isfinite(q->vec[k][j]))
                goto bad;
        return LM_OK;
    }
    const lm_qmat *w = &q->mat[k];
    size_t n = p->rows * p->cols;
    if (w->type == LM_QT_F32) {
        for (size_t j = 0; j < n; j++)
            if (!isfinite(((const float *)w->w)[j]))
                goto bad;
    } else if (w->type == LM_QT_BF16) {
        for (size_t j = 0; j < n; j++)
            if ((((const uint16_t *)w->w)[j] & 0x7f80u) == 0x7f80u)
                goto bad;
    } else {
        for (size_t j = 0; j < n; j++)
            if (((const int8_t *)w->w)[j] == -128)
                goto bad;
        for (size_t j = 0; j < p->rows * lm_qmat_blocks(p->cols); j++)
            if ((w->scale[j] & 0x8000u) || (w->scale[j] & 0x7c00u) == 0x7c00u)
                goto bad;
    }
    return LM_OK;
bad:
    return lm_fail(err, LM_EFORMAT, "%s: /params/%s holds a value outside its encoding",
                   lm_h5_path(h), p->name);
}

static int qm_read(lm_h5 *h, quant_model **out, lm_error *err)
{
    const char *path = lm_h5_path(h);
    lm_config c;
    lm_config_init(&c);
    char arch[32], type_name[16];
    uint64_t block;
    int rc;
    if ((rc = lm_h5_attr_str(h, "/quant", "arch", arch, sizeof arch, err)) ||
        (rc = lm_h5_attr_str(h, "/quant", "type", type_name, sizeof type_name, err)) ||
        (rc = lm_h5_attr_u64(h, "/quant", "block", &block, err)))
        return rc;
    int type = lm_qtype_parse(type_name);
    if (type < 0)
        return lm_fail(err, LM_EFORMAT,
                       "%s: /quant/type '%s' is not one this program knows "
                       "(bf16, int8, f32)",
                       path, type_name);
    if (block != LM_Q8_BLOCK)
        return lm_fail(err, LM_EFORMAT, "%s: /quant/block %llu is not supported (only %d)", path,
                       (unsigned long long)block, LM_Q8_BLOCK);
    if (!lm_arch_find(arch))
        return lm_fail(err, LM_EFORMAT, "%s: architecture '%s' is not one this program knows", path,
                       arch);
    snprintf(c.arch, sizeof c.arch, "%.15s", arch);
    if ((rc = lm_file_read_config(h, &c, err)))
        return rc;
    lm_vocab *v;
    if ((rc = lm_vocab_read(h, c.vocab, &v, err)))
        return rc;
    quant_model *q;
    if ((rc = qm_alloc(&c, type, v, &q, err)))
        return rc == LM_EINVAL ? LM_EFORMAT : rc;
    for (size_t k = 0; k < q->table.n && !rc; k++) {
        const lm_param *p = &q->table.p[k];
        char name[128];
        snprintf(name, sizeof name, "/params/%s", p->name);
        if (!is_matrix(p)) {
            size_t dv[1] = {p->rows};
            rc = lm_h5_read(h, name, LM_H5_F32, q->vec[k], 1, dv, err);
        } else {
            lm_qmat *w = &q->mat[k];
            size_t dm[2] = {p->rows, p->cols};
            int t = type == LM_QT_F32 ? LM_H5_F32 : type == LM_QT_BF16 ? LM_H5_U16 : LM_H5_I8;
            rc = lm_h5_read(h, name, t, w->w, 2, dm, err);
            if (!rc && type == LM_QT_Q8) {
                size_t ds[2] = {p->rows, lm_qmat_blocks(p->cols)};
                snprintf(name, sizeof name, "/scales/%s", p->name);
                rc = lm_h5_read(h, name, LM_H5_U16, w->scale, 2, ds, err);
            }
        }
        if (!rc)
            rc = check_tensor(h, q, k, err);
        if (!rc && is_matrix(p))
            lm_qmat_pack(&q->mat[k]);
    }
    if (!rc)
        rc = lm_history_read(h, &q->hist, &q->n_hist, err);
    if (rc) {
        qm_free(q);
        return rc;
    }
    *out = q;
    return LM_OK;
}

static int qm_load(const char *path, const char *arch, void **impl, lm_error *err)
{
    if (!arch || strcmp(arch, QUANT_ARCH))
        return 1;
    lm_h5 *h;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    quant_model *q = NULL;
    rc = qm_read(h, &q, err);
    lm_h5_close(h);
    if (!rc)
        *impl = q;
    return rc;
}

/* ---- the interface ----------------------------------------------------------------------- */

static const char *qm_name(const void *impl)
{
    return ((const quant_model *)impl)->name;
}

static const lm_vocab *qm_vocab(const void *impl)
{
    return ((const quant_model *)impl)->vocab;
}

static void qm_text_opts(const void *impl, lm_text_opts *t)
{
    const quant_model *q = impl;
    t->tokenize = q->cfg.tokenize;
    t->lowercase = q->cfg.lowercase;
}

static size_t qm_describe(const void *impl, char *buf, size_t cap)
{
    const quant_model *q = impl;
    size_t n = lm_config_describe(&q->cfg, buf, cap);
    return n + (size_t)snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, ", %s weights",
                                lm_qtype_name(q->type));
}

static void qm_facts(const void *impl, lm_fact_fn fn, void *ud)
{
    const quant_model *q = impl;
    const lm_config *c = &q->cfg;
    char v[96];
    fn(ud, "arch", q->arch->name);
    snprintf(v, sizeof v, "%s matrices, float32 vectors%s", lm_qtype_name(q->type),
             q->type == LM_QT_Q8 ? " (blocks of 32 weights with a float16 scale)" : "");
    fn(ud, "quantized", v);
    snprintf(v, sizeof v, "%zu", c->layers);
    fn(ud, "layers", v);
    snprintf(v, sizeof v, "%zu", c->embed);
    fn(ud, "embed", v);
    if (q->arch->facts)
        q->arch->facts(c, fn, ud);
    fn(ud, "tied", c->tied ? "yes" : "no");
    lm_config_head_facts(c, fn, ud);
    size_t b = weight_bytes(q);
    snprintf(v, sizeof v, "%zu (%.1f MiB as stored, %.1f MiB as float32)", q->table.count,
             b / 1048576.0, q->table.count * 4.0 / 1048576.0);
    fn(ud, "parameters", v);
    snprintf(v, sizeof v, "%s", lm_qgemv_kernel_name());
    fn(ud, "kernel", v);
}

static size_t qm_n_params(const void *impl)
{
    return ((const quant_model *)impl)->table.count;
}

static size_t qm_context(const void *impl)
{
    const quant_model *q = impl;
    return q->arch->window ? q->arch->window(&q->cfg) : 0;
}

static const lm_config *qm_config(const void *impl)
{
    return &((const quant_model *)impl)->cfg;
}

static size_t qm_history(const void *impl, const lm_history_row **rows)
{
    const quant_model *q = impl;
    *rows = q->hist;
    return q->n_hist;
}

/* ---- state and step ---------------------------------------------------------------------- */

typedef struct quant_state {
    float *buf;
    size_t cap;
    float *ws, *x, *y;
    float *head; /* adaptive softmax: the head's logits and a tail projection */
} quant_state;

static void qs_free(void *st)
{
    quant_state *s = st;
    if (!s)
        return;
    lm_free(s->buf);
    lm_free(s->ws);
    free(s);
}

static void qs_reset(const void *impl, void *st)
{
    const quant_model *q = impl;
    q->arch->state_reset(&q->cfg, ((quant_state *)st)->buf, 1);
}

static int qs_new(const void *impl, void **out, lm_error *err)
{
    const quant_model *q = impl;
    quant_state *s = calloc(1, sizeof *s);
    if (!s)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    size_t E = q->cfg.embed, O = q->arch->out_dim(&q->cfg), W = q->ops->ws_floats(&q->cfg);
    size_t hf = 0;
    if (q->cfg.softmax == LM_SOFTMAX_ADAPTIVE) {
        lm_adaptive a;
        lm_head_adaptive(&q->cfg, O, &a);
        hf = lm_adaptive_row_floats(&a);
    }
    s->cap = q->arch->state_floats(&q->cfg, 1, 0);
    s->buf = lm_alloc_floats(s->cap ? s->cap : 1);
    s->ws = lm_alloc_floats(W + E + O + hf + 48);
    if (!s->buf || !s->ws) {
        qs_free(s);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    s->x = s->ws + W + 16;
    s->y = s->x + E + 16;
    s->head = s->y + O + 16;
    qs_reset(q, s);
    *out = s;
    return LM_OK;
}

static int qs_copy(const void *impl, void *dst, const void *src, size_t pos, lm_error *err)
{
    const quant_model *q = impl;
    quant_state *d = dst;
    return lm_sbuf_copy(&d->buf, &d->cap, ((const quant_state *)src)->buf, q->arch, &q->cfg,
                        pos, err);
}

static size_t qs_bytes(const void *impl, const void *st, size_t pos)
{
    const quant_model *q = impl;
    (void)st;
    return lm_sbuf_bytes(q->arch, &q->cfg, pos);
}

static int qs_write(const void *impl, const void *st, size_t pos, lm_h5 *h, const char *group,
                    lm_error *err)
{
    const quant_model *q = impl;
    return lm_sbuf_write(((const quant_state *)st)->buf, q->arch, &q->cfg, pos, h, group, err);
}

static int qs_read(const void *impl, void *st, size_t pos, lm_h5 *h, const char *group,
                   lm_error *err)
{
    const quant_model *q = impl;
    quant_state *s = st;
    return lm_sbuf_read(&s->buf, &s->cap, q->arch, &q->cfg, pos, h, group, err);
}

/* The adaptive softmax of h (the head input) over quantized matrices: the head's logits into
 * scratch, each cluster's through its projection into logp, then normalised as the float
 * model's (nn/adaptive.c). */
static void adaptive_logprobs(const quant_model *q, const float *h, float *scratch, float *logp)
{
    lm_adaptive a;
    lm_head_adaptive(&q->cfg, q->arch->out_dim(&q->cfg), &a);
    size_t H = a.cut[0] + a.K;
    float *z = scratch, *p = scratch + H;
    memcpy(z, q->vec[q->i_head_b], H * sizeof(float));
    lm_qgemv(&q->mat[q->i_head_w], h, z);
    for (size_t k = 0; k < a.K; k++) {
        memset(p, 0, a.dim[k] * sizeof(float));
        lm_qgemv(&q->mat[q->i_tail + 2 * k], h, p);
        memset(logp + a.cut[k], 0, (a.cut[k + 1] - a.cut[k]) * sizeof(float));
        lm_qgemv(&q->mat[q->i_tail + 2 * k + 1], p, logp + a.cut[k]);
    }
    lm_adaptive_normalize(&a, z, logp);
}

static int qm_step(const void *impl, void *st, size_t pos, int32_t tok, float *logp, lm_error *err)
{
    const quant_model *q = impl;
    quant_state *s = st;
    int rc = lm_sbuf_reserve(&s->buf, &s->cap, q->arch, &q->cfg, pos + 1, err);
    if (rc)
        return rc;
    lm_qmat_row(&q->mat[q->i_emb], (size_t)tok, s->x);
    q->ops->step(q, s->ws, tok, s->x, s->y, s->buf, pos);
    if (logp) {
        size_t V = q->cfg.vocab;
        const float *h = s->y;
        if (q->i_proj) {
            /* The input x is spent: it holds the projection (E) of the output (O). */
            memset(s->x, 0, q->cfg.embed * sizeof(float));
            lm_qgemv(&q->mat[q->i_proj], s->y, s->x);
            h = s->x;
        }
        if (q->cfg.softmax == LM_SOFTMAX_ADAPTIVE) {
            adaptive_logprobs(q, h, s->head, logp);
            return LM_OK;
        }
        memcpy(logp, q->vec[q->i_head_b], V * sizeof(float));
        lm_qgemv(&q->mat[q->i_head_w], h, logp);
        lm_log_softmax(logp, V, logp);
    }
    return LM_OK;
}

/* Batched scoring over the decoded weights: a float32 network that borrows the configuration,
 * vocabulary and table, for the one call. */
static int qm_score(const void *impl, const int32_t *ids, size_t T, size_t B, size_t bptt,
                    size_t from, float *lp, lm_error *err)
{
    const quant_model *q = impl;
    lm_net n;
    memset(&n, 0, sizeof n);
    n.cfg = q->cfg;
    n.arch = q->arch;
    n.vocab = q->vocab;
    n.table = q->table;
    n.i_emb = q->i_emb;
    n.i_head_w = q->i_head_w;
    n.i_head_b = q->i_head_b;
    n.i_proj = q->i_proj;
    n.i_tail = q->i_tail;
    n.body_first = q->i_emb + 1;
    if (!(n.params = lm_alloc_floats(q->table.total)))
        return lm_fail(err, LM_ENOMEM, "out of memory for decoding a model of %zu parameters",
                       q->table.count);
    for (size_t k = 0; k < q->table.n; k++) {
        const lm_param *p = &q->table.p[k];
        if (is_matrix(p))
            lm_qmat_dequantize(&q->mat[k], n.params + p->offset);
        else
            memcpy(n.params + p->offset, q->vec[k], p->rows * sizeof(float));
    }
    int rc = lm_kind_neural.score(&n, ids, T, B, bptt, from, lp, err);
    lm_free(n.params);
    return rc;
}

const lm_kind lm_kind_quant = {
    .load = qm_load,
    .free = qm_free,
    .save = qm_save,
    .name = qm_name,
    .vocab = qm_vocab,
    .text_opts = qm_text_opts,
    .describe = qm_describe,
    .facts = qm_facts,
    .n_params = qm_n_params,
    .context = qm_context,
    .config = qm_config,
    .history = qm_history,
    .state_new = qs_new,
    .state_free = qs_free,
    .state_reset = qs_reset,
    .state_copy = qs_copy,
    .state_bytes = qs_bytes,
    .state_write = qs_write,
    .state_read = qs_read,
    .step = qm_step,
    .score = qm_score,
};
