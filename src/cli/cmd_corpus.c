/* cmd_corpus.c - `lstmlm corpus import|split|stats`: raw dialogue corpora into the
 * turn-per-line format, conversation-level splits and corpus statistics. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- output files written to NAME.tmp and renamed into place ----------------------------- */

typedef struct out_file {
    const char *path; /* final name, "-" for stdout */
    char *tmp;        /* temporary name, NULL for stdout */
    FILE *f;
} out_file;

static int out_open(out_file *o, const char *path, lm_error *err)
{
    o->path = path;
    o->tmp = NULL;
    if (!strcmp(path, "-")) {
        o->f = stdout;
        return 0;
    }
    size_t n = strlen(path);
    o->tmp = malloc(n + 5);
    if (!o->tmp) {
        err->code = LM_ENOMEM;
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return -1;
    }
    memcpy(o->tmp, path, n);
    memcpy(o->tmp + n, ".tmp", 5);
    o->f = fopen(o->tmp, "wb");
    if (!o->f) {
        err->code = LM_EIO;
        snprintf(err->msg, sizeof err->msg, "%s: %s", o->tmp, strerror(errno));
        free(o->tmp);
        o->tmp = NULL;
        return -1;
    }
    return 0;
}

/* Closes the file; on success renames it into place, otherwise removes it. Returns 0 or -1
 * (err set) when closing or renaming fails. */
static int out_close(out_file *o, int ok, lm_error *err)
{
    int rc = 0;
    if (!o->f)
        return 0;
    if (o->f == stdout) {
        if (fflush(stdout) != 0 && ok) {
            err->code = LM_EIO;
            snprintf(err->msg, sizeof err->msg, "standard output: %s", strerror(errno));
            rc = -1;
        }
    } else {
        if (fclose(o->f) != 0 && ok) {
            err->code = LM_EIO;
            snprintf(err->msg, sizeof err->msg, "%s: %s", o->tmp, strerror(errno));
            ok = 0;
            rc = -1;
        }
        if (ok && rename(o->tmp, o->path) != 0) {
            err->code = LM_EIO;
            snprintf(err->msg, sizeof err->msg, "%s: %s", o->path, strerror(errno));
            ok = 0;
            rc = -1;
        }
        if (!ok)
            remove(o->tmp);
    }
    free(o->tmp);
    o->tmp = NULL;
    o->f = NULL;
    return rc;
}

/* ---- import ------------------------------------------------------------------------------- */

typedef struct warn_printer {
    size_t shown, max;
} warn_printer;

static void print_warning(void *ud, const char *file, size_t line, const char *msg)
{
    warn_printer *w = ud;
    if (w->shown >= w->max)
        return;
    w->shown++;
    if (line)
        fprintf(stderr, "%s:%zu: %s\n", file, line, msg);
    else
        fprintf(stderr, "%s: %s\n", file, msg);
}

static void import_help(FILE *f, const lm_import_opts *d, size_t max_warnings)
{
    fprintf(f,
            "Usage: lstmlm corpus import --format FORMAT [options] INPUT... -o OUT\n"
            "\n"
            "Converts raw dialogue corpora into lstmlm's text format: one turn per line,\n"
            "a blank line after each conversation.\n"
            "\n"
            "Formats:\n"
            "  cornell  Cornell Movie-Dialogs: movie_lines.txt and movie_conversations.txt,\n"
            "           or the directory holding them\n"
            "  srt      SubRip subtitles: .srt files or directories of them\n"
            "  eou      one conversation per line, turns ended by __eou__ (DailyDialog)\n"
            "  text     one turn per line, blank lines between conversations\n"
            "\n"
            "Options:\n"
            "  -f, --format FORMAT     input format (required)\n"
            "  -o, --output OUT        output file, '-' for standard output (required)\n"
            "      --speakers          cornell: prefix turns with the character's name\n"
            "      --gap SECONDS       srt: a longer silence between cues starts a new\n"
            "                          conversation [%g]\n"
            "      --max-warnings N    print at most N warnings (all are counted) [%zu]\n"
            "  -q, --quiet             print neither warnings nor the summary\n"
            "  -h, --help              show this help\n"
            "\n"
            "Exit status: 0 success, 1 failure (unreadable, empty or binary input), 2 misuse.\n",
            d->gap, max_warnings);
}

