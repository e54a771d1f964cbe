/* model_file.c - the HDF5 model file, format version 2 (see lstmlm-model(5)). */
#include "model/model.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Version 2: the vocabulary as a byte blob and offsets (version 1: variable-length strings,
 * still read). */
#define FORMAT_VERSION 2

static const char *const hist_columns = "epoch,tokens,train_loss,valid_ppl,lr,tokens_per_s,seconds";

int lm_block_write(const lm_net *m, lm_h5 *h, const char *group, const float *block,
                   lm_error *err)
{
    for (size_t i = 0; i < m->table.n; i++) {
        const lm_param *p = &m->table.p[i];
        char path[128];
        snprintf(path, sizeof path, "%s/%s", group, p->name);
        size_t dims[2] = {p->rows, p->cols};
        int rc = lm_h5_write(h, path, LM_H5_F32, block + p->offset, p->cols ? 2 : 1, dims, err);
        if (rc)
            return rc;
    }
    return LM_OK;
}

int lm_block_read(const lm_net *m, lm_h5 *h, const char *group, float *block, lm_error *err)
{
    for (size_t i = 0; i < m->table.n; i++) {
        const lm_param *p = &m->table.p[i];
        char path[128];
        snprintf(path, sizeof path, "%s/%s", group, p->name);
        size_t dims[2] = {p->rows, p->cols};
        int rc = lm_h5_read(h, path, LM_H5_F32, block + p->offset, p->cols ? 2 : 1, dims, err);
        if (rc)
            return rc;
        const float *x = block + p->offset;
        for (size_t j = 0; j < lm_param_size(p); j++)
            if (!isfinite(x[j]))
                return lm_fail(err, LM_EFORMAT, "%s: %s/%s holds a non-finite value",
                               lm_h5_path(h), group, p->name);
    }
    return LM_OK;
}

/* Longest token a vocabulary file may hold (the tokenizer cuts tokens at 1024 bytes). */
#define VOCAB_MAX_TOKEN 4096

int lm_vocab_write(lm_h5 *h, const lm_vocab *v, lm_error *err)
{
    size_t V = lm_vocab_size(v), nb = 0;
    uint64_t *offs = malloc((V + 1) * sizeof *offs);
    uint64_t *counts = malloc((V ? V : 1) * sizeof *counts);
    unsigned char *bytes = NULL;
    int rc;
    if (!offs || !counts) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    offs[0] = 0;
    for (size_t i = 0; i < V; i++) {
        nb += strlen(lm_vocab_token(v, (int32_t)i));
        offs[i + 1] = nb;
        counts[i] = lm_vocab_count(v, (int32_t)i);
    }
    if (!(bytes = malloc(nb ? nb : 1))) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < V; i++)
        memcpy(bytes + offs[i], lm_vocab_token(v, (int32_t)i), offs[i + 1] - offs[i]);
    size_t dv[1] = {V}, db[1] = {nb}, dofs[1] = {V + 1};
    if (!(rc = lm_h5_write(h, "/vocab/bytes", LM_H5_U8, bytes, 1, db, err)) &&
        !(rc = lm_h5_write(h, "/vocab/offsets", LM_H5_U64, offs, 1, dofs, err)))
        rc = lm_h5_write(h, "/vocab/counts", LM_H5_U64, counts, 1, dv, err);
out:
    free(offs);
    free(counts);
    free(bytes);
    return rc;
}

/* Format version 1: /vocab/tokens as variable-length strings, copied into one blob. */
static int vocab_read_strings(lm_h5 *h, size_t V, unsigned char **bytes, uint64_t *offs,
                              lm_error *err)
{
    char **toks = NULL;
    size_t nt = 0, nb = 0;
    int rc = lm_h5_read_strings(h, "/vocab/tokens", &toks, &nt, err);
    if (rc)
        return rc;
    if (nt != V) {
        rc = lm_fail(err, LM_EFORMAT, "%s: /vocab/tokens holds %zu tokens but vocab_size is %zu",
                     lm_h5_path(h), nt, V);
        goto out;
    }
    offs[0] = 0;
    for (size_t i = 0; i < V; i++)
        offs[i + 1] = nb += strlen(toks[i]);
    if (!(*bytes = malloc(nb ? nb : 1))) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < V; i++)
        memcpy(*bytes + offs[i], toks[i], offs[i + 1] - offs[i]);
out:
    lm_h5_free_strings(toks, nt);
    return rc;
}

