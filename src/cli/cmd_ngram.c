/* cmd_ngram.c - placeholder until the n-gram baseline lands. */
#include "cli.h"

int cmd_ngram(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "lstmlm ngram: not built yet\n");
    return EXIT_FAIL;
}
