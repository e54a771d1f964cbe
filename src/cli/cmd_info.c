/* cmd_info.c - `lstmlm info MODEL`: what the model is, its vocabulary and its history, for
 * every model kind. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <string.h>

static void help(void)
{
    printf("Usage: lstmlm info [options] MODEL\n\n"
           "Shows what a model file holds: for a neural model its architecture, shape and\n"
           "parameter count, for an n-gram model (or an ARPA file) its order, smoothing and\n"
           "n-gram counts per order; then the tokenizer, the vocabulary (size and most\n"
           "frequent tokens) and the training history.\n\n"
           "  --tokens N   how many of the most frequent tokens to list [10]\n"
           "  -h, --help   this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

static const struct option longopts[] = {
    {"tokens", required_argument, NULL, 'n'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void print_fact(void *ud, const char *key, const char *value)
{
    (void)ud;
    printf("%-13s %s\n", key, value);
}

int cmd_info(int argc, char **argv)
{
    size_t show = 10;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'n':
            if (!cli_size(optarg, &show))
                return cli_bad_value("info", longopts, c, optarg);
            break;
        case 'h': help(); return EXIT_OK;
        default: return cli_unknown_option("info", argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage("info", "need one MODEL");
    const char *path = argv[optind];
    lm_error err = {0};
    lm_model *m;
    if (lm_model_load(path, &m, &err))
        return cli_fail(&err);
    const lm_vocab *v = lm_model_vocab(m);
    lm_text_opts t;
    lm_model_text_opts(m, &t);
    printf("file          %s\n", path);
    lm_model_facts(m, print_fact, NULL);
    printf("tokenize      %s%s\n", lm_tokenize_name(t.tokenize), t.lowercase ? ", lower-cased" : "");
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
