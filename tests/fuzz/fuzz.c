/* fuzz.c - helpers of the fuzz harnesses (see fuzz.h). */
#include "fuzz/fuzz.h"
#include "model/h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[128];
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    snprintf(path, sizeof path, "%.64s/lstmlm-fuzz-%ld%.16s", dir, (long)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f)
        return NULL;
    int bad = size && fwrite(data, 1, size, f) != size;
    if (fclose(f) != 0 || bad)
        return NULL;
    return path;
}

const char *fuzz_h5_file(const uint8_t *data, size_t size)
{
    static unsigned char *buf;
    static size_t cap;
    if (size > cap) {
        unsigned char *nb = realloc(buf, size);
        if (!nb)
            return NULL;
        buf = nb;
        cap = size;
    }
    if (size)
        memcpy(buf, data, size);
    if (size >= 520 && (lm_h5_header_check(buf, size) != 0 || !memcmp(buf, "\x89LSTMLM\n", 8)))
        lm_h5_header_fill(buf, size);
    else if (!getenv("LSTMLM_FUZZ_LEGACY"))
        return NULL;
    return fuzz_file(buf, size, ".h5");
}

static const char *const words[] = {"the", "cat", "sat", "on", "a", "mat", "."};

lm_vocab *fuzz_vocab(void)
{
    lm_vocab *v;
    if (lm_vocab_create(&v, NULL))
        return NULL;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        lm_vocab_add(v, words[i], strlen(words[i]), 10);
    return v;
}

size_t fuzz_corpus(const int32_t **ids)
{
    static int32_t c[96];
    for (size_t i = 0; i < 96; i++)
        c[i] = i % 8 == 7 ? LM_TOK_EOT : (int32_t)(LM_N_SPECIAL + (i * 5 + i / 8) % 7);
    *ids = c;
    return 96;
}

lm_model *fuzz_model(const char *arch)
{
    lm_config c;
    lm_config_init(&c);
    snprintf(c.arch, sizeof c.arch, "%s", arch);
    c.embed = 4;
    c.hidden = 4;
    c.layers = 1;
    c.ffn = 8;
    c.heads = 2;
    c.context = 8;
    lm_vocab *v = fuzz_vocab();
    c.vocab = lm_vocab_size(v);
    lm_rng rng;
    lm_rng_seed(&rng, 7);
    lm_model *m;
    if (lm_model_create(&c, v, &rng, &m, NULL))
        return NULL;
    return m;
}
