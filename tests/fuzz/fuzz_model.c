/* fuzz_model.c - the neural model loader (LSTM, RWKV, transformer files and checkpoints read
 * as models): load, then run two steps on what was loaded. */
#include "fuzz/fuzz.h"

#include <stdlib.h>

FUZZ_TARGET(model)
{
    const char *path = fuzz_h5_file(data, size);
    lm_model *m = NULL;
    if (!path || lm_model_load(path, &m, NULL) != LM_OK)
        return 0;
    lm_state *s = NULL;
    float *logits = malloc(lm_vocab_size(lm_model_vocab(m)) * sizeof *logits);
    if (logits && lm_state_create(m, &s, NULL) == LM_OK) {
        lm_step(m, s, LM_TOK_EOT, logits, NULL);
        lm_step(m, s, LM_TOK_UNK, logits, NULL);
    }
    lm_state_free(s);
    free(logits);
    lm_model_free(m);
    return 0;
}
