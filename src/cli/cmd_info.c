/* cmd_info.c - `lstmlm info MODEL`: configuration, parameters, vocabulary, history. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <string.h>

static void help(void)
{
    printf("Usage: lstmlm info [options] MODEL.h5\n\n"
           "Shows a model file's architecture and configuration, parameter count, vocabulary\n"
           "(size and most frequent tokens) and training history.\n\n"
           "  --tokens N   how many of the most frequent tokens to list [10]\n"
           "  -h, --help   this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

static const struct option longopts[] = {
    {"tokens", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_info(int argc, char **argv)
{
    size_t show = 10;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_size(optarg, &show))
                return cli_usage("info", "bad --tokens '%s'", optarg);
            break;
        case 'h': help(); return EXIT_OK;
        default: return cli_usage("info", "unknown option");
        }
    }
    if (argc - optind != 1)
        return cli_usage("info", "need one MODEL.h5");
    const char *path = argv[optind];
    lm_error err = {0};
    char arch[32];
    if (lm_file_arch(path, arch, sizeof arch, &err))
        return cli_fail(&err);
    if (!strcmp(arch, "ngram")) {
        char *args[] = {"ngram", "info", (char *)path, NULL};
        return cmd_ngram(3, args);
    }
    lm_model *m;
    if (lm_model_load(path, &m, &err))
        return cli_fail(&err);
    const lm_config *cf = lm_model_config(m);
    const lm_vocab *v = lm_model_vocab(m);
    printf("file          %s\n", path);
    printf("arch          %s\n", cf->arch);
    printf("layers        %zu\n", cf->layers);
    printf("embed         %zu\n", cf->embed);
    if (!strcmp(cf->arch, "lstm"))
        printf("hidden        %zu\n", cf->hidden);
    else
        printf("ffn           %zu\n", cf->ffn ? cf->ffn : 4 * cf->embed);
    if (!strcmp(cf->arch, "transformer"))
        printf("heads         %zu\ncontext       %zu\n", cf->heads, cf->context);
    printf("tied          %s\n", cf->tied ? "yes" : "no");
    printf("dropout       %g\n", (double)cf->dropout);
    printf("tokenize      %s%s\n",
           cf->tokenize == LM_TOKENIZE_WHITESPACE ? "whitespace"
           : cf->tokenize == LM_TOKENIZE_CHARS    ? "chars"
                                                  : "words",
           cf->lowercase ? ", lower-cased" : "");
    printf("parameters    %zu (%.1f MiB as float32)\n", lm_model_n_params(m),
           lm_model_n_params(m) * 4.0 / 1048576.0);
    printf("vocabulary    %zu types\n", lm_vocab_size(v));
    printf("top tokens   ");
    for (size_t i = 0; i < show && i < lm_vocab_size(v); i++)
        printf(" %s(%llu)", lm_vocab_token(v, (int32_t)i),
               (unsigned long long)lm_vocab_count(v, (int32_t)i));
    printf("\n");
    const lm_history_row *h;
    size_t n = lm_model_history(m, &h);
    if (n) {
        printf("\nepoch  tokens      train ppl  valid ppl  lr        tokens/s  seconds\n");
        for (size_t i = 0; i < n; i++)
            printf("%5u  %-10llu  %9.2f  %9.2f  %-8.4g  %8.0f  %7.1f\n", h[i].epoch,
                   (unsigned long long)h[i].tokens, exp(h[i].train_loss), h[i].valid_ppl,
                   h[i].lr, h[i].tokens_per_s, h[i].seconds);
    }
    lm_model_free(m);
    return EXIT_OK;
}