int lm_vocab_read(lm_h5 *h, size_t V, lm_vocab **out, lm_error *err)
{
    const char *path = lm_h5_path(h);
    uint64_t *offs = NULL, *counts = NULL;
    unsigned char *bytes = NULL;
    lm_vocab *v = NULL;
    int rc = LM_OK;
    if (V < LM_N_SPECIAL || V > ((size_t)1 << 24))
        return lm_fail(err, LM_EFORMAT, "%s: vocabulary size %zu is out of range", path, V);
    if (!(offs = malloc((V + 1) * sizeof *offs)) || !(counts = malloc(V * sizeof *counts))) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    if (lm_h5_exists(h, "/vocab/offsets")) {
        int r;
        size_t nb[4], dofs[1] = {V + 1};
        if ((rc = lm_h5_shape(h, "/vocab/bytes", &r, nb, err)))
            goto out;
        if (r != 1 || nb[0] > (size_t)V * VOCAB_MAX_TOKEN) {
            rc = lm_fail(err, LM_EFORMAT, "%s: /vocab/bytes has an impossible shape", path);
            goto out;
        }
        if (!(bytes = malloc(nb[0] ? nb[0] : 1))) {
            rc = lm_fail(err, LM_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = lm_h5_read(h, "/vocab/bytes", LM_H5_U8, bytes, 1, nb, err)) ||
            (rc = lm_h5_read(h, "/vocab/offsets", LM_H5_U64, offs, 1, dofs, err)))
            goto out;
        /* Every token a non-empty run of the blob, in order, the last one ending it. */
        if (offs[0] != 0 || offs[V] != nb[0]) {
            rc = lm_fail(err, LM_EFORMAT, "%s: /vocab/offsets does not span /vocab/bytes", path);
            goto out;
        }
        for (size_t i = 0; i < V; i++)
            if (offs[i + 1] <= offs[i] || offs[i + 1] - offs[i] > VOCAB_MAX_TOKEN) {
                rc = lm_fail(err, LM_EFORMAT, "%s: /vocab/offsets[%zu] is out of order", path,
                             i + 1);
                goto out;
            }
        if (memchr(bytes, '\0', nb[0])) {
            rc = lm_fail(err, LM_EFORMAT, "%s: /vocab/bytes holds a NUL byte", path);
            goto out;
        }
    } else if (lm_h5_exists(h, "/vocab/tokens")) {
        if ((rc = vocab_read_strings(h, V, &bytes, offs, err)))
            goto out;
    } else {
        rc = lm_fail(err, LM_EFORMAT, "%s: missing dataset /vocab/offsets", path);
        goto out;
    }
    size_t dv[1] = {V};
    if ((rc = lm_h5_read(h, "/vocab/counts", LM_H5_U64, counts, 1, dv, err)) ||
        (rc = lm_vocab_create(&v, err)))
        goto out;
    for (size_t i = 0; i < V; i++) {
        const char *tok = (const char *)bytes + offs[i];
        size_t len = (size_t)(offs[i + 1] - offs[i]);
        int32_t id = lm_vocab_add(v, tok, len, 0);
        if (id != (int32_t)i) {
            rc = id < 0 ? lm_fail(err, LM_ENOMEM, "out of memory")
                        : lm_fail(err, LM_EFORMAT, "%s: vocabulary token %zu '%.*s' is a "
                                  "duplicate or a misplaced special token", path, i,
                                  (int)(len < 64 ? len : 64), tok);
            goto out;
        }
        lm_vocab_set_count(v, id, counts[i]);
    }
    *out = v;
    v = NULL;
out:
    lm_vocab_free(v);
    free(bytes);
    free(offs);
    free(counts);
    return rc;
}

int lm_file_write_head(lm_h5 *h, const char *arch, const lm_config *c, const lm_vocab *v,
                       uint64_t version, lm_error *err)
{
    int rc;
    char created[64];
    snprintf(created, sizeof created, "lstmlm %s", lm_version_string());
    if ((rc = lm_h5_attr_set_str(h, "/", "format", "lstmlm", err)) ||
        (rc = lm_h5_attr_set_u64(h, "/", "format_version", version, err)) ||
        (rc = lm_h5_attr_set_str(h, "/", "arch", arch, err)) ||
        (rc = lm_h5_attr_set_str(h, "/", "created_by", created, err)))
        return rc;
    struct {
        const char *name;
        uint64_t v;
    } u[] = {{"vocab_size", c->vocab}, {"embed", c->embed},         {"hidden", c->hidden},
             {"layers", c->layers},    {"ffn", c->ffn},             {"heads", c->heads},
             {"context", c->context},  {"tied", (uint64_t)c->tied}, {"lowercase", (uint64_t)c->lowercase}};
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if ((rc = lm_h5_attr_set_u64(h, "/config", u[i].name, u[i].v, err)))
            return rc;
    const char *tok = lm_tokenize_name(c->tokenize);
    if ((rc = lm_h5_attr_set_f64(h, "/config", "dropout", c->dropout, err)) ||
        (rc = lm_h5_attr_set_f64(h, "/config", "init_range", c->init_range, err)) ||
        (rc = lm_h5_attr_set_str(h, "/config", "tokenize", tok, err)) ||
        (rc = lm_h5_attr_set_str(h, "/config", "precision", lm_precision_name(c->precision),
                                 err)) ||
        (rc = lm_config_write_reg(h, c, err)) || (rc = lm_config_write_head(h, c, err)))
        return rc;
    return lm_vocab_write(h, v, err);
}

