/* test_model.c - model files: bit-exact save/load, damaged files refused with one-line errors,
 * state save/load, step equals window. */
#include "harness.h"
#include "model/model.h"

#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static lm_net *tiny(size_t layers, int tied)
{
    lm_vocab *v;
    lm_vocab_create(&v, NULL);
    const char *w[] = {"hello", "world", "café", "ça", "va", "?"};
    for (int i = 0; i < 6; i++)
        lm_vocab_add(v, w[i], strlen(w[i]), (uint64_t)(10 - i));
    lm_config c;
    lm_config_init(&c);
    c.embed = 6;
    c.hidden = 6;
    c.layers = layers;
    c.tied = tied;
    lm_rng r;
    lm_rng_seed(&r, 11);
    lm_net *m;
    lm_error err;
    if (lm_net_create(&c, v, &r, &m, &err)) {
        printf("%s\n", err.msg);
        return NULL;
    }
    lm_history_row row = {1, 1000, 4.5, 90.0, 1.0, 5000, 0.2};
    lm_net_add_history(m, &row);
    return m;
}

static const char *tmp(const char *name)
{
    static char buf[8][512];
    static int slot;
    char *p = buf[slot++ & 7];
    snprintf(p, 512, "%s/%s", th_tmpdir(), name);
    return p;
}

/* Checks that loading fails with code and a one-line message naming the file. */
static void refused(const char *path, int code, const char *needle)
{
    lm_net *m = NULL;
    lm_error err = {0};
    int rc = lm_net_load(path, &m, &err);
    CU_ASSERT_EQUAL(rc, code);
    CU_ASSERT_PTR_NULL(m);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, path));
    CU_ASSERT_PTR_NULL(strchr(err.msg, '\n'));
    if (needle && !strstr(err.msg, needle))
        printf("\n  message '%s' lacks '%s'\n", err.msg, needle);
    CU_ASSERT(needle == NULL || strstr(err.msg, needle) != NULL);
}

