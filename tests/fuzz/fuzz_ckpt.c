/* fuzz_ckpt.c - the checkpoint loader (lm_trainer_resume) against the corpus the seed
 * checkpoints were made on (fuzz_corpus), then one more training window. */
#include "fuzz/fuzz.h"

FUZZ_TARGET(ckpt)
{
    const char *path = fuzz_h5_file(data, size);
    if (!path)
        return 0;
    const int32_t *ids;
    size_t n = fuzz_corpus(&ids);
    lm_model *m = NULL;
    lm_trainer *t = NULL;
    if (lm_trainer_resume(path, ids, n, NULL, 0, &m, &t, NULL) == LM_OK) {
        lm_epoch_result r;
        lm_trainer_set_epochs(t, lm_trainer_epoch(t) + 1);
        lm_trainer_run_epoch(t, NULL, &r, NULL);
    }
    lm_trainer_free(t);
    lm_model_free(m);
    return 0;
}
