/* cmd_ngram.c - `lstmlm ngram train|export|import`: what only n-gram models need (counting,
 * and ARPA files both ways). Evaluating, sampling, chatting and inspecting go through the
 * commands every model kind shares. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void help_train(void)
{
    lm_ngram_opts o;
    lm_ngram_opts_init(&o);
    printf("Usage: lstmlm ngram train [options] FILE... -o MODEL.h5 [--arpa FILE]\n\n"
           "Counts the word (or character) n-grams of the files and smooths them with\n"
           "interpolated modified Kneser-Ney (three discounts per order estimated from the\n"
           "count-of-counts, continuation counts below the top order, interpolation down to a\n"
           "uniform distribution over the vocabulary). The files are read as 'lstmlm train'\n"
           "reads them (<eot> after each line, <eoc> after a conversation) and each is one\n"
           "continuous stream: the history of a token is the previous N-1 tokens, across\n"
           "<eot>. With --sentences the history restarts at every line, as in SRILM, KenLM\n"
           "and IRSTLM (each line is <s> w1 .. wn </s>), and the ARPA file means exactly\n"
           "what the model means.\n\n"
           "  --order N               n-gram order, 1..7 [%zu]\n"
           "  --sentences             every line starts after <s>: no n-gram reaches back\n"
           "                          past the previous line's <eot> [off]\n"
           "  --prune-singletons K    drop n-grams seen once whose order is >= K (K >= 2)\n"
           "                          [0 = keep all]\n"
           "  --max-vocab N           keep the N most frequent types, specials included\n"
           "                          [no limit]\n"
           "  --min-count N           drop types seen fewer than N times [1]\n"
           "  --tokenize MODE         words | whitespace (pre-tokenized, e.g. PTB) | chars\n"
           "                          [words]\n"
           "  --chars                 character n-grams (the same as --tokenize chars)\n"
           "  --lowercase             lower-case ASCII letters\n"
           "  --vocab-from MODEL      the vocabulary and tokenizer of another model file\n"
           "                          (any kind), e.g. a KN-5 to mix with a fine-tuned\n"
           "                          network\n"
           "  --arpa FILE             also write the model in ARPA format (with <s>, </s>)\n"
           "  -o, --output FILE       model file to write (HDF5)\n"
           "  -q, --quiet             no summary on standard error\n"
           "  -h, --help              this text\n",
           o.order);
}

static void help_export(void)
{
    printf("Usage: lstmlm ngram export MODEL.h5 --arpa FILE\n\n"
           "Writes the model in the ARPA back-off format (log10 probabilities that include the\n"
           "interpolated lower orders, log10 back-off weights for every n-gram that is a\n"
           "context). <eot> is written </s> where it is predicted and <s> where it begins a\n"
           "line's context (the unigram <s> at -99 holds its back-off weight); <unk> and <eoc>\n"
           "keep their names. 'ngram import' reads the file back to the same model.\n\n"
           "  --arpa FILE             ARPA file to write\n"
           "  -h, --help              this text\n");
}

static void help_import(void)
{
    printf("Usage: lstmlm ngram import MODEL.arpa -o MODEL.h5\n\n"
           "Reads an ARPA back-off model (SRILM, KenLM, IRSTLM or this toolkit; plain or gzip)\n"
           "and writes it as an n-gram model file that every command uses.\n"
           "</s> becomes <eot>, <s> the <eot> before a line; the model is a sentence model\n"
           "(the history restarts at every line) that reads text split on whitespace, unless\n"
           "the file's '# lstmlm' comment says otherwise. Malformed files are refused with\n"
           "the line.\n\n"
           "  -o, --output FILE       model file to write (HDF5)\n"
           "  -q, --quiet             no summary on standard error\n"
           "  -h, --help              this text\n");
}

static void help(void)
{
    printf("Usage: lstmlm ngram train|export|import [options] ...\n\n"
           "Modified Kneser-Ney n-gram baselines on the same corpora, vocabulary and\n"
           "conventions as the neural models, and ARPA files both ways. An n-gram model file\n"
           "(or an ARPA file) is a model like any other: 'lstmlm eval', 'generate', 'chat',\n"
           "'info' and 'memory' take it, and their mixture option interpolates it with a\n"
           "neural model.\n\n");
    help_train();
    printf("\n");
    help_export();
    printf("\n");
    help_import();
    printf("\nExit status: 0 done, 1 failure, 2 bad usage.\n");
}

/* ---- train ------------------------------------------------------------------------------- */

enum { O_ORDER = 256, O_PRUNE, O_MAXV, O_MINC, O_TOK, O_CHARS, O_LOWER, O_ARPA, O_SENT, O_VFROM };

