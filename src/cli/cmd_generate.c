/* cmd_generate.c - `lstmlm generate MODEL`: sample text, streamed as it is produced. */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static void help(void)
{
    printf("Usage: lstmlm generate [options] MODEL\n\n"
           "Samples text from a model (any kind: neural, n-gram, ARPA, or a mixture with --mix)\n"
           "and streams it to standard output, detokenized: each\n"
           "<eot> (end of turn) starts a new line, <eoc> (end of conversation) a blank line.\n"
           "The model starts at a turn boundary; the prompt is fed next (not printed). Each\n"
           "prompt line that ends with a newline is a whole turn; a last line without one is\n"
           "continued.\n\n"
           "  -p, --prompt TEXT          text to continue\n"
           "  --prompt-file FILE         read the prompt from a file\n"
           "  -n, --tokens N             tokens to generate [50]\n"
           "  --stop-at-eot              stop at the first end of turn\n");
    cli_sampling_help();
    cli_mix_help();
    printf("  --threads N                OpenBLAS and lstmlm threads [library default]\n"
           "  --bench                    print generation speed (tokens/s, load and prompt\n"
           "                             excluded) to standard error\n"
           "  -h, --help                 this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n");
}

enum { O_PFILE = 256, O_STOP, O_BENCH };
static const struct option longopts[] = {
    {"prompt", required_argument, NULL, 'p'},
    {"prompt-file", required_argument, NULL, O_PFILE},
    {"tokens", required_argument, NULL, 'n'},
    {"stop-at-eot", no_argument, NULL, O_STOP},
    CLI_SAMPLING_LONGOPTS,
    CLI_MIX_LONGOPTS,
    {"bench", no_argument, NULL, O_BENCH},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Writes one token to stdout: <eot> a newline, <eoc> a blank line, a word with its spacing.
 * *prev is the previous word on the line (NULL at a line start). */
static void put_token(const lm_vocab *v, int tokenize, int32_t tok, const char **prev)
{
    if (tok == LM_TOK_EOT || tok == LM_TOK_EOC) {
        fputs(tok == LM_TOK_EOC ? "\n\n" : "\n", stdout);
        *prev = NULL;
    } else {
        const char *w = lm_vocab_token(v, tok);
        char piece[1100];
        fputs(lm_detok_piece(tokenize, *prev, w, piece, sizeof piece), stdout);
        *prev = w;
    }
    fflush(stdout);
}

typedef struct gen_args {
    cli_sampling cs;
    cli_mix mix;
    const char *prompt, *pfile;
    size_t n;
    bool stop, bench;
} gen_args;

static int option(void *ud, int c, const char *arg)
{
    gen_args *a = ud;
    int ok = cli_generation_option(&a->cs, &a->mix, c, arg);
    if (ok >= 0)
        return ok;
    switch (c) {
    case 'p': a->prompt = arg; return 1;
    case O_PFILE: a->pfile = arg; return 1;
    case 'n': return cli_size_min(arg, &a->n, 0);
    case O_STOP: a->stop = true; return 1;
    case O_BENCH: a->bench = true; return 1;
    default: return -1;
    }
}

int cmd_generate(int argc, char **argv)
{
    gen_args a = {.n = 50};
    cli_mix_init(&a.mix);
    if (!cli_sampling_init(&a.cs, argc))
        return EXIT_FAIL;
    int done = cli_parse("generate", argc, argv, "p:n:t:h", longopts, help, option, &a);
    if (done >= 0) {
        cli_sampling_free(&a.cs);
        return done;
    }
    cli_sampling cs = a.cs;
    cli_mix mix = a.mix;
    int mu = cli_mix_usage("generate", &mix, NULL);
    if (mu >= 0) {
        cli_sampling_free(&cs);
        return mu;
    }
    const char *prompt = a.prompt, *pfile = a.pfile;
    size_t n = a.n;
    bool stop = a.stop, bench = a.bench;
    lm_sampler_opts so = cs.sampler;
    lm_beam_opts bo;
    lm_beam_opts_init(&bo);
    bo.length_alpha = cs.length_alpha;
    const char **ban = cs.ban; /* freed below as ban */
    size_t threads = cs.threads, beam = cs.beam, n_ban = cs.n_ban;
    uint64_t seed = cs.seed;
    if (argc - optind != 1) {
        free(ban);
        return cli_usage("generate", "need one MODEL");
    }
    if (prompt && pfile) {
        free(ban);
        return cli_usage("generate", "--prompt and --prompt-file exclude each other");
    }
    cli_threads(threads);
    lm_error err = {0};
    const char *path = argv[optind];
    char *pbuf = NULL;
    if (pfile && !(pbuf = cli_read_file(pfile))) {
        fprintf(stderr, "lstmlm: %s: cannot read the prompt file\n", pfile);
        free(ban);
        return EXIT_FAIL;
    }
    lm_model *m = NULL;
    lm_state *s = NULL;
    float *logits = NULL;
    int32_t *ids = NULL, *hist = NULL, *scratch = NULL, *banned = NULL, *out = NULL;
    size_t n_ids = 0, n_hist = 0;
    int rc = EXIT_FAIL;
    if (cli_load_model(path, &mix, NULL, 0, &m, &err) || lm_state_create(m, &s, &err))
        goto fail;
    const lm_vocab *v = lm_model_vocab(m);
    size_t V = lm_vocab_size(v);
    if (cli_ban_ids(v, ban, n_ban, &banned, &err))
        goto fail;
    so.banned = banned;
    so.n_banned = n_ban;
    bo.banned = banned;
    bo.n_banned = n_ban;
    bo.allow_unk = so.allow_unk;
    lm_text_opts t;
    lm_model_text_opts(m, &t);
    const char *text = pbuf ? pbuf : prompt ? prompt : "";
    if (cli_prompt_ids(text, &t, v, &ids, &n_ids, &err))
        goto fail;
    logits = malloc(V * sizeof *logits);
    hist = malloc((n_ids + n + 1) * sizeof *hist);
    scratch = malloc(2 * V * sizeof *scratch);
    if (!logits || !hist || !scratch)
        goto oom;
    if (lm_step(m, s, LM_TOK_EOT, logits, &err))
        goto fail;
    for (size_t i = 0; i < n_ids; i++) {
        hist[n_hist++] = ids[i];
        if (lm_step(m, s, ids[i], logits, &err))
            goto fail;
    }
    lm_rng rng;
    lm_rng_seed(&rng, seed);
    const char *prev = NULL;
    double t0 = cli_now();
    size_t produced = 0;
    if (beam > 0 && n > 0) {
        size_t n_out = 0;
        int ended = 0;
        bo.beam = beam;
        bo.max_tokens = n;
        if (lm_beam_search(m, s, logits, &bo, &out, &n_out, &ended, NULL, NULL, &err))
            goto fail;
        for (size_t i = 0; i < n_out; i++)
            put_token(v, t.tokenize, out[i], &prev);
        produced = n_out + (size_t)ended;
        if (ended)
            put_token(v, t.tokenize, LM_TOK_EOT, &prev);
    }
    for (size_t i = 0; beam == 0 && i < n; i++) {
        int32_t tok = lm_sample(&so, logits, V, hist, n_hist, &rng, scratch);
        if (tok < 0) {
            snprintf(err.msg, sizeof err.msg, "every token is banned");
            goto fail;
        }
        hist[n_hist++] = tok;
        produced++;
        put_token(v, t.tokenize, tok, &prev);
        if ((tok == LM_TOK_EOT || tok == LM_TOK_EOC) && stop)
            break;
        if (i + 1 < n && lm_step(m, s, tok, logits, &err))
            goto fail;
    }
    double dt = cli_now() - t0;
    if (prev)
        fputc('\n', stdout);
    fflush(stdout);
    if (bench)
        fprintf(stderr, "generate: %zu tokens in %.3f s, %.1f tokens/s (batch 1, %s, %s, %zu "
                "params)\n", produced, dt, dt > 0 ? produced / dt : 0.0, lm_model_kind(m),
                lm_blas_core_name(), lm_model_n_params(m));
    rc = EXIT_OK;
    goto out;
oom:
    snprintf(err.msg, sizeof err.msg, "out of memory");
fail:
    cli_fail(&err);
out:
    lm_state_free(s);
    lm_model_free(m);
    free(logits);
    free(ids);
    free(hist);
    free(scratch);
    free(banned);
    free(out);
    free(pbuf);
    free(ban);
    return rc;
}