static void test_damaged_files(void)
{
    lm_net *m = tiny(2, 0);
    lm_error err;
    const char *good = tmp("good.h5");
    CU_ASSERT_FATAL(lm_net_save(m, good, &err) == LM_OK);
    FILE *f = fopen(good, "rb");
    static char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    /* Truncated at several points. */
    size_t cuts[] = {len / 2, len - 100, 600, 8};
    for (size_t i = 0; i < 4; i++) {
        const char *p = tmp("cut.h5");
        f = fopen(p, "wb");
        fwrite(buf, 1, cuts[i], f);
        fclose(f);
        refused(p, LM_EFORMAT, NULL);
    }
    /* Not HDF5 at all, and empty. */
    const char *p = tmp("text.h5");
    f = fopen(p, "wb");
    fputs("this is a text file, not a model\n", f);
    fclose(f);
    refused(p, LM_EFORMAT, "not an HDF5 file");
    p = tmp("empty.h5");
    fclose(fopen(p, "wb"));
    refused(p, LM_EFORMAT, "not an HDF5 file");
    refused(tmp("missing.h5"), LM_EIO, "No such file");
    /* A config that disagrees with the stored tensors: wrong shape. */
    p = tmp("shape.h5");
    m->cfg.hidden = 7;
    lm_h5 *h;
    CU_ASSERT_FATAL(lm_h5_create(p, &h, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_net_write(m, h, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_h5_commit(h, &err) == LM_OK);
    m->cfg.hidden = 6;
    refused(p, LM_EFORMAT, "has shape");
    /* An unknown format version and an absurd size. */
    p = tmp("version.h5");
    CU_ASSERT_FATAL(lm_h5_create(p, &h, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_net_write(m, h, &err) == LM_OK);
    lm_h5_attr_set_u64(h, "/", "format_version", 9, &err);
    CU_ASSERT_FATAL(lm_h5_commit(h, &err) == LM_OK);
    refused(p, LM_EFORMAT, "format version 9");
    p = tmp("absurd.h5");
    CU_ASSERT_FATAL(lm_h5_create(p, &h, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_net_write(m, h, &err) == LM_OK);
    lm_h5_attr_set_u64(h, "/config", "vocab_size", (uint64_t)1 << 40, &err);
    CU_ASSERT_FATAL(lm_h5_commit(h, &err) == LM_OK);
    refused(p, LM_EFORMAT, "out of range");
    /* A NaN in the weights. */
    p = tmp("nan.h5");
    m->params[3] = NAN;
    CU_ASSERT_FATAL(lm_net_save(m, p, &err) == LM_OK);
    refused(p, LM_EFORMAT, "non-finite");
    lm_net_free(m);
}

/* A model file written by hand: mode 0 as format version 1 wrote it (vocabulary as
 * variable-length strings), 1 with /vocab/offsets out of order, 2 with a NUL byte in
 * /vocab/bytes, 3 with offsets running past the blob. */
static void write_custom(const lm_net *m, const char *p, int mode)
{
    lm_h5 *h;
    lm_error err;
    CU_ASSERT_FATAL(lm_h5_create(p, &h, &err) == LM_OK);
    const lm_config *c = &m->cfg;
    lm_h5_attr_set_str(h, "/", "format", "lstmlm", &err);
    lm_h5_attr_set_u64(h, "/", "format_version", mode == 0 ? 1 : 2, &err);
    lm_h5_attr_set_str(h, "/", "arch", c->arch, &err);
    const char *names[] = {"vocab_size", "embed", "hidden", "layers", "ffn",
                           "heads",      "context", "tied", "lowercase"};
    uint64_t vals[] = {c->vocab, c->embed,   c->hidden,          c->layers,           c->ffn,
                       c->heads, c->context, (uint64_t)c->tied, (uint64_t)c->lowercase};
    for (int i = 0; i < 9; i++)
        lm_h5_attr_set_u64(h, "/config", names[i], vals[i], &err);
    lm_h5_attr_set_f64(h, "/config", "dropout", c->dropout, &err);
    lm_h5_attr_set_f64(h, "/config", "init_range", c->init_range, &err);
    lm_h5_attr_set_str(h, "/config", "tokenize", "words", &err);
    size_t V = c->vocab, nb = 0;
    const char *toks[64];
    uint64_t counts[64], offs[65] = {0};
    unsigned char bytes[1024];
    for (size_t i = 0; i < V; i++) {
        toks[i] = lm_vocab_token(m->vocab, (int32_t)i);
        counts[i] = lm_vocab_count(m->vocab, (int32_t)i);
        memcpy(bytes + nb, toks[i], strlen(toks[i]));
        offs[i + 1] = nb += strlen(toks[i]);
    }
    size_t dv[1] = {V}, dofs[1] = {V + 1}, db[1] = {nb};
    if (mode == 0) {
        CU_ASSERT(lm_h5_write_strings(h, "/vocab/tokens", toks, V, &err) == LM_OK);
    } else {
        if (mode == 1)
            offs[4] = offs[2];
        if (mode == 2)
            bytes[offs[5]] = '\0';
        if (mode == 3)
            offs[V] = nb + 5;
        lm_h5_write(h, "/vocab/bytes", LM_H5_U8, bytes, 1, db, &err);
        lm_h5_write(h, "/vocab/offsets", LM_H5_U64, offs, 1, dofs, &err);
    }
    lm_h5_write(h, "/vocab/counts", LM_H5_U64, counts, 1, dv, &err);
    CU_ASSERT(lm_block_write(m, h, "/params", m->params, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_h5_commit(h, &err) == LM_OK);
}

/* Format version 1 files still load; damaged vocabularies and checksums are refused. */
static void test_format_versions_and_checksum(void)
{
    lm_net *m = tiny(1, 0), *n = NULL;
    lm_error err;
    const char *p = tmp("v1.h5");
    write_custom(m, p, 0);
    CU_ASSERT_FATAL(lm_net_load(p, &n, &err) == LM_OK);
    CU_ASSERT_EQUAL(lm_vocab_size(n->vocab), lm_vocab_size(m->vocab));
    CU_ASSERT_STRING_EQUAL(lm_vocab_token(n->vocab, 5), "café");
    /* A file from before the softmax attributes has a full softmax. */
    CU_ASSERT_EQUAL(n->cfg.softmax, LM_SOFTMAX_FULL);
    CU_ASSERT_EQUAL(n->cfg.n_cutoffs, 0);
    /* ... and from before the precision attribute, float32 training. */
    CU_ASSERT_EQUAL(n->cfg.precision, LM_PRECISION_F32);
    CU_ASSERT_EQUAL(memcmp(n->params, m->params, m->table.total * sizeof(float)), 0);
    lm_net_free(n);
    write_custom(m, tmp("order.h5"), 1);
    refused(tmp("order.h5"), LM_EFORMAT, "/vocab/offsets");
    write_custom(m, tmp("nul.h5"), 2);
    refused(tmp("nul.h5"), LM_EFORMAT, "NUL byte");
    write_custom(m, tmp("span.h5"), 3);
    refused(tmp("span.h5"), LM_EFORMAT, "does not span");
    /* One changed byte anywhere: the header or the HDF5 part. */
    const char *good = tmp("sum.h5");
    CU_ASSERT_FATAL(lm_net_save(m, good, &err) == LM_OK);
    FILE *f = fopen(good, "rb");
    static unsigned char buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CU_ASSERT_EQUAL(lm_h5_header_check(buf, len), 1);
    size_t at[] = {3, 100, 600, len / 2, len - 1};
    for (int i = 0; i < 5; i++) {
        buf[at[i]] ^= 0x20;
        const char *q = tmp("flip.h5");
        f = fopen(q, "wb");
        fwrite(buf, 1, len, f);
        fclose(f);
        refused(q, LM_EFORMAT, "damaged file");
        buf[at[i]] ^= 0x20;
    }
    f = fopen(tmp("long.h5"), "wb");
    fwrite(buf, 1, len, f);
    fputc('x', f);
    fclose(f);
    refused(tmp("long.h5"), LM_EFORMAT, "trailing data");
    lm_net_free(m);
}

/* An interrupted or failed save never destroys the previous file. */
static void test_atomic_save(void)
{
    lm_net *m = tiny(1, 0);
    lm_error err;
    const char *p = tmp("atomic.h5");
    CU_ASSERT_FATAL(lm_net_save(m, p, &err) == LM_OK);
    char tmpname[600];
    snprintf(tmpname, sizeof tmpname, "%s.tmp", p);
    CU_ASSERT_EQUAL(access(tmpname, F_OK), -1);
    /* A save into a folder that does not exist fails cleanly. */
    CU_ASSERT_EQUAL(lm_net_save(m, "/nonexistent-dir/x.h5", &err), LM_EIO);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "/nonexistent-dir/x.h5"));
    lm_net *n;
    CU_ASSERT(lm_net_load(p, &n, &err) == LM_OK);
    lm_net_free(n);
    lm_net_free(m);
}

/* Saving over an existing file (as every checkpoint does) holds no memory afterwards: HDF5
 * reads the old file's image on the way, which was once kept and lost on every save. */
static void test_save_over_existing(void)
{
#if defined(__GLIBC__) && (__GLIBC__ > 2 || __GLIBC_MINOR__ >= 33)
    lm_net *m = tiny(1, 0);
    lm_error err;
    const char *p = tmp("again.h5");
    CU_ASSERT_FATAL(lm_net_save(m, p, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_net_save(m, p, &err) == LM_OK);
    struct mallinfo2 a = mallinfo2();
    for (int i = 0; i < 20; i++)
        CU_ASSERT_FATAL(lm_net_save(m, p, &err) == LM_OK);
    struct mallinfo2 b = mallinfo2();
    size_t before = a.uordblks + a.hblkhd, after = b.uordblks + b.hblkhd;
    printf("[heap %zu -> %zu bytes] ", before, after);
    /* 20 lost images would be 20 x the file (about 40 KiB); allow HDF5's own caches. */
    CU_ASSERT(after < before + 64 * 1024);
    lm_net_free(m);
#else
    printf("skipped: no mallinfo2 ");
#endif
}

/* A save over an existing file does not read that file: the in-memory HDF5 file is created
 * under the new temporary name (under the target's, HDF5's core driver first loads the whole
 * old file, e.g. a checkpoint of hundreds of MB at every epoch). The old file here is 1 GiB of
 * holes: read, it would add 1 GiB to the peak resident size. */
static void test_save_over_large(void)
{
    lm_net *m = tiny(1, 0);
    lm_error err;
    const char *p = tmp("large.h5");
    int fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CU_ASSERT_FATAL(fd >= 0);
    CU_ASSERT_FATAL(ftruncate(fd, (off_t)1 << 30) == 0);
    close(fd);
    struct rusage a, b;
    getrusage(RUSAGE_SELF, &a);
    CU_ASSERT_FATAL(lm_net_save(m, p, &err) == LM_OK);
    getrusage(RUSAGE_SELF, &b);
    printf("[peak resident %ld -> %ld KiB] ", a.ru_maxrss, b.ru_maxrss);
    CU_ASSERT(b.ru_maxrss - a.ru_maxrss < 128 * 1024);
    struct stat st;
    CU_ASSERT(stat(p, &st) == 0 && st.st_size < 1 << 20);
    lm_net *back = NULL;
    CU_ASSERT(lm_net_load(p, &back, &err) == LM_OK);
    lm_net_free(back);
    lm_net_free(m);
}

/* The adaptive softmax: shortlist [0, 4), tails [4, 6) and [6, 9) of widths 3 and 1. */
static lm_net *tiny_adaptive(void)
{
    lm_vocab *v;
    lm_vocab_create(&v, NULL);
    const char *w[] = {"hello", "world", "café", "ça", "va", "?"};
    for (int i = 0; i < 6; i++)
        lm_vocab_add(v, w[i], strlen(w[i]), (uint64_t)(10 - i));
    lm_config c;
    lm_config_init(&c);
    c.embed = 6;
    c.hidden = 6;
    c.layers = 1;
    c.softmax = LM_SOFTMAX_ADAPTIVE;
    c.n_cutoffs = 2;
    c.cutoffs[0] = 4;
    c.cutoffs[1] = 6;
    c.div_value = 2.0f;
    lm_rng r;
    lm_rng_seed(&r, 11);
    lm_net *m = NULL;
    lm_error err;
    if (lm_net_create(&c, v, &r, &m, &err))
        printf("%s\n", err.msg);
    return m;
}

/* The model's file with one /config attribute replaced (kind 0: u64 array, 1: string, 2:
 * float) or, with name NULL, as it is. */
static const char *adaptive_file(const lm_net *m, const char *file, const char *name, int kind,
                                 const uint64_t *u, size_t n, const char *str, double f)
{
    const char *p = tmp(file);
    lm_h5 *h;
    lm_error err;
    CU_ASSERT_FATAL(lm_h5_create(p, &h, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_net_write(m, h, &err) == LM_OK);
    if (name && kind == 0)
        CU_ASSERT(lm_h5_attr_set_u64s(h, "/config", name, u, n, &err) == LM_OK);
    if (name && kind == 1)
        CU_ASSERT(lm_h5_attr_set_str(h, "/config", name, str, &err) == LM_OK);
    if (name && kind == 2)
        CU_ASSERT(lm_h5_attr_set_f64(h, "/config", name, f, &err) == LM_OK);
    CU_ASSERT_FATAL(lm_h5_commit(h, &err) == LM_OK);
    return p;
}

/* softmax, cutoffs and div_value are written and read back; damaged values are refused with
 * one line naming the file, never a crash. */
static void test_adaptive_attributes(void)
{
    lm_net *m = tiny_adaptive(), *n = NULL;
    CU_ASSERT_FATAL(m != NULL);
    lm_error err;
    const char *p = adaptive_file(m, "adaptive.h5", NULL, 0, NULL, 0, NULL, 0);
    CU_ASSERT_FATAL(lm_net_load(p, &n, &err) == LM_OK);
    CU_ASSERT_EQUAL(n->cfg.softmax, LM_SOFTMAX_ADAPTIVE);
    CU_ASSERT_EQUAL(n->cfg.n_cutoffs, 2);
    CU_ASSERT(n->cfg.cutoffs[0] == 4 && n->cfg.cutoffs[1] == 6 && n->cfg.div_value == 2.0f);
    CU_ASSERT_EQUAL(n->table.total, m->table.total);
    CU_ASSERT_EQUAL(memcmp(n->params, m->params, m->table.total * sizeof(float)), 0);
    CU_ASSERT_STRING_EQUAL(n->table.p[n->i_tail + 3].name, "head.tail.1.out.weight");
    CU_ASSERT_EQUAL(n->table.p[n->i_tail + 3].rows, 3);
    CU_ASSERT_EQUAL(n->table.p[n->i_tail + 3].cols, 1);
    lm_net_free(n);
    static const uint64_t down[] = {6, 4}, past[] = {4, 9}, first[] = {2, 6}, other[] = {4, 7};
    static const uint64_t many[9] = {3, 4, 5, 6, 7, 8, 9, 10, 11};
    refused(adaptive_file(m, "down.h5", "cutoffs", 0, down, 2, NULL, 0), LM_EFORMAT,
            "not increasing");
    refused(adaptive_file(m, "past.h5", "cutoffs", 0, past, 2, NULL, 0), LM_EFORMAT,
            "below the vocabulary size 9");
    refused(adaptive_file(m, "first.h5", "cutoffs", 0, first, 2, NULL, 0), LM_EFORMAT,
            "the first must be at least 3");
    refused(adaptive_file(m, "many.h5", "cutoffs", 0, many, 9, NULL, 0), LM_EFORMAT,
            "holds 9 values");
    refused(adaptive_file(m, "text.h5", "cutoffs", 1, NULL, 0, "4,6", 0), LM_EFORMAT,
            "not a list of whole numbers");
    /* Cutoffs that fit the vocabulary but not the stored tensors. */
    refused(adaptive_file(m, "other.h5", "cutoffs", 0, other, 2, NULL, 0), LM_EFORMAT,
            "has shape");
    refused(adaptive_file(m, "kind.h5", "softmax", 1, NULL, 0, "hierarchical", 0), LM_EFORMAT,
            "/config/softmax 'hierarchical'");
    refused(adaptive_file(m, "div.h5", "div_value", 2, NULL, 0, NULL, 0.5), LM_EFORMAT,
            "/config/div_value");
    refused(adaptive_file(m, "nan.h5", "div_value", 2, NULL, 0, NULL, NAN), LM_EFORMAT,
            "/config/div_value");
    refused(adaptive_file(m, "wide.h5", "div_value", 2, NULL, 0, NULL, 7.0), LM_EFORMAT,
            "0 dimensions");
    /* A full softmax read from a file that says so ignores no tensor: the head is (V, D). */
    refused(adaptive_file(m, "full.h5", "softmax", 1, NULL, 0, "full", 0), LM_EFORMAT,
            "has shape");
    lm_net_free(m);
}

/* The training precision is written and read back (also for a CPU without the bf16 kernel:
 * loading never asks for it); an unknown one is refused. */
static void test_precision_attribute(void)
{
    lm_net *m = tiny(1, 0), *n = NULL;
    CU_ASSERT_FATAL(m != NULL);
    lm_error err;
    m->cfg.precision = LM_PRECISION_BF16;
    const char *p = tmp("bf16.h5");
    CU_ASSERT_FATAL(lm_net_save(m, p, &err) == LM_OK);
    lm_bgemm_force(0);
    CU_ASSERT_FATAL(lm_net_load(p, &n, &err) == LM_OK);
    lm_bgemm_force(-1);
    CU_ASSERT_EQUAL(n->cfg.precision, LM_PRECISION_BF16);
    CU_ASSERT_EQUAL(memcmp(n->params, m->params, m->table.total * sizeof(float)), 0);
    lm_net_free(n);
    refused(adaptive_file(m, "fp8.h5", "precision", 1, NULL, 0, "fp8", 0), LM_EFORMAT,
            "/config/precision 'fp8'");
    lm_config c = m->cfg;
    c.precision = 7;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "precision"));
    CU_ASSERT_STRING_EQUAL(lm_precision_name(LM_PRECISION_BF16), "bf16");
    CU_ASSERT_EQUAL(lm_precision_parse("f32"), LM_PRECISION_F32);
    CU_ASSERT_EQUAL(lm_precision_parse("bf 16"), -1);
    CU_ASSERT_PTR_NULL(lm_precision_name(2));
    lm_net_free(m);
}

static char logged[512];
static void keep_line(void *ud, const char *line)
{
    (void)ud;
    snprintf(logged, sizeof logged, "%s", line);
}

/* The adaptive softmax assumes ids by decreasing count: a vocabulary out of that order is
 * said so (once), one in order is not. */
static void test_adaptive_order_warning(void)
{
    lm_config c;
    lm_config_init(&c);
    c.embed = c.hidden = 6;
    c.layers = 1;
    c.softmax = LM_SOFTMAX_ADAPTIVE;
    c.n_cutoffs = 1;
    c.cutoffs[0] = 5;
    lm_set_log_fn(keep_line, NULL);
    for (int rising = 0; rising < 2; rising++) {
        lm_vocab *v;
        lm_vocab_create(&v, NULL);
        const char *w[] = {"a", "b", "c", "d", "e"};
        for (int i = 0; i < 5; i++)
            lm_vocab_add(v, w[i], 1, (uint64_t)(rising ? 1 + i : 10 - i));
        lm_rng r;
        lm_rng_seed(&r, 1);
        lm_model *m = NULL;
        lm_error err;
        logged[0] = 0;
        CU_ASSERT_FATAL(lm_model_create(&c, v, &r, &m, &err) == LM_OK);
        CU_ASSERT(rising ? strstr(logged, "not in decreasing count order (id 3 'a'") != NULL
                         : logged[0] == 0);
        lm_model_free(m);
    }
    lm_set_log_fn(NULL, NULL);
}

static void test_config_checks(void)
{
    lm_config c;
    lm_config_init(&c);
    lm_error err;
    c.vocab = 100;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    /* Tied with embed != hidden: a projection (AWD-LSTM's case). */
    c.tied = 1;
    c.embed = 100;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    char d[128];
    lm_config_describe(&c, d, sizeof d);
    CU_ASSERT_STRING_EQUAL(d, "lstm, 2 layers, embed 100, hidden 200, tied via a projection");
    /* Regularisers: rates in [0, 1), and only those the architecture takes. */
    lm_config_init(&c);
    c.vocab = 100;
    c.dropout_input = 1.0f;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "dropout_input"));
    lm_config_init(&c);
    c.vocab = 100;
    c.weight_drop = 0.5f;
    c.dropout_hidden = 0.3f;
    c.tar = 1.0f;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    snprintf(c.arch, sizeof c.arch, "rwkv");
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "does not apply to rwkv"));
    c.dropout_hidden = c.tar = 0; /* RWKV takes weight drop (its time-mix matrices) */
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    snprintf(c.arch, sizeof c.arch, "transformer");
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "does not apply to transformer"));
    snprintf(c.arch, sizeof c.arch, "rwkv");
    c.weight_drop = 0;
    c.dropout_embed = c.dropout_input = c.dropout_output = 0.2f;
    c.ar = 2.0f;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    lm_config_init(&c);
    c.vocab = 100;
    snprintf(c.arch, sizeof c.arch, "gru");
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    lm_config_init(&c);
    c.vocab = 100;
    c.dropout = 1.0f;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    /* The adaptive softmax: cutoffs increasing, from 3, below the vocabulary; not tied; every
     * tail at least 1 wide; none for a full softmax. */
    lm_config_init(&c);
    c.vocab = 100;
    c.softmax = LM_SOFTMAX_ADAPTIVE;
    c.n_cutoffs = 2;
    c.cutoffs[0] = 20;
    c.cutoffs[1] = 60;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_OK);
    lm_config_describe(&c, d, sizeof d);
    CU_ASSERT_STRING_EQUAL(d, "lstm, 2 layers, embed 200, hidden 200, adaptive softmax 20,60");
    c.cutoffs[1] = 100;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "below the vocabulary size 100"));
    c.cutoffs[1] = 20;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "not increasing"));
    c.cutoffs[1] = 60;
    c.n_cutoffs = 0;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    c.n_cutoffs = 2;
    c.tied = 1;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "tied"));
    c.tied = 0;
    c.div_value = 16.0f; /* 200 / 16^2 = 0.78 */
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    CU_ASSERT_PTR_NOT_NULL(strstr(err.msg, "tail cluster 2"));
    c.div_value = 0.5f;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    c.div_value = 4.0f;
    c.softmax = LM_SOFTMAX_FULL;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
    c.softmax = 7;
    CU_ASSERT_EQUAL(lm_config_check(&c, &err), LM_EINVAL);
}

int main(void)
{
    static const th_test tests[] = {
        {"damaged, truncated, wrong-shape and non-HDF5 files are refused", test_damaged_files},
        {"saves are atomic", test_atomic_save},
        {"saving over an existing file keeps no memory", test_save_over_existing},
        {"saving over a large file does not read it", test_save_over_large},
        {"format version 1 loads; damaged vocabularies and checksums are refused",
         test_format_versions_and_checksum},
        {"configuration checks", test_config_checks},
        {"training precision: read back, damaged refused", test_precision_attribute},
        {"adaptive softmax attributes: read back; damaged ones refused", test_adaptive_attributes},
        {"adaptive softmax: a vocabulary out of count order is reported", test_adaptive_order_warning},
        {NULL, NULL},
    };
    return th_run("model", tests);
}
