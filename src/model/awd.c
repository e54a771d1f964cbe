/* awd.c - the AWD-LSTM regularisers that sit around the body (Merity et al. 2017, "Regularizing
 * and Optimizing LSTM Language Models"): their settings and file attributes, locked dropout
 * masks, embedding (word) dropout and activation / temporal activation regularisation. The
 * window (model.c) applies them; weight drop and locked dropout between layers live in the
 * bodies (nn/lstm.c, nn/rwkv.c), since only a body sees its weights and layers. */
#include "lm/lm.h"
#include "model/model.h"

#include <stdio.h>
#include <string.h>

/* The settings in file order: name, field, the lm_arch.regs bit needed (0 = any body). */
typedef struct reg_field {
    const char *name, *what;
    size_t offset;
    unsigned need;
    int rate; /* a probability in [0, 1); else a weight in [0, 1000] */
} reg_field;

static const reg_field fields[] = {
    {"dropout_embed", "embedding dropout", offsetof(lm_config, dropout_embed), 0, 1},
    {"dropout_input", "locked input dropout", offsetof(lm_config, dropout_input), 0, 1},
    {"dropout_hidden", "locked dropout between layers", offsetof(lm_config, dropout_hidden),
     LM_REG_HIDDEN, 1},
    {"dropout_output", "locked output dropout", offsetof(lm_config, dropout_output), 0, 1},
    {"weight_drop", "weight drop (DropConnect)", offsetof(lm_config, weight_drop),
     LM_REG_WEIGHT_DROP, 1},
    {"ar", "activation regularisation", offsetof(lm_config, ar), 0, 0},
    {"tar", "temporal activation regularisation", offsetof(lm_config, tar), LM_REG_TAR, 0},
};
#define N_FIELDS (sizeof fields / sizeof fields[0])

static float *field(lm_config *c, size_t i)
{
    return (float *)(void *)((char *)c + fields[i].offset);
}

static float get(const lm_config *c, size_t i)
{
    return *(const float *)(const void *)((const char *)c + fields[i].offset);
}

int lm_config_check_reg(const lm_config *c, const lm_arch *a, lm_error *err)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        float v = get(c, i);
        int rate = fields[i].rate;
        if (rate ? !(v >= 0.0f && v < 1.0f) : !(v >= 0.0f && v <= 1000.0f))
            return lm_fail(err, LM_EINVAL, "%s %g out of range %s", fields[i].name, (double)v,
                           rate ? "[0, 1)" : "[0, 1000]");
        if (v > 0 && (a->regs & fields[i].need) != fields[i].need)
            return lm_fail(err, LM_EINVAL, "%s (%s) does not apply to %s", fields[i].what,
                           fields[i].name, a->name);
    }
    return LM_OK;
}

int lm_config_write_reg(lm_h5 *h, const lm_config *c, lm_error *err)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        int rc = lm_h5_attr_set_f64(h, "/config", fields[i].name, get(c, i), err);
        if (rc)
            return rc;
    }
    return LM_OK;
}

int lm_config_read_reg(lm_h5 *h, lm_config *c, lm_error *err)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        double v = 0;
        if (lm_h5_has_attr(h, "/config", fields[i].name)) {
            int rc = lm_h5_attr_f64(h, "/config", fields[i].name, &v, err);
            if (rc)
                return rc;
        }
        *field(c, i) = (float)v;
    }
    return LM_OK;
}

void lm_config_reg_facts(const lm_config *c, lm_fact_fn fn, void *ud)
{
    for (size_t i = 0; i < N_FIELDS; i++)
        if (get(c, i) > 0) {
            char v[32];
            snprintf(v, sizeof v, "%g", (double)get(c, i));
            fn(ud, fields[i].name, v);
        }
}

int lm_model_set_regularization(lm_model *model, const lm_config *cfg, lm_error *err)
{
    lm_net *m = lm_model_net(model);
    if (!m)
        return lm_fail(err, LM_EINVAL, "a %s model has no training settings", lm_model_kind(model));
    lm_config c = m->cfg;
    c.dropout = cfg->dropout;
    c.precision = cfg->precision;
    for (size_t i = 0; i < N_FIELDS; i++)
        *field(&c, i) = get(cfg, i);
    int rc = lm_config_check(&c, err);
    if (!rc)
        m->cfg = c;
    return rc;
}

float lm_embed_keep(uint64_t key, int32_t id, float p)
{
    /* splitmix64 of (key, id): an independent uniform per word without a (V) mask. */
    uint64_t z = key + 0x9e3779b97f4a7c15ull * ((uint64_t)(uint32_t)id + 1);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    double u = (double)(z >> 11) * (1.0 / 9007199254740992.0);
    return u >= p ? 1.0f / (1.0f - p) : 0.0f;
}

double lm_ar(const lm_config *c, size_t T, size_t B, size_t O, const float *h, float scale,
             float *dh)
{
    double s = 0;
    float k = scale * 2.0f * c->ar / (float)O;
    for (size_t i = 0; i < T * B * O; i++) {
        s += (double)h[i] * h[i];
        if (dh)
            dh[i] += k * h[i];
    }
    return c->ar * s / (double)O;
}

double lm_tar(const lm_config *c, size_t T, size_t B, size_t O, const float *h, float scale,
              float *dh)
{
    double s = 0;
    size_t BO = B * O;
    float k = scale * 2.0f * c->tar / (float)O;
    for (size_t t = 1; t < T; t++) {
        const float *a = h + t * BO, *b = a - BO;
        for (size_t i = 0; i < BO; i++) {
            float df = a[i] - b[i];
            s += (double)df * df;
            if (dh) {
                dh[t * BO + i] += k * df;
                dh[(t - 1) * BO + i] -= k * df;
            }
        }
    }
    return c->tar * s / (double)O;
}
