/* fuzz_corpus.c - the corpus reader (plain or gzip): build a vocabulary from the input, then
 * read it into ids. The first byte picks the tokenizer, the maximum vocabulary and whether
 * the file is named .gz. */
#include "fuzz/fuzz.h"

#include <stdlib.h>

FUZZ_TARGET(corpus)
{
    if (size < 1)
        return 0;
    lm_text_opts t;
    lm_text_opts_init(&t);
    t.tokenize = data[0] % 3;
    t.lowercase = (data[0] >> 2) & 1;
    lm_vocab_opts vo;
    lm_vocab_opts_init(&vo);
    vo.max_vocab = (data[0] >> 3) & 1 ? 8 : 0;
    const char *path = fuzz_file(data + 1, size - 1, (data[0] >> 4) & 1 ? ".gz" : ".txt");
    if (!path)
        return 0;
    lm_vocab *v = NULL;
    if (lm_vocab_build(&path, 1, &t, &vo, &v, NULL) == LM_OK) {
        int32_t *ids = NULL;
        size_t n = 0;
        lm_corpus_stats st;
        if (lm_corpus_read(path, &t, v, &ids, &n, &st, NULL) == LM_OK)
            free(ids);
        lm_vocab_free(v);
    }
    return 0;
}
