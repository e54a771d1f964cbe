/* cmd_eval.c - `lstmlm eval MODEL TEXT`: perplexity, bits per token, OOV counts, speed, for
 * every model kind and for mixtures. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("Usage: lstmlm eval [options] MODEL TEXT...\n\n"
           "Reports the model's perplexity on each text file (read with the model's own\n"
           "tokenizer and vocabulary): including and excluding out-of-vocabulary targets,\n"
           "bits per token, the total log10 probability, token and OOV counts, and tokens per\n"
           "second. <eot> (end of turn or sentence) counts as a token; the first token of each\n"
           "stream is context only. MODEL is any model file: neural (LSTM, RWKV,\n"
           "transformer), n-gram, or an ARPA file.\n\n"
           "  --batch N          parallel streams; 1 reads the text as one stream with the\n"
           "                     state carried throughout (exact) [1]\n"
           "  --bptt N           tokens per window (a transformer sees at most this many) [35]\n");
    cli_mix_help();
    printf("  --tokenize MODE    read the texts with this tokenizer (words, whitespace, chars)\n"
           "                     instead of the model's own (e.g. an ARPA file of another\n"
           "                     toolkit, read as whitespace by default)\n"
           "  --lowercase        lower-case the texts as they are read\n"
           "  --tune-lambda FILE with --mix: pick the weight that minimises the perplexity of\n"
           "                     FILE (held-out text, not the test text), then evaluate;\n"
           "                     with --mix-decay D the weights at that decay, with\n"
           "                     --mix-decay auto the decay too (0 to 1)\n"
           "  --threads N        OpenBLAS and lstmlm threads [library default]\n"
           "  -h, --help         this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

enum { O_BATCH = 256, O_BPTT, O_THREADS, O_TUNE, O_TOK, O_LOWER };
static const struct option longopts[] = {
    {"batch", required_argument, NULL, O_BATCH},
    {"bptt", required_argument, NULL, O_BPTT},
    {"threads", required_argument, NULL, O_THREADS},
    CLI_MIX_LONGOPTS,
    {"tune-lambda", required_argument, NULL, O_TUNE},
    {"tokenize", required_argument, NULL, O_TOK},
    {"lowercase", no_argument, NULL, O_LOWER},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static void report(const char *file, const lm_eval_result *r, size_t n,
                   const lm_corpus_stats *st, double secs, size_t batch, size_t bptt)
{
    printf("file            %s\n", file);
    printf("tokens          %zu predicted (%zu in the file, %zu lines)\n", r->tokens, n,
           st->lines);
    printf("oov             %zu targets are <unk> (%.2f%%; %zu words were outside the "
           "vocabulary)\n", r->oov, r->tokens ? 100.0 * r->oov / r->tokens : 0.0, st->oov);
    printf("perplexity      %.2f\n", r->ppl);
    printf("ppl without oov %.2f\n", r->ppl_no_oov);
    printf("bits per token  %.4f\n", r->bits_per_token);
    printf("log10 prob      %.6f\n", -r->nll / log(10.0));
    printf("tokens/s        %.0f (batch %zu, bptt %zu)\n", secs > 0 ? r->tokens / secs : 0.0,
           batch, bptt);
}

typedef struct eval_args {
    size_t batch, bptt, threads;
    cli_mix mix;
    const char *tune;
    int tokenize, lowercase;
} eval_args;

static int option(void *ud, int c, const char *arg)
{
    eval_args *a = ud;
    int ok = cli_mix_option(&a->mix, c, arg);
    if (ok >= 0)
        return ok;
    switch (c) {
    case O_BATCH: return cli_size_min(arg, &a->batch, 1);
    case O_BPTT: return cli_size_min(arg, &a->bptt, 1);
    case O_THREADS: return cli_size_min(arg, &a->threads, 0);
    case O_TUNE: a->tune = arg; return 1;
    case O_TOK:
        return (a->tokenize = lm_tokenize_parse(arg)) >= 0 ||
               cli_expect("words, whitespace or chars");
    case O_LOWER: a->lowercase = 1; return 1;
    default: return -1;
    }
}

int cmd_eval(int argc, char **argv)
{
    eval_args a = {.batch = 1, .bptt = 35, .tokenize = -1};
    cli_mix_init(&a.mix);
    int done = cli_parse("eval", argc, argv, "h", longopts, help, option, &a);
    if (done >= 0)
        return done;
    size_t batch = a.batch, bptt = a.bptt;
    const char *tune = a.tune;
    cli_mix mix = a.mix;
    int tokenize = a.tokenize, lowercase = a.lowercase;
    size_t threads = a.threads;
    if (argc - optind < 2)
        return cli_usage("eval", "need MODEL and at least one TEXT file");
    int mu = cli_mix_usage("eval", &mix, tune);
    if (mu >= 0)
        return mu;
    if (tune && !mix.n_paths)
        return cli_usage("eval", "--tune-lambda needs --mix OTHER");
    if (tune && mix.n_lambda)
        return cli_usage("eval", "--tune-lambda and --lambda exclude each other");
    cli_threads(threads);
    lm_error err = {0};
    lm_model *m = NULL;
    if (cli_load_model(argv[optind], &mix, tune, bptt, &m, &err))
        return cli_fail(&err);
    lm_text_opts t;
    lm_model_text_opts(m, &t);
    if (tokenize >= 0)
        t.tokenize = tokenize;
    t.lowercase |= lowercase;
    int rc = EXIT_OK;
    for (int i = optind + 1; i < argc; i++) {
        int32_t *ids;
        size_t n;
        lm_corpus_stats st;
        lm_eval_result r;
        if (lm_corpus_read(argv[i], &t, lm_model_vocab(m), &ids, &n, &st, &err)) {
            rc = cli_fail(&err);
            break;
        }
        double t0 = cli_now();
        int e = lm_model_eval(m, ids, n, batch, bptt, &r, &err);
        double el = cli_now() - t0;
        free(ids);
        if (e) {
            rc = cli_fail_file(argv[i], &err);
            break;
        }
        report(argv[i], &r, n, &st, el, batch, bptt);
        if (i + 1 < argc)
            printf("\n");
    }
    lm_model_free(m);
    return rc;
}