static int corpus_import(int argc, char **argv)
{
    static const char *cmd = "corpus import";
    enum { OPT_SPEAKERS = 256, OPT_GAP, OPT_MAX_WARNINGS };
    static const struct option longopts[] = {
        {"format", required_argument, NULL, 'f'},
        {"output", required_argument, NULL, 'o'},
        {"speakers", no_argument, NULL, OPT_SPEAKERS},
        {"gap", required_argument, NULL, OPT_GAP},
        {"max-warnings", required_argument, NULL, OPT_MAX_WARNINGS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lm_import_opts o;
    lm_import_opts_init(&o);
    warn_printer wp = {0, 20};
    const char *format = NULL, *output = NULL;
    int quiet = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":f:o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'f':
            format = optarg;
            break;
        case 'o':
            output = optarg;
            break;
        case OPT_SPEAKERS:
            o.speakers = 1;
            break;
        case OPT_GAP:
            if (!cli_double(optarg, &o.gap) || o.gap < 0)
                return cli_usage(cmd, "--gap needs a number of seconds >= 0, not '%s'", optarg);
            break;
        case OPT_MAX_WARNINGS:
            if (!cli_size(optarg, &wp.max))
                return cli_usage(cmd, "--max-warnings needs a whole number, not '%s'", optarg);
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h': {
            lm_import_opts d;
            lm_import_opts_init(&d);
            import_help(stdout, &d, 20);
            return EXIT_OK;
        }
        default:
            return cli_getopt_error(cmd, c, longopts, argv);
        }
    }
    if (!format)
        return cli_usage(cmd, "--format is required (cornell, srt, eou or text)");
    int fmt = lm_import_format_parse(format);
    if (fmt < 0)
        return cli_usage(cmd, "unknown format '%s' (cornell, srt, eou or text)", format);
    o.format = fmt;
    if (!output)
        return cli_usage(cmd, "-o OUT is required ('-' for standard output)");
    if (optind >= argc)
        return cli_usage(cmd, "no input files");
    if (quiet)
        wp.max = 0;
    o.warn = print_warning;
    o.warn_ud = &wp;

    lm_error err = {0};
    out_file out;
    if (out_open(&out, output, &err))
        return cli_fail(&err);
    double t0 = cli_now();
    lm_import_stats st;
    int rc = lm_corpus_import(&o, (const char *const *)argv + optind, (size_t)(argc - optind),
                              out.f, &st, &err);
    if (out_close(&out, rc == LM_OK, &err) && rc == LM_OK)
        rc = err.code;
    if (rc)
        return cli_fail(&err);
    double secs = cli_now() - t0;
    if (!quiet) {
        if (st.warnings > wp.shown)
            fprintf(stderr, "(%zu more warnings not shown; see --max-warnings)\n",
                    st.warnings - wp.shown);
        fprintf(stderr,
                "imported %zu conversations, %zu turns from %zu file%s in %.3f s: %zu warnings, "
                "%zu missing line ids, %zu empty records skipped, %zu bytes recoded -> %s\n",
                st.conversations, st.turns, st.files, st.files == 1 ? "" : "s", secs,
                st.warnings, st.missing_ids, st.empty, st.recoded,
                strcmp(output, "-") ? output : "standard output");
    }
    return EXIT_OK;
}

/* ---- split -------------------------------------------------------------------------------- */

static void split_help(FILE *f)
{
    fprintf(f,
            "Usage: lstmlm corpus split IN -o PREFIX [options]\n"
            "\n"
            "Splits a turn-per-line corpus by whole conversations into PREFIX.train.txt,\n"
            "PREFIX.valid.txt and PREFIX.test.txt. The same seed gives the same split.\n"
            "\n"
            "Options:\n"
            "  -o, --output PREFIX   prefix of the three output files (required)\n"
            "      --valid F         fraction of conversations for validation [0.05]\n"
            "      --test F          fraction of conversations for test [0.05]\n"
            "      --seed N          seed of the shuffle [1]\n"
            "  -q, --quiet           do not print the summary\n"
            "  -h, --help            show this help\n"
            "\n"
            "A part whose fraction is 0 is not written.\n"
            "Exit status: 0 success, 1 failure, 2 misuse.\n");
}