int lm_history_write(lm_h5 *h, const lm_history_row *rows, size_t n, lm_error *err)
{
    double *hist = malloc((n ? n : 1) * 7 * sizeof *hist);
    if (!hist)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        const lm_history_row *r = &rows[i];
        double row[7] = {r->epoch, (double)r->tokens, r->train_loss, r->valid_ppl,
                         r->lr,    r->tokens_per_s,   r->seconds};
        memcpy(hist + 7 * i, row, sizeof row);
    }
    size_t dh[2] = {n, 7};
    int rc = lm_h5_write(h, "/train/history", LM_H5_F64, hist, 2, dh, err);
    free(hist);
    if (!rc)
        rc = lm_h5_attr_set_str(h, "/train", "history_columns", hist_columns, err);
    return rc;
}

int lm_net_write(const lm_net *m, lm_h5 *h, lm_error *err)
{
    int rc;
    if ((rc = lm_file_write_head(h, m->cfg.arch, &m->cfg, m->vocab, FORMAT_VERSION, err)) ||
        (rc = lm_block_write(m, h, "/params", m->params, err)))
        return rc;
    return lm_history_write(h, m->hist, m->n_hist, err);
}

int lm_net_save(const lm_net *m, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_create(path, &h, err);
    if (rc)
        return rc;
    if ((rc = lm_net_write(m, h, err))) {
        lm_h5_close(h);
        return rc;
    }
    return lm_h5_commit(h, err);
}

static int read_u64(lm_h5 *h, const char *name, uint64_t max, size_t *out, lm_error *err)
{
    uint64_t v;
    int rc = lm_h5_attr_u64(h, "/config", name, &v, err);
    if (rc)
        return rc;
    if (v > max)
        return lm_fail(err, LM_EFORMAT, "%s: /config/%s = %llu is out of range", lm_h5_path(h),
                       name, (unsigned long long)v);
    *out = (size_t)v;
    return LM_OK;
}

static int check_header(lm_h5 *h, char *arch, size_t cap, lm_error *err)
{
    char fmt[32];
    uint64_t ver;
    int rc;
    if ((rc = lm_h5_attr_str(h, "/", "format", fmt, sizeof fmt, err)))
        return lm_fail(err, LM_EFORMAT, "%s: not an lstmlm model file (no format attribute)",
                       lm_h5_path(h));
    if (strcmp(fmt, "lstmlm"))
        return lm_fail(err, LM_EFORMAT, "%s: not an lstmlm model file (format '%s')",
                       lm_h5_path(h), fmt);
    if ((rc = lm_h5_attr_u64(h, "/", "format_version", &ver, err)))
        return rc;
    if (ver < 1 || ver > FORMAT_VERSION)
        return lm_fail(err, LM_EFORMAT, "%s: format version %llu is not supported (this is %d)",
                       lm_h5_path(h), (unsigned long long)ver, FORMAT_VERSION);
    return lm_h5_attr_str(h, "/", "arch", arch, cap, err);
}

