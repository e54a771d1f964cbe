/* cmd_generate.c - `lstmlm generate MODEL`: sample text, streamed as it is produced. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    lm_sampler_opts s;
    lm_sampler_opts_init(&s);
    printf("Usage: lstmlm generate [options] MODEL.h5\n\n"
           "Samples text from a model and streams it to standard output, detokenized: each\n"
           "<eot> (end of turn) starts a new line, <eoc> (end of conversation) a blank line.\n"
           "The prompt is fed first (after an <eot>, so the model starts at a turn boundary);\n"
           "it is not printed.\n\n"
           "  -p, --prompt TEXT          text to continue\n"
           "  --prompt-file FILE         read the prompt from a file\n"
           "  -n, --tokens N             tokens to generate [50]\n"
           "  --stop-at-eot              stop at the first end of turn\n"
           "  -t, --temperature X        0 = greedy [%g]\n"
           "  --top-k N                  sample among the N most probable tokens [0 = off]\n"
           "  --top-p X                  nucleus sampling [%g = off]\n"
           "  --repetition-penalty X     penalise tokens of the last 64 [%g = off]\n"
           "  --presence-penalty X       subtract X from the logits of recent tokens [0 = off]\n"
           "  --allow-unk                let <unk> be sampled\n"
           "  --seed N                   [1]\n"
           "  --threads N                OpenBLAS threads [library default]\n"
           "  -h, --help                 this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n",
           s.temperature, s.top_p, s.repetition_penalty);
}

enum { O_PFILE = 256, O_STOP, O_TOPK, O_TOPP, O_REP, O_PRES, O_UNK, O_SEED, O_THREADS };
static const struct option longopts[] = {
    {"prompt", required_argument, NULL, 'p'},
    {"prompt-file", required_argument, NULL, O_PFILE},
    {"tokens", required_argument, NULL, 'n'},
    {"stop-at-eot", no_argument, NULL, O_STOP},
    {"temperature", required_argument, NULL, 't'},
    {"top-k", required_argument, NULL, O_TOPK},
    {"top-p", required_argument, NULL, O_TOPP},
    {"repetition-penalty", required_argument, NULL, O_REP},
    {"presence-penalty", required_argument, NULL, O_PRES},
    {"allow-unk", no_argument, NULL, O_UNK},
    {"seed", required_argument, NULL, O_SEED},
    {"threads", required_argument, NULL, O_THREADS},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static char *read_all(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t r;
    while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (cap - n < 2) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
    }
    fclose(f);
    if (b)
        b[n] = '\0';
    return b;
}

int cmd_generate(int argc, char **argv)
{
    lm_sampler_opts so;
    lm_sampler_opts_init(&so);
    const char *prompt = NULL, *pfile = NULL;
    size_t n = 50, threads = 0;
    uint64_t seed = 1;
    bool stop = false;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "p:n:t:h", longopts, NULL)) != -1) {
        bool ok = true;
        switch (c) {
        case 'p': prompt = optarg; break;
        case O_PFILE: pfile = optarg; break;
        case 'n': ok = cli_size(optarg, &n); break;
        case O_STOP: stop = true; break;
        case 't': ok = cli_double(optarg, &so.temperature) && so.temperature >= 0; break;
        case O_TOPK: ok = cli_size(optarg, &so.top_k); break;
        case O_TOPP: ok = cli_double(optarg, &so.top_p) && so.top_p > 0 && so.top_p <= 1; break;
        case O_REP: ok = cli_double(optarg, &so.repetition_penalty) && so.repetition_penalty > 0; break;
        case O_PRES: ok = cli_double(optarg, &so.presence_penalty); break;
        case O_UNK: so.allow_unk = 1; break;
        case O_SEED: ok = cli_u64(optarg, &seed); break;
        case O_THREADS: ok = cli_size(optarg, &threads); break;
        case 'h': help(); return EXIT_OK;
        default: return cli_usage("generate", "unknown option");
        }
        if (!ok)
            return cli_usage("generate", "bad value '%s'", optarg);
    }
    if (argc - optind != 1)
        return cli_usage("generate", "need one MODEL.h5");
    cli_threads(threads);
    lm_error err = {0};
    const char *path = argv[optind];
    char arch[32];
    if (lm_file_arch(path, arch, sizeof arch, &err))
        return cli_fail(&err);
    if (!strcmp(arch, "ngram")) {
        /* The n-gram command takes the same options. */
        argv[0] = "generate";
        char **args = calloc((size_t)argc + 2, sizeof *args);
        if (!args)
            return EXIT_FAIL;
        args[0] = "ngram";
        for (int i = 0; i < argc; i++)
            args[i + 1] = argv[i];
        int rc = cmd_ngram(argc + 1, args);
        free(args);
        return rc;
    }
    char *pbuf = NULL;
    if (pfile && !(pbuf = read_all(pfile))) {
        fprintf(stderr, "lstmlm: %s: cannot read the prompt file\n", pfile);
        return EXIT_FAIL;
    }
    lm_model *m = NULL;
    lm_state *s = NULL;
    float *logits = NULL;
    int32_t *ids = NULL, *hist = NULL, *scratch = NULL;
    size_t n_ids = 0, n_hist = 0;
    int rc = EXIT_FAIL;
    if (lm_model_load(path, &m, &err) || lm_state_create(m, &s, &err))
        goto fail;
    const lm_config *cf = lm_model_config(m);
    const lm_vocab *v = lm_model_vocab(m);
    lm_text_opts t = {cf->tokenize, cf->lowercase};
    const char *text = pbuf ? pbuf : prompt ? prompt : "";
    if (lm_text_to_ids(text, &t, v, 0, &ids, &n_ids, &err))
        goto fail;
    size_t V = cf->vocab;
    logits = malloc(V * sizeof *logits);
    hist = malloc((n_ids + n + 1) * sizeof *hist);
    scratch = malloc(2 * V * sizeof *scratch);
    if (!logits || !hist || !scratch) {
        snprintf(err.msg, sizeof err.msg, "out of memory");
        goto fail;
    }
    if (lm_step(m, s, LM_TOK_EOT, logits, &err))
        goto fail;
    for (size_t i = 0; i < n_ids; i++) {
        hist[n_hist++] = ids[i];
        if (lm_step(m, s, ids[i], logits, &err))
            goto fail;
    }
    lm_rng rng;
    lm_rng_seed(&rng, seed);
    const char *prev = n_ids ? lm_vocab_token(v, ids[n_ids - 1]) : NULL;
    for (size_t i = 0; i < n; i++) {
        int32_t tok = lm_sample(&so, logits, V, hist, n_hist, &rng, scratch);
        if (tok < 0) {
            snprintf(err.msg, sizeof err.msg, "every token is banned");
            goto fail;
        }
        hist[n_hist++] = tok;
        if (tok == LM_TOK_EOT || tok == LM_TOK_EOC) {
            fputs(tok == LM_TOK_EOC ? "\n\n" : "\n", stdout);
            prev = NULL;
            if (stop)
                break;
        } else {
            const char *w = lm_vocab_token(v, tok);
            if (lm_detok_space_before(prev, w))
                fputc(' ', stdout);
            fputs(w, stdout);
            prev = w;
        }
        fflush(stdout);
        if (lm_step(m, s, tok, logits, &err))
            goto fail;
    }
    if (prev)
        fputc('\n', stdout);
    rc = EXIT_OK;
    goto out;
fail:
    cli_fail(&err);
out:
    lm_state_free(s);
    lm_model_free(m);
    free(logits);
    free(ids);
    free(hist);
    free(scratch);
    free(pbuf);
    return rc;
}
