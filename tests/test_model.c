/* test_model.c - model files: bit-exact save/load, damaged files refused with one-line errors,
 * state save/load, step equals window. */
#include "harness.h"
#include "model/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
    c.weight_drop = c.dropout_hidden = c.tar = 0;
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
}

int main(void)
{
    static const th_test tests[] = {
        {"damaged, truncated, wrong-shape and non-HDF5 files are refused", test_damaged_files},
        {"saves are atomic", test_atomic_save},
        {"configuration checks", test_config_checks},
        {NULL, NULL},
    };
    return th_run("model", tests);
}