static int corpus_split(int argc, char **argv)
{
    static const char *cmd = "corpus split";
    enum { OPT_VALID = 256, OPT_TEST, OPT_SEED };
    static const struct option longopts[] = {
        {"output", required_argument, NULL, 'o'},
        {"valid", required_argument, NULL, OPT_VALID},
        {"test", required_argument, NULL, OPT_TEST},
        {"seed", required_argument, NULL, OPT_SEED},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    double valid = 0.05, test = 0.05;
    uint64_t seed = 1;
    const char *prefix = NULL;
    int quiet = 0, c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'o':
            prefix = optarg;
            break;
        case OPT_VALID:
        case OPT_TEST: {
            double *v = c == OPT_VALID ? &valid : &test;
            if (!cli_double(optarg, v) || *v < 0 || *v >= 1)
                return cli_usage(cmd, "--%s needs a fraction in [0, 1), not '%s'",
                                 c == OPT_VALID ? "valid" : "test", optarg);
            break;
        }
        case OPT_SEED:
            if (!cli_u64(optarg, &seed))
                return cli_usage(cmd, "--seed needs a whole number, not '%s'", optarg);
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            split_help(stdout);
            return EXIT_OK;
        default:
            return cli_getopt_error(cmd, c, longopts, argv);
        }
    }
    if (optind >= argc)
        return cli_usage(cmd, "no input file");
    if (optind + 1 < argc)
        return cli_usage(cmd, "one input file expected, got %d", argc - optind);
    if (!prefix)
        return cli_usage(cmd, "-o PREFIX is required");
    if (valid + test >= 1)
        return cli_usage(cmd, "--valid and --test must sum below 1");

    static const char *const names[3] = {"train", "valid", "test"};
    const double frac[3] = {1, valid, test};
    char *paths[3] = {NULL, NULL, NULL};
    out_file outs[3] = {{0}};
    FILE *files[3] = {NULL, NULL, NULL};
    lm_error err = {0};
    int rc = LM_OK;
    for (int p = 0; p < 3 && !rc; p++) {
        if (frac[p] <= 0)
            continue;
        size_t n = strlen(prefix) + strlen(names[p]) + 7;
        paths[p] = malloc(n);
        if (!paths[p]) {
            rc = LM_ENOMEM;
            snprintf(err.msg, sizeof err.msg, "out of memory");
            break;
        }
        snprintf(paths[p], n, "%s.%s.txt", prefix, names[p]);
        if (out_open(&outs[p], paths[p], &err))
            rc = err.code;
        files[p] = outs[p].f;
    }
    lm_rng rng;
    lm_rng_seed(&rng, seed);
    lm_split_stats st;
    if (!rc)
        rc = lm_corpus_split(argv[optind], valid, test, &rng, files, &st, &err);
    for (int p = 0; p < 3; p++)
        if (out_close(&outs[p], rc == LM_OK, &err) && rc == LM_OK)
            rc = err.code;
    if (!rc && !quiet)
        for (int p = 0; p < 3; p++)
            if (paths[p])
                fprintf(stderr, "%-5s %8zu conversations %9zu turns -> %s\n", names[p],
                        st.conversations[p], st.turns[p], paths[p]);
    for (int p = 0; p < 3; p++)
        free(paths[p]);
    return rc ? cli_fail(&err) : EXIT_OK;
}

/* ---- stats -------------------------------------------------------------------------------- */

static void stats_help(FILE *f)
{
    fprintf(f,
            "Usage: lstmlm corpus stats FILE [options]\n"
            "\n"
            "Counts conversations, turns and tokens of a turn-per-line corpus the way the\n"
            "models read it (words, then <eot> after each turn and <eoc> after each\n"
            "conversation), the vocabulary, the OOV rate at a vocabulary size and a\n"
            "histogram of turn lengths.\n"
            "\n"
            "Options:\n"
            "      --max-vocab N        vocabulary size, specials included; 0 = all types [0]\n"
            "      --lowercase          lower-case ASCII letters first\n"
            "      --tokenize MODE      words, whitespace or chars [words]\n"
            "  -h, --help               show this help\n"
            "\n"
            "Exit status: 0 success, 1 failure, 2 misuse.\n");
}

static double pct(size_t a, size_t b)
{
    return b ? 100.0 * (double)a / (double)b : 0.0;
}