static int ngram_train(int argc, char **argv)
{
    static const struct option lo[] = {
        {"order", required_argument, NULL, O_ORDER},
        {"sentences", no_argument, NULL, O_SENT},
        {"prune-singletons", required_argument, NULL, O_PRUNE},
        {"max-vocab", required_argument, NULL, O_MAXV},
        {"min-count", required_argument, NULL, O_MINC},
        {"tokenize", required_argument, NULL, O_TOK},
        {"chars", no_argument, NULL, O_CHARS},
        {"lowercase", no_argument, NULL, O_LOWER},
        {"vocab-from", required_argument, NULL, O_VFROM},
        {"arpa", required_argument, NULL, O_ARPA},
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lm_ngram_opts o;
    lm_text_opts t;
    lm_vocab_opts vo;
    lm_ngram_opts_init(&o);
    lm_text_opts_init(&t);
    lm_vocab_opts_init(&vo);
    const char *out = NULL, *arpa = NULL, *vocab_from = NULL, *own = NULL;
    bool quiet = false;
    int c, idx = 0;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", lo, &idx)) != -1) {
        bool ok = true;
        if (c == O_MAXV || c == O_MINC || c == O_TOK || c == O_CHARS || c == O_LOWER)
            own = lo[idx].name;
        switch (c) {
        case O_ORDER: ok = cli_size(optarg, &o.order) && o.order >= 1 &&
                           o.order <= LM_NGRAM_MAX_ORDER; break;
        case O_SENT: o.sentences = 1; break;
        case O_PRUNE: ok = cli_size(optarg, &o.prune_singletons) && o.prune_singletons != 1; break;
        case O_MAXV: ok = cli_size(optarg, &vo.max_vocab); break;
        case O_MINC: ok = cli_size(optarg, &vo.min_count); break;
        case O_TOK:
            if ((t.tokenize = lm_tokenize_parse(optarg)) < 0)
                return cli_usage("ngram train", "--tokenize: bad value '%s' (expected words, "
                                 "whitespace or chars)", optarg);
            break;
        case O_CHARS: t.tokenize = LM_TOKENIZE_CHARS; break;
        case O_LOWER: t.lowercase = 1; break;
        case O_ARPA: arpa = optarg; break;
        case O_VFROM: vocab_from = optarg; break;
        case 'o': out = optarg; break;
        case 'q': quiet = true; break;
        case 'h': help_train(); return EXIT_OK;
        default: return cli_getopt_error("ngram train", c, lo, argv);
        }
        if (!ok)
            return cli_usage("ngram train", "bad value '%s'", optarg);
    }
    if (optind >= argc)
        return cli_usage("ngram train", "missing training FILE");
    if (!out && !arpa)
        return cli_usage("ngram train", "missing -o MODEL.h5 (or --arpa FILE)");
    if (vo.max_vocab && vo.max_vocab <= LM_N_SPECIAL)
        return cli_usage("ngram train", "--max-vocab must leave room beyond the %d specials",
                         LM_N_SPECIAL);
    if (vocab_from && own)
        return cli_usage("ngram train", "--%s conflicts with --vocab-from (the vocabulary and "
                         "tokenizer are %s's)", own, vocab_from);
    size_t nf = (size_t)(argc - optind);
    const char *const *files = (const char *const *)argv + optind;
    lm_error err = {0};
    lm_vocab *vocab = NULL;
    lm_ngram *m = NULL;
    int32_t **ids = calloc(nf, sizeof *ids);
    size_t *lens = calloc(nf, sizeof *lens);
    int rc = EXIT_FAIL;
    double t0 = cli_now();
    size_t lines = 0, oov = 0, tokens = 0;
    if (!ids || !lens) {
        snprintf(err.msg, sizeof err.msg, "out of memory");
        goto fail;
    }
    if (vocab_from ? cli_vocab_from(vocab_from, &vocab, &t, &err)
                   : lm_vocab_build(files, nf, &t, &vo, &vocab, &err))
        goto fail;
    o.tokenize = t.tokenize;
    o.lowercase = t.lowercase;
    for (size_t i = 0; i < nf; i++) {
        lm_corpus_stats st;
        if (lm_corpus_read(files[i], &t, vocab, &ids[i], &lens[i], &st, &err))
            goto fail;
        lines += st.lines;
        oov += st.oov;
        tokens += lens[i];
    }
    double t_read = cli_now();
    if (lm_ngram_train(&o, vocab, (const int32_t *const *)ids, lens, nf, &m, &err)) {
        vocab = NULL;
        goto fail;
    }
    vocab = NULL;
    double t_count = cli_now();
    if (out && lm_ngram_save(m, out, &err))
        goto fail;
    if (arpa && lm_ngram_write_arpa(m, arpa, &err))
        goto fail;
    if (!quiet) {
        lm_ngram_info in;
        lm_ngram_get_info(m, &in);
        fprintf(stderr, "%zu file%s: %zu tokens, %zu lines, vocabulary %zu (%zu OOV tokens), "
                "%s%s, %s\n", nf, nf == 1 ? "" : "s", tokens, lines, in.vocab, oov,
                lm_tokenize_name(t.tokenize), t.lowercase ? ", lower-cased" : "",
                o.sentences ? "sentences" : "stream");
        fprintf(stderr, "order  n-grams      n1        n2        n3        n4         D1      D2"
                        "      D3+\n");
        for (size_t k = 0; k < in.order; k++)
            fprintf(stderr, "%5zu  %-11zu  %-8llu  %-8llu  %-8llu  %-8llu  %6.4f  %6.4f  %6.4f%s\n",
                    k + 1, in.count[k], (unsigned long long)in.count_of_counts[k][0],
                    (unsigned long long)in.count_of_counts[k][1],
                    (unsigned long long)in.count_of_counts[k][2],
                    (unsigned long long)in.count_of_counts[k][3], in.discount[k][0],
                    in.discount[k][1], in.discount[k][2], in.fallback[k] ? "  (fallback)" : "");
        fprintf(stderr, "read %.2fs, counted and smoothed %.2fs, written %.2fs%s%s%s%s\n",
                t_read - t0, t_count - t_read, cli_now() - t_count, out ? "; model " : "",
                out ? out : "", arpa ? "; ARPA " : "", arpa ? arpa : "");
    }
    rc = EXIT_OK;
    goto out;
fail:
    cli_fail(&err);
out:
    lm_ngram_free(m);
    lm_vocab_free(vocab);
    if (ids)
        for (size_t i = 0; i < nf; i++)
            free(ids[i]);
    free(ids);
    free(lens);
    return rc;
}

