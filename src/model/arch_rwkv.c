/* arch_rwkv.c - placeholder: the rwkv architecture is being built. */
#include "model/model.h"

static int stub_check(const lm_config *c, lm_error *err)
{
    (void)c;
    return lm_fail(err, LM_EINVAL, "the rwkv architecture is not built yet");
}

const lm_arch lm_arch_rwkv = {.name = "rwkv", .check = stub_check};
