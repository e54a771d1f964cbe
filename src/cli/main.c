/* main.c - `lstmlm COMMAND [options]`: dispatches to one cmd_* function per subcommand. */
#include "cli.h"

#include <string.h>

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "train a neural language model (LSTM, RWKV, transformer)"},
    {"eval", cmd_eval, "perplexity of a model on a text file"},
    {"generate", cmd_generate, "sample text from a model"},
    {"chat", cmd_chat, "talk with a model; the state carries across turns"},
    {"info", cmd_info, "show a model file's configuration, vocabulary and history"},
    {"corpus", cmd_corpus, "import, split and describe dialogue corpora"},
    {"ngram", cmd_ngram, "train and evaluate Kneser-Ney n-gram baselines"},
    {"memory", cmd_memory, "compare how models use memory and context"},
    {"quantize", cmd_quantize, "store a model's weights in bf16 or int8 for generation"},
    {"serve", cmd_serve, "serve a model over HTTP (OpenAI API, recurrent sessions)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: lstmlm COMMAND [options]\n\nCommands:\n");
    for (const command *c = commands; c->name; c++)
        fprintf(f, "  %-10s %s\n", c->name, c->summary);
    fprintf(f, "\n'lstmlm COMMAND --help' (or 'lstmlm help COMMAND') describes a command.\n"
               "lstmlm %s, OpenBLAS core: %s, products: %s, recurrent kernel: %s\n",
            lm_version_string(), lm_blas_core_name(), lm_gemm_kernel_name(), lm_kernel_name());
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) {
        usage(stdout);
        return EXIT_OK;
    }
    if (!strcmp(name, "--version")) {
        printf("lstmlm %s\n", lm_version_string());
        return EXIT_OK;
    }
    if (!strcmp(name, "help")) {
        if (argc < 3) {
            usage(stdout);
            return EXIT_OK;
        }
        for (const command *c = commands; c->name; c++)
            if (!strcmp(c->name, argv[2])) {
                char *args[] = {argv[2], "--help", NULL};
                return c->fn(2, args);
            }
        fprintf(stderr, "lstmlm: no command '%s'\n", argv[2]);
        return EXIT_USAGE;
    }
    for (const command *c = commands; c->name; c++)
        if (!strcmp(c->name, name))
            return c->fn(argc - 1, argv + 1);
    char list[256] = "";
    for (const command *c = commands; c->name; c++)
        snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", c == commands ? "" : ", ",
                 c->name);
    fprintf(stderr, "lstmlm: no command '%s' (expected %s)\n", name, list);
    return EXIT_USAGE;
}