int lm_h5_file_arch(const char *path, char *buf, size_t cap, lm_error *err)
{
    static const unsigned char sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
    unsigned char head[8] = {0};
    /* Only regular files: opening a FIFO would block until something writes to it. */
    struct stat st;
    if (stat(path, &st) != 0)
        return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return lm_fail(err, LM_EIO, "%s: not a regular file", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    size_t got = fread(head, 1, sizeof head, f);
    fclose(f);
    /* An HDF5 signature, or the lstmlm header (lstmlm-model(5)) in front of one. */
    if (got < sizeof head || (memcmp(head, sig, sizeof sig) && memcmp(head, "\x89LSTMLM\n", 8)))
        return 1;
    lm_h5 *h;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    rc = check_header(h, buf, cap, err);
    lm_h5_close(h);
    return rc;
}

int lm_file_read_config(lm_h5 *h, lm_config *c, lm_error *err)
{
    size_t tied = 0, lower = 0;
    double dropout, init_range;
    char tok[32];
    int rc;
    if ((rc = read_u64(h, "vocab_size", (size_t)1 << 24, &c->vocab, err)) ||
        (rc = read_u64(h, "embed", 65536, &c->embed, err)) ||
        (rc = read_u64(h, "hidden", 65536, &c->hidden, err)) ||
        (rc = read_u64(h, "layers", 64, &c->layers, err)) ||
        (rc = read_u64(h, "ffn", (size_t)1 << 20, &c->ffn, err)) ||
        (rc = read_u64(h, "heads", 1024, &c->heads, err)) ||
        (rc = read_u64(h, "context", (size_t)1 << 20, &c->context, err)) ||
        (rc = read_u64(h, "tied", 1, &tied, err)) ||
        (rc = read_u64(h, "lowercase", 1, &lower, err)) ||
        (rc = lm_h5_attr_f64(h, "/config", "dropout", &dropout, err)) ||
        (rc = lm_h5_attr_f64(h, "/config", "init_range", &init_range, err)) ||
        (rc = lm_h5_attr_str(h, "/config", "tokenize", tok, sizeof tok, err)) ||
        (rc = lm_config_read_reg(h, c, err)) || (rc = lm_config_read_head(h, c, err)))
        return rc;
    c->tied = (int)tied;
    c->lowercase = (int)lower;
    c->dropout = (float)dropout;
    c->init_range = (float)init_range;
    if ((c->tokenize = lm_tokenize_parse(tok)) < 0)
        return lm_fail(err, LM_EFORMAT, "%s: /config/tokenize '%s' is not a tokenizer this "
                       "program knows (words, whitespace, chars)", lm_h5_path(h), tok);
    /* The precision of training products; files from before it existed trained in f32. */
    c->precision = LM_PRECISION_F32;
    if (lm_h5_has_attr(h, "/config", "precision")) {
        char prec[32];
        if ((rc = lm_h5_attr_str(h, "/config", "precision", prec, sizeof prec, err)))
            return rc;
        if ((c->precision = lm_precision_parse(prec)) < 0)
            return lm_fail(err, LM_EFORMAT, "%s: /config/precision '%s' is not a precision this "
                           "program knows (f32, bf16)", lm_h5_path(h), prec);
    }
    lm_error cerr;
    if (lm_config_check(c, &cerr))
        return lm_fail(err, LM_EFORMAT, "%s: bad /config: %s", lm_h5_path(h), cerr.msg);
    return LM_OK;
}

int lm_history_read(lm_h5 *h, lm_history_row **rows, size_t *n, lm_error *err)
{
    *rows = NULL;
    *n = 0;
    if (!lm_h5_exists(h, "/train/history"))
        return LM_OK;
    int r, rc;
    size_t d[4];
    if ((rc = lm_h5_shape(h, "/train/history", &r, d, err)))
        return rc;
    if (r != 2 || d[1] != 7 || d[0] > 100000)
        return lm_fail(err, LM_EFORMAT, "%s: /train/history has the wrong shape", lm_h5_path(h));
    double *hist = malloc((d[0] ? d[0] : 1) * 7 * sizeof *hist);
    lm_history_row *out = malloc((d[0] ? d[0] : 1) * sizeof *out);
    if (!hist || !out)
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
    else if (!(rc = lm_h5_read(h, "/train/history", LM_H5_F64, hist, 2, d, err)))
        for (size_t i = 0; i < d[0]; i++) {
            const double *x = hist + 7 * i;
            out[i] = (lm_history_row){(uint32_t)x[0], (uint64_t)x[1], x[2], x[3], x[4], x[5],
                                      x[6]};
        }
    free(hist);
    if (rc) {
        free(out);
        return rc;
    }
    *rows = out;
    *n = d[0];
    return LM_OK;
}

int lm_net_read(lm_h5 *h, lm_net **out, lm_error *err)
{
    lm_config c;
    lm_config_init(&c);
    char arch[32];
    int rc = check_header(h, arch, sizeof arch, err);
    if (rc)
        return rc;
    if (!lm_arch_find(arch))
        return lm_fail(err, LM_EFORMAT, "%s: architecture '%s' is not a neural model this "
                       "program knows", lm_h5_path(h), arch);
    snprintf(c.arch, sizeof c.arch, "%.15s", arch);
    if ((rc = lm_file_read_config(h, &c, err)))
        return rc;
    lm_vocab *v = NULL;
    if ((rc = lm_vocab_read(h, c.vocab, &v, err)))
        return rc;
    lm_net *m;
    rc = lm_net_create(&c, v, &(lm_rng){1}, &m, err);
    v = NULL;
    if (rc)
        return rc;
    lm_history_row *hist = NULL;
    size_t nh = 0;
    if ((rc = lm_block_read(m, h, "/params", m->params, err)) ||
        (rc = lm_history_read(h, &hist, &nh, err))) {
        lm_net_free(m);
        return rc;
    }
    free(m->hist);
    m->hist = hist;
    m->n_hist = m->cap_hist = nh;
    *out = m;
    return LM_OK;
}

int lm_net_load(const char *path, lm_net **out, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    rc = lm_net_read(h, out, err);
    lm_h5_close(h);
    return rc;
}
