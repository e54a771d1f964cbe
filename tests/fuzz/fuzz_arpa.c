/* fuzz_arpa.c - the ARPA reader: load, then score a few back-off paths. */
#include "fuzz/fuzz.h"

FUZZ_TARGET(arpa)
{
    const char *path = fuzz_file(data, size, ".arpa");
    lm_arpa *a = NULL;
    if (!path || lm_arpa_load(path, &a, NULL) != LM_OK)
        return 0;
    size_t V = lm_vocab_size(lm_arpa_vocab(a));
    int32_t hist[6] = {0};
    for (size_t i = 0; i < 6 && V; i++)
        hist[i] = (int32_t)((i * 7 + 1) % V);
    for (size_t w = 0; w < V && w < 16; w++)
        lm_arpa_logprob(a, hist, lm_arpa_order(a) > 1 ? lm_arpa_order(a) - 1 : 0, (int32_t)w);
    lm_arpa_free(a);
    return 0;
}
