/* cmd_eval.c - `lstmlm eval MODEL TEXT`: perplexity, bits per token, OOV counts, speed. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("Usage: lstmlm eval [options] MODEL.h5 TEXT...\n\n"
           "Reports the model's perplexity on each text file (read with the model's own\n"
           "tokenizer and vocabulary): including and excluding out-of-vocabulary targets,\n"
           "bits per token, token and OOV counts, and tokens per second. <eot> (end of turn or\n"
           "sentence) counts as a token; the first token of each stream is context only.\n\n"
           "  --batch N      parallel streams; 1 reads the text as one stream with the state\n"
           "                 carried throughout (exact) [1]\n"
           "  --bptt N       tokens per window [35]\n"
           "  --threads N    OpenBLAS and lstmlm threads [library default]\n"
           "  -h, --help     this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

static const struct option longopts[] = {
    {"batch", required_argument, NULL, 'b'},
    {"bptt", required_argument, NULL, 't'},
    {"threads", required_argument, NULL, 'j'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

int cmd_eval(int argc, char **argv)
{
    size_t batch = 1, bptt = 35, threads = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 'b':
            if (!cli_size(optarg, &batch) || !batch)
                return cli_usage("eval", "bad --batch '%s'", optarg);
            break;
        case 't':
            if (!cli_size(optarg, &bptt) || !bptt)
                return cli_usage("eval", "bad --bptt '%s'", optarg);
            break;
        case 'j':
            if (!cli_size(optarg, &threads))
                return cli_usage("eval", "bad --threads '%s'", optarg);
            break;
        case 'h': help(); return EXIT_OK;
        default: return cli_usage("eval", "unknown option");
        }
    }
    if (argc - optind < 2)
        return cli_usage("eval", "need MODEL.h5 and at least one TEXT file");
    cli_threads(threads);
    const char *path = argv[optind];
    lm_error err = {0};
    char arch[32];
    if (lm_file_arch(path, arch, sizeof arch, &err))
        return cli_fail(&err);
    if (!strcmp(arch, "ngram")) {
        /* n-gram models answer through their own command with the same report. */
        char **args = calloc((size_t)argc + 2, sizeof *args);
        if (!args)
            return EXIT_FAIL;
        args[0] = "ngram";
        args[1] = "eval";
        for (int i = optind; i < argc; i++)
            args[2 + i - optind] = argv[i];
        int rc = cmd_ngram(2 + argc - optind, args);
        free(args);
        return rc;
    }
    lm_model *m;
    if (lm_model_load(path, &m, &err))
        return cli_fail(&err);
    const lm_config *cfg = lm_model_config(m);
    lm_text_opts t = {cfg->tokenize, cfg->lowercase};
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
            rc = cli_fail(&err);
            break;
        }
        printf("file            %s\n", argv[i]);
        printf("tokens          %zu predicted (%zu in the file, %zu lines)\n", r.tokens, n,
               st.lines);
        printf("oov             %zu targets are <unk> (%.2f%%; %zu words were outside the "
               "vocabulary)\n", r.oov, r.tokens ? 100.0 * r.oov / r.tokens : 0.0, st.oov);
        printf("perplexity      %.2f\n", r.ppl);
        printf("ppl without oov %.2f\n", r.ppl_no_oov);
        printf("bits per token  %.4f\n", r.bits_per_token);
        printf("tokens/s        %.0f (batch %zu, bptt %zu)\n", el > 0 ? r.tokens / el : 0.0, batch,
               bptt);
        if (i + 1 < argc)
            printf("\n");
    }
    lm_model_free(m);
    return rc;
}
