/* arch_transformer.c - placeholder: the transformer architecture is being built. */
#include "model/model.h"

static int stub_check(const lm_config *c, lm_error *err)
{
    (void)c;
    return lm_fail(err, LM_EINVAL, "the transformer architecture is not built yet");
}

const lm_arch lm_arch_transformer = {.name = "transformer", .check = stub_check};
