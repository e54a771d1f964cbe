/* fuzz_state.c - the chat session / state loader (lm_chat_load, which reads the state with
 * lm_state_read) into tiny LSTM, RWKV and transformer models (fuzz_model); a loaded session
 * then takes one step. */
#include "fuzz/fuzz.h"

#include <stddef.h>

FUZZ_TARGET(state)
{
    static const char *const archs[3] = {"lstm", "rwkv", "transformer"};
    static lm_model *models[3];
    static lm_chat *chats[3];
    const char *path = fuzz_h5_file(data, size);
    if (!path)
        return 0;
    for (int i = 0; i < 3; i++) {
        if (!models[i]) {
            lm_chat_opts o;
            lm_chat_opts_init(&o);
            o.max_tokens = 2;
            if (!(models[i] = fuzz_model(archs[i])) ||
                lm_chat_create(models[i], &o, &chats[i], NULL) != LM_OK)
                return 0;
        }
        if (lm_chat_load(chats[i], path, NULL) == LM_OK)
            lm_chat_reply(chats[i], NULL, NULL, NULL, NULL);
    }
    return 0;
}