static int corpus_stats(int argc, char **argv)
{
    static const char *cmd = "corpus stats";
    enum { OPT_MAX_VOCAB = 256, OPT_LOWERCASE, OPT_TOKENIZE };
    static const struct option longopts[] = {
        {"max-vocab", required_argument, NULL, OPT_MAX_VOCAB},
        {"lowercase", no_argument, NULL, OPT_LOWERCASE},
        {"tokenize", required_argument, NULL, OPT_TOKENIZE},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    lm_text_opts t;
    lm_text_opts_init(&t);
    size_t max_vocab = 0;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (c) {
        case OPT_MAX_VOCAB:
            if (!cli_size(optarg, &max_vocab) || (max_vocab && max_vocab <= LM_N_SPECIAL))
                return cli_usage(cmd, "--max-vocab needs 0 or a whole number above %d, not '%s'",
                                 LM_N_SPECIAL, optarg);
            break;
        case OPT_LOWERCASE:
            t.lowercase = 1;
            break;
        case OPT_TOKENIZE:
            if ((t.tokenize = lm_tokenize_parse(optarg)) < 0)
                return cli_usage(cmd, "--tokenize: bad value '%s' (expected words, whitespace "
                                 "or chars)", optarg);
            break;
        case 'h':
            stats_help(stdout);
            return EXIT_OK;
        default:
            return cli_getopt_error(cmd, c, longopts, argv);
        }
    }
    if (optind >= argc)
        return cli_usage(cmd, "no input file");
    if (optind + 1 < argc)
        return cli_usage(cmd, "one input file expected, got %d", argc - optind);
    const char *path = argv[optind];
    lm_corpus_desc d;
    lm_error err = {0};
    if (lm_corpus_describe(path, &t, max_vocab, &d, &err))
        return cli_fail(&err);

    size_t eoc = d.tokens - d.words - d.turns;
    printf("file           %s\n", path);
    printf("conversations  %zu (%.1f turns each, longest %zu)\n", d.conversations,
           d.conversations ? (double)d.turns / (double)d.conversations : 0.0,
           d.longest_conversation);
    printf("turns          %zu (%.1f words each, longest %zu)\n", d.turns,
           d.turns ? (double)d.words / (double)d.turns : 0.0, d.longest_turn);
    printf("tokens         %zu (%zu words + %zu <eot> + %zu <eoc>)\n", d.tokens, d.words, d.turns,
           eoc);
    printf("word types     %zu\n", d.types);
    printf("vocabulary     %zu (specials included%s)\n", d.vocab,
           max_vocab ? "" : "; no --max-vocab limit");
    printf("OOV            %zu tokens: %.2f%% of tokens, %.2f%% of words\n", d.oov,
           pct(d.oov, d.tokens), pct(d.oov, d.words));
    printf("turn length in words:\n");
    size_t top = 1;
    for (int i = 0; i < LM_DESC_BINS; i++)
        if (d.hist[i] > top)
            top = d.hist[i];
    for (int i = 0; i < LM_DESC_BINS; i++) {
        char label[32];
        if (i == LM_DESC_BINS - 1)
            snprintf(label, sizeof label, "%d+", i * LM_DESC_BIN_WIDTH + 1);
        else
            snprintf(label, sizeof label, "%d-%d", i * LM_DESC_BIN_WIDTH + 1,
                     (i + 1) * LM_DESC_BIN_WIDTH);
        int bar = (int)((d.hist[i] * 40 + top - 1) / top);
        printf("  %7s |%-40.*s %zu (%.1f%%)\n", label, bar,
               "########################################", d.hist[i], pct(d.hist[i], d.turns));
    }
    if (fflush(stdout) != 0)
        return cli_fail(&(lm_error){LM_EIO, "standard output: write error"});
    return EXIT_OK;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

static void corpus_help(FILE *f)
{
    fprintf(f, "Usage: lstmlm corpus SUBCOMMAND [options]\n"
               "\n"
               "Subcommands:\n"
               "  import   convert Cornell, SubRip (.srt), __eou__ or plain text corpora into\n"
               "           the turn-per-line format\n"
               "  split    split a corpus into train, valid and test by whole conversations\n"
               "  stats    conversations, turns, tokens, vocabulary, OOV rate, turn lengths\n"
               "\n"
               "'lstmlm corpus SUBCOMMAND --help' describes a subcommand.\n");
}

int cmd_corpus(int argc, char **argv)
{
    if (argc < 2)
        return cli_usage("corpus", "missing subcommand (import, split or stats)");
    const char *sub = argv[1];
    if (!strcmp(sub, "--help") || !strcmp(sub, "-h") || !strcmp(sub, "help")) {
        corpus_help(stdout);
        return EXIT_OK;
    }
    if (!strcmp(sub, "import"))
        return corpus_import(argc - 1, argv + 1);
    if (!strcmp(sub, "split"))
        return corpus_split(argc - 1, argv + 1);
    if (!strcmp(sub, "stats"))
        return corpus_stats(argc - 1, argv + 1);
    return cli_usage("corpus", "unknown sub-command '%s' (expected import, split or stats)", sub);
}
