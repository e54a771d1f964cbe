/* fuzz_ngram.c - the n-gram model loader: load, then score every unigram after a history. */
#include "fuzz/fuzz.h"

FUZZ_TARGET(ngram)
{
    const char *path = fuzz_h5_file(data, size);
    lm_ngram *m = NULL;
    if (!path || lm_ngram_load(path, &m, NULL) != LM_OK)
        return 0;
    size_t V = lm_vocab_size(lm_ngram_vocab(m));
    int32_t hist[2] = {LM_TOK_EOT, (int32_t)(V > 3 ? 3 : 0)};
    for (size_t w = 0; w < V && w < 64; w++)
        lm_ngram_logprob(m, hist, 2, (int32_t)w);
    lm_ngram_free(m);
    return 0;
}
