/* cmd_info.c - `lstmlm info MODEL`: what the model is, its vocabulary and its training
 * history (as a table, a CSV file or an SVG plot of the curves), for every model kind. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("Usage: lstmlm info [options] MODEL\n\n"
           "Shows what a model file holds: for a neural model its architecture, shape and\n"
           "parameter count, for an n-gram model (or an ARPA file) its order, smoothing and\n"
           "n-gram counts per order; then the tokenizer, the vocabulary (size and the most\n"
           "frequent tokens by count) and the training history.\n\n"
           "  --tokens N          how many of the most frequent tokens to list [10]\n"
           "  --history-csv FILE  write the training history as CSV (epoch, tokens, train\n"
           "                      loss and perplexity, valid perplexity, lr, tokens/s, seconds)\n"
           "  --plot FILE.svg     draw the training and validation perplexity by epoch\n"
           "  -h, --help          this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

enum { O_CSV = 256, O_PLOT };
static const struct option longopts[] = {
    {"tokens", required_argument, NULL, 'n'},
    {"history-csv", required_argument, NULL, O_CSV},
    {"plot", required_argument, NULL, O_PLOT},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

typedef struct info_args {
    size_t show;
    const char *csv, *plot;
} info_args;

static int option(void *ud, int c, const char *arg)
{
    info_args *a = ud;
    switch (c) {
    case 'n': return cli_size_min(arg, &a->show, 0);
    case O_CSV: a->csv = arg; return 1;
    case O_PLOT: a->plot = arg; return 1;
    default: return -1;
    }
}

static void print_fact(void *ud, const char *key, const char *value)
{
    (void)ud;
    printf("%-13s %s\n", key, value);
}

/* Ids by decreasing count (ties by id), for the most frequent tokens. */
static const lm_vocab *sort_vocab;
static int by_count(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    uint64_t cx = lm_vocab_count(sort_vocab, x), cy = lm_vocab_count(sort_vocab, y);
    return cx != cy ? (cx < cy ? 1 : -1) : (x > y) - (x < y);
}

static int write_plot(const char *path, const char *model, const lm_history_row *h, size_t n,
                      lm_error *err)
{
    double *x = malloc(3 * (n ? n : 1) * sizeof *x), *tr = x + n, *va = tr + n;
    if (!x)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    size_t nv = 0;
    for (size_t i = 0; i < n; i++) {
        x[i] = h[i].epoch;
        tr[i] = exp(h[i].train_loss);
        va[i] = h[i].valid_ppl > 0 ? h[i].valid_ppl : NAN;
        nv += h[i].valid_ppl > 0;
    }
    lm_plot_series s[2] = {{"training", x, tr, n, 0, 0}, {"validation", x, va, n, 1, 0}};
    lm_plot_panel p = {"perplexity by epoch", "epoch", "perplexity", 0, 1, s, nv ? 2 : 1};
    int rc = LM_OK;
    FILE *f = fopen(path, "w");
    if (!f)
        rc = lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    else {
        rc = lm_svg_write(f, model, &p, 1, err);
        if (fclose(f) != 0 && !rc)
            rc = lm_fail(err, LM_EIO, "%s: cannot write: %s", path, strerror(errno));
    }
    free(x);
    return rc;
}

int cmd_info(int argc, char **argv)
{
    info_args a = {.show = 10};
    int done = cli_parse("info", argc, argv, "h", longopts, help, option, &a);
    if (done >= 0)
        return done;
    if (argc - optind != 1)
        return cli_usage("info", "need one MODEL");
    const char *path = argv[optind];
    lm_error err = {0};
    lm_model *m;
    if (lm_model_load(path, &m, &err))
        return cli_fail(&err);
    const lm_vocab *v = lm_model_vocab(m);
    size_t V = lm_vocab_size(v);
    lm_text_opts t;
    lm_model_text_opts(m, &t);
    printf("file          %s\n", path);
    lm_model_facts(m, print_fact, NULL);
    printf("tokenize      %s%s\n", lm_tokenize_name(t.tokenize), t.lowercase ? ", lower-cased" : "");
    printf("vocabulary    %zu types\n", V);
    int32_t *order = malloc(V * sizeof *order);
    if (order) {
        for (size_t i = 0; i < V; i++)
            order[i] = (int32_t)i;
        sort_vocab = v;
        qsort(order, V, sizeof *order, by_count);
        printf("top tokens   ");
        for (size_t i = 0; i < a.show && i < V; i++)
            printf(" %s(%llu)", lm_vocab_token(v, order[i]),
                   (unsigned long long)lm_vocab_count(v, order[i]));
        printf("\n");
        free(order);
    }
    const lm_history_row *h;
    size_t n = lm_model_history(m, &h);
    if (n) {
        printf("\nepoch  tokens      train ppl  valid ppl  lr        tokens/s  seconds\n");
        for (size_t i = 0; i < n; i++)
            printf("%5u  %-10llu  %9.2f  %9.2f  %-8.4g  %8.0f  %7.1f\n", h[i].epoch,
                   (unsigned long long)h[i].tokens, exp(h[i].train_loss), h[i].valid_ppl,
                   h[i].lr, h[i].tokens_per_s, h[i].seconds);
    }
    int rc = EXIT_OK;
    if ((a.csv || a.plot) && !n) {
        fprintf(stderr, "lstmlm: %s: no training history to write\n", path);
        rc = EXIT_FAIL;
    } else if ((a.csv && cli_history_csv(a.csv, h, n, &err)) ||
               (a.plot && write_plot(a.plot, path, h, n, &err)))
        rc = cli_fail(&err);
    lm_model_free(m);
    return rc;
}
