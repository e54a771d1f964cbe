/* fuzz_arpa.c - the ARPA reader (lm_ngram_read_arpa): load, then score a few back-off paths. */
#include "fuzz/fuzz.h"

FUZZ_TARGET(arpa)
{
    const char *path = fuzz_file(data, size, ".arpa");
    lm_ngram *g = NULL;
    if (!path || lm_ngram_read_arpa(path, &g, NULL) != LM_OK)
        return 0;
    size_t V = lm_vocab_size(lm_ngram_vocab(g));
    int32_t hist[6] = {0};
    for (size_t i = 0; i < 6 && V; i++)
        hist[i] = (int32_t)((i * 7 + 1) % V);
    for (size_t w = 0; w < V && w < 16; w++)
        lm_ngram_logprob(g, hist, 6, (int32_t)w);
    lm_ngram_free(g);
    return 0;
}
