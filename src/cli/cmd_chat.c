/* cmd_chat.c - placeholder: `lstmlm chat` is being written. */
#include "cli.h"

int cmd_chat(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lstmlm chat: not built yet\n");
    return EXIT_FAIL;
}