/* ---- info and export --------------------------------------------------------------------- */

static int ngram_export(int argc, char **argv)
{
    static const struct option lo[] = {
        {"arpa", required_argument, NULL, O_ARPA},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *arpa = NULL;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case O_ARPA: arpa = optarg; break;
        case 'h': help_export(); return EXIT_OK;
        default: return cli_getopt_error("ngram export", c, lo, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage("ngram export", "need one MODEL.h5");
    if (!arpa)
        return cli_usage("ngram export", "missing --arpa FILE");
    lm_error err = {0};
    lm_ngram *m;
    if (lm_ngram_load(argv[optind], &m, &err))
        return cli_fail(&err);
    int rc = lm_ngram_write_arpa(m, arpa, &err) ? cli_fail(&err) : EXIT_OK;
    lm_ngram_free(m);
    return rc;
}

static int ngram_import(int argc, char **argv)
{
    static const struct option lo[] = {
        {"output", required_argument, NULL, 'o'},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *out = NULL;
    bool quiet = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", lo, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'q': quiet = true; break;
        case 'h': help_import(); return EXIT_OK;
        default: return cli_getopt_error("ngram import", c, lo, argv);
        }
    }
    if (argc - optind != 1)
        return cli_usage("ngram import", "need one MODEL.arpa");
    if (!out)
        return cli_usage("ngram import", "missing -o MODEL.h5");
    lm_error err = {0};
    lm_ngram *m;
    if (lm_ngram_read_arpa(argv[optind], &m, &err))
        return cli_fail(&err);
    int rc = lm_ngram_save(m, out, &err) ? cli_fail(&err) : EXIT_OK;
    if (rc == EXIT_OK && !quiet) {
        lm_ngram_info in;
        lm_ngram_get_info(m, &in);
        const lm_ngram_opts *o = lm_ngram_options(m);
        fprintf(stderr, "%s: order %zu, vocabulary %zu, %s, %s%s; n-grams", argv[optind],
                in.order, in.vocab, o->sentences ? "sentences" : "stream",
                lm_tokenize_name(o->tokenize), o->lowercase ? ", lower-cased" : "");
        for (size_t k = 0; k < in.order; k++)
            fprintf(stderr, " %zu", in.count[k]);
        fprintf(stderr, "; model %s\n", out);
    }
    lm_ngram_free(m);
    return rc;
}

int cmd_ngram(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("ngram", "need a sub-command: train, export or import");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h")) {
        help();
        return EXIT_OK;
    }
    if (!strcmp(sub, "train"))
        return ngram_train(argc - 1, argv + 1);
    if (!strcmp(sub, "generate") || !strcmp(sub, "eval") || !strcmp(sub, "info"))
        return cli_usage("ngram", "'ngram %s' is 'lstmlm %s MODEL', which takes n-gram and "
                         "ARPA files like any other model", sub, sub);
    if (!strcmp(sub, "export"))
        return ngram_export(argc - 1, argv + 1);
    if (!strcmp(sub, "import"))
        return ngram_import(argc - 1, argv + 1);
    return cli_usage("ngram", "unknown sub-command '%s' (expected train, export or import)",
                     sub);
}
