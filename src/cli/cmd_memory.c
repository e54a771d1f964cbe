/* cmd_memory.c - placeholder: `lstmlm memory` is being written. */
#include "cli.h"

int cmd_memory(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lstmlm memory: not built yet\n");
    return EXIT_FAIL;
}
