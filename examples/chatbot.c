/* chatbot.c - a chat bot embedded in a C program through the public API of liblstmlm.
 *
 *     chatbot MODEL.h5 [SEED] < questions.txt
 *
 * Reads one user turn per line from standard input and prints the model's reply on one line,
 * streamed as it is produced. The conversation (the model's recurrent state) carries across
 * turns. With the same seed it answers as `lstmlm chat --seed SEED MODEL.h5` does.
 *
 * Build against an installed library:
 *     cc chatbot.c $(pkg-config --cflags --libs lstmlm) -o chatbot */
#include <lstmlm.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Receives each piece of the reply (a token with its leading space) as it is chosen. */
static void print_piece(void *ud, const char *text)
{
    (void)ud;
    fputs(text, stdout);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: chatbot MODEL.h5 [SEED] < turns.txt\n");
        return 2;
    }
    lm_error err = {0};
    lm_model *model = NULL;
    lm_chat *chat = NULL;
    int rc = 1;
    if (lm_model_load(argv[1], &model, &err))
        goto fail;

    /* Settings: the defaults of `lstmlm chat`, a seed, a little nucleus sampling. */
    lm_chat_opts opts;
    lm_chat_opts_init(&opts);
    if (argc == 3)
        opts.seed = strtoull(argv[2], NULL, 10);
    if (lm_chat_create(model, &opts, &chat, &err))
        goto fail;

    char line[4096];
    while (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (!line[0])
            continue;
        /* The user's turn goes in with its <eot>; the reply runs to the model's <eot>. */
        if (lm_chat_user(chat, line, &err) || lm_chat_reply(chat, print_piece, NULL, NULL, &err))
            goto fail;
        putchar('\n');
    }
    lm_chat_stats st;
    lm_chat_get_stats(chat, &st);
    fprintf(stderr, "chatbot: %zu turns, %zu tokens in the state (%zu bytes)\n", st.turns,
            st.position, st.state_bytes);
    rc = 0;
    goto out;
fail:
    fprintf(stderr, "chatbot: %s\n", err.msg[0] ? err.msg : lm_strerror(err.code));
out:
    lm_chat_free(chat);
    lm_model_free(model);
    return rc;
}
