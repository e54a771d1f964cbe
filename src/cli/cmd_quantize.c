/* cmd_quantize.c - `lstmlm quantize MODEL -o OUT --type bf16|int8`: a neural model with its
 * weight matrices in reduced precision, and optionally how far its predictions moved. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *default_type = "int8";
static const size_t default_check_tokens = 10000;

static void help(void)
{
    printf("Usage: lstmlm quantize [options] MODEL -o OUT\n\n"
           "Writes a copy of a float32 neural model (LSTM, RWKV or transformer) whose weight\n"
           "matrices (embedding, head, recurrent and projection weights) are stored in reduced\n"
           "precision; biases, LayerNorms and the RWKV decay and mix vectors stay float32.\n"
           "Every command that reads a model (eval, generate, chat, info, memory, --mix)\n"
           "takes the file; it is not trained further.\n\n"
           "  -o, --output FILE   the quantized model (required)\n"
           "  --type TYPE         bf16 (bfloat16, 2 bytes a weight), int8 (blocks of 32\n"
           "                      weights with one float16 scale, 8.5 bits a weight) or f32\n"
           "                      (no reduction, for checking) [%s]\n"
           "  --check TEXT        then compare the two models on TEXT, one stream: perplexity\n"
           "                      of each, mean KL divergence of the quantized model's\n"
           "                      next-token distribution from the float32 one, and how often\n"
           "                      their most likely next tokens agree\n"
           "  --check-tokens N    compare on the first N tokens of TEXT (0 = all) [%zu]\n"
           "  -q, --quiet         no summary on standard error\n"
           "  -h, --help          this text\n\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n",
           default_type, default_check_tokens);
}

enum { O_TYPE = 256, O_CHECK, O_CHECK_TOKENS };
static const struct option longopts[] = {
    {"output", required_argument, NULL, 'o'},
    {"type", required_argument, NULL, O_TYPE},
    {"check", required_argument, NULL, O_CHECK},
    {"check-tokens", required_argument, NULL, O_CHECK_TOKENS},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static double file_mib(const char *path)
{
    struct stat st;
    return stat(path, &st) ? 0.0 : (double)st.st_size / 1048576.0;
}

/* Steps both models over ids[0..n) as one stream and prints the comparison. */
static int compare(const lm_model *a, const lm_model *b, const int32_t *ids, size_t n,
                   lm_error *err)
{
    size_t V = lm_vocab_size(lm_model_vocab(a));
    lm_state *sa = NULL, *sb = NULL;
    float *pa = malloc(V * sizeof *pa), *pb = malloc(V * sizeof *pb);
    int rc = pa && pb ? LM_OK : LM_ENOMEM;
    if (rc) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        err->code = rc;
    }
    if (!rc && !(rc = lm_state_create(a, &sa, err)))
        rc = lm_state_create(b, &sb, err);
    double nll_a = 0, nll_b = 0, kl = 0, kl_max = 0;
    size_t agree = 0, k = 0;
    for (size_t t = 0; !rc && t + 1 < n; t++) {
        if ((rc = lm_step(a, sa, ids[t], pa, err)) || (rc = lm_step(b, sb, ids[t], pb, err)))
            break;
        int32_t y = ids[t + 1];
        nll_a -= pa[y];
        nll_b -= pb[y];
        double d = 0;
        size_t ta = 0, tb = 0;
        for (size_t i = 0; i < V; i++) {
            d += exp((double)pa[i]) * ((double)pa[i] - (double)pb[i]);
            ta = pa[i] > pa[ta] ? i : ta;
            tb = pb[i] > pb[tb] ? i : tb;
        }
        kl += d;
        kl_max = d > kl_max ? d : kl_max;
        agree += ta == tb;
        k++;
    }
    if (!rc && k) {
        double ppl_a = exp(nll_a / (double)k), ppl_b = exp(nll_b / (double)k);
        printf("tokens          %zu predicted (one stream)\n", k);
        printf("perplexity      %.3f float32, %.3f quantized (%+.3f%%)\n", ppl_a, ppl_b,
               100.0 * (ppl_b / ppl_a - 1.0));
        printf("mean KL         %.3e nats (largest %.3e)\n", kl / (double)k, kl_max);
        printf("top-1 agreement %.2f%%\n", 100.0 * (double)agree / (double)k);
    }
    lm_state_free(sa);
    lm_state_free(sb);
    free(pa);
    free(pb);
    return rc;
}

typedef struct quant_args {
    const char *out, *type, *check;
    size_t check_tokens;
    bool quiet;
} quant_args;

static int option(void *ud, int c, const char *arg)
{
    quant_args *a = ud;
    switch (c) {
    case 'o': a->out = arg; return 1;
    case O_TYPE:
        a->type = arg;
        return !strcmp(arg, "bf16") || !strcmp(arg, "int8") || !strcmp(arg, "f32") ||
               cli_expect("bf16, int8 or f32");
    case O_CHECK: a->check = arg; return 1;
    case O_CHECK_TOKENS: return cli_size_min(arg, &a->check_tokens, 0);
    case 'q': a->quiet = true; return 1;
    default: return -1;
    }
}

int cmd_quantize(int argc, char **argv)
{
    quant_args a = {.type = default_type, .check_tokens = default_check_tokens};
    int done = cli_parse("quantize", argc, argv, "o:qh", longopts, help, option, &a);
    if (done >= 0)
        return done;
    const char *out = a.out, *type = a.type, *check = a.check;
    size_t check_tokens = a.check_tokens;
    bool quiet = a.quiet;
    if (argc - optind != 1)
        return cli_usage("quantize", "need one MODEL");
    if (!out)
        return cli_usage("quantize", "need -o OUT");
    const char *in = argv[optind];
    lm_error err = {0};
    lm_model *m = NULL, *q = NULL;
    int rc = EXIT_OK;
    if (lm_model_load(in, &m, &err) || lm_model_quantize(m, type, &q, &err) ||
        lm_model_save(q, out, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    if (!quiet) {
        char desc[256];
        lm_model_describe(q, desc, sizeof desc);
        fprintf(stderr, "quantize: %s: %s\nquantize: %.2f MiB -> %.2f MiB (%.1f%%)\n", out, desc,
                file_mib(in), file_mib(out), 100.0 * file_mib(out) / file_mib(in));
    }
    if (check) {
        lm_text_opts t;
        lm_model_text_opts(m, &t);
        int32_t *ids;
        size_t n;
        lm_corpus_stats st;
        if (lm_corpus_read(check, &t, lm_model_vocab(m), &ids, &n, &st, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
        if (check_tokens && n > check_tokens)
            n = check_tokens;
        printf("file            %s\n", check);
        if (compare(m, q, ids, n, &err))
            rc = cli_fail_file(check, &err);
        free(ids);
    }
done:
    lm_model_free(q);
    lm_model_free(m);
    return rc;
}
