/* cmd_memory.c - `lstmlm memory MODEL...`: how the memory of each model grows with the tokens
 * it has read (state or cache bytes, resident memory, time per token) and how much of its
 * context it uses (the library's context probe); a table, a CSV file and an SVG plot. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ROWS 24
/* Steps timed (with logits) just before each measuring point. */
#define TIMED_STEPS 256

/* Fills err (the CLI's own failures) and returns code. */
typedef struct mem_row {
    size_t n;      /* tokens fed */
    size_t bytes;  /* lm_state_bytes */
    double rss;    /* VmRSS in KiB (NAN when unknown) */
    double ms;     /* milliseconds per token over the timed steps */
    size_t timed;  /* steps timed */
} mem_row;

typedef struct model_run {
    const char *path;
    char label[64];
    char kind[32];     /* lm_model_kind */
    char desc[200];    /* lm_model_describe */
    size_t context;    /* lm_model_context: 0 = unlimited */
    lm_text_opts text;
    size_t params;
    size_t n_rows;
    mem_row rows[MAX_ROWS];
    double rss0;   /* VmRSS after loading the model and creating the state */
    int has_ctx;
    lm_context_result ctx;
} model_run;

static void help(void)
{
    lm_context_opts o;
    lm_context_opts_init(&o);
    printf("Usage: lstmlm memory [options] MODEL.h5...\n\n"
           "Compares how language models use memory and context.\n"
           "Memory: each model reads N tokens one at a time (generation mode) for N = 1, 10, 100,\n"
           "... up to --max-tokens (and the transformer's context); after each N it reports the\n"
           "bytes of its state or key/value cache, the process's resident memory (VmRSS) and the\n"
           "milliseconds per generated token over the last min(N, %d) steps (logits included).\n"
           "Context (with --test): the test loss of the same sampled targets when the model sees\n"
           "only the last k tokens (state reset, k tokens fed), and when the tokens beyond the\n"
           "last m of a longer context are shuffled (Khandelwal et al. 2018), with the context\n"
           "length beyond which the loss stops improving by more than 1%%.\n\n"
           "  --test FILE            text for the tokens fed and the context probe (read with\n"
           "                         each model's tokenizer); without it random tokens are fed\n"
           "                         and the context probe is skipped\n"
           "  --max-tokens N         largest N of the memory probe; 0 skips it [100000]\n"
           "  --contexts LIST        context lengths k, comma-separated [1,2,5,...,500]\n"
           "  --shuffle LIST         shuffle distances m, comma-separated, or none [1,...,200]\n"
           "  --shuffle-context N    tokens of context in the shuffle probe [largest k]\n"
           "  --targets N            target positions sampled from the test text [%zu]\n"
           "  --batch N              targets scored at once [%zu]\n"
           "  --seed N               seed for the targets, shuffles and random tokens [%llu]\n"
           "  --csv FILE             write every measurement as CSV (model,arch,quantity,x,value)\n"
           "  --plot FILE.svg        draw memory, time and loss curves of all models as SVG\n"
           "  --threads N            OpenBLAS and lstmlm threads; 0 = library default [1]\n"
           "  --mix OTHER            probe each MODEL mixed with OTHER (same vocabulary)\n"
           "  --lambda X             the weight of each MODEL in that mixture [0.5]\n"
           "  --mix-decay D          weights that follow the parts' recent success (see\n"
           "                         lstmlm-eval(1)) [0 = fixed]\n"
           "  -q, --quiet            no progress on stderr\n"
           "  -h, --help             this text\n\n"
           "A transformer's cache grows by 2 x layers x embed x 4 bytes per token up to its\n"
           "context, then slides (see lstmlm train --help); recurrent states stay constant.\n"
           "Exit status: 0 done, 1 failure, 2 bad usage.\n",
           TIMED_STEPS, o.targets, o.batch, (unsigned long long)o.seed);
}

enum { O_TEST = 256, O_MAXTOK, O_CONTEXTS, O_SHUFFLE, O_SHCTX, O_TARGETS, O_BATCH, O_SEED, O_CSV,
       O_PLOT, O_THREADS };

static const struct option longopts[] = {
    {"test", required_argument, NULL, O_TEST},
    {"max-tokens", required_argument, NULL, O_MAXTOK},
    {"contexts", required_argument, NULL, O_CONTEXTS},
    {"shuffle", required_argument, NULL, O_SHUFFLE},
    {"shuffle-context", required_argument, NULL, O_SHCTX},
    {"targets", required_argument, NULL, O_TARGETS},
    {"batch", required_argument, NULL, O_BATCH},
    {"seed", required_argument, NULL, O_SEED},
    {"csv", required_argument, NULL, O_CSV},
    {"plot", required_argument, NULL, O_PLOT},
    {"threads", required_argument, NULL, O_THREADS},
    CLI_MIX_LONGOPTS,
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* "1,2,5" -> increasing positive sizes; false on a bad list. */
static bool parse_list(const char *s, size_t *out, size_t *n)
{
    char buf[1024];
    if (strlen(s) >= sizeof buf)
        return false;
    snprintf(buf, sizeof buf, "%s", s);
    *n = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t v;
        if (*n == LM_PROBE_MAX_POINTS || !cli_size(tok, &v) || v == 0 ||
            (*n && v <= out[*n - 1]))
            return false;
        out[(*n)++] = v;
    }
    return *n > 0;
}

/* Resident memory of this process in KiB (VmRSS), NAN when /proc is unavailable. */
static double rss_kib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return NAN;
    char line[256];
    double v = NAN;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmRSS:", 6)) {
            v = strtod(line + 6, NULL);
            break;
        }
    fclose(f);
    return v;
}

static void make_label(model_run *r)
{
    /* The last two path components tell apart dir1/model.h5 and dir2/model.h5. */
    const char *p = r->path, *last = p, *prev = p;
    for (const char *q = p; *q; q++)
        if (*q == '/' && q[1]) {
            prev = last;
            last = q + 1;
        }
    snprintf(r->label, sizeof r->label, "%s %s", r->kind, prev);
    size_t n = strlen(r->label);
    if (n > 3 && !strcmp(r->label + n - 3, ".h5"))
        r->label[n - 3] = 0;
}

typedef struct prog {
    bool quiet, tty;
    const char *what;
    double last;
} prog;

static void on_progress(void *ud, size_t done, size_t total)
{
    prog *p = ud;
    double now = cli_now();
    if (p->quiet || (now - p->last < (p->tty ? 0.5 : 30.0) && done < total))
        return;
    p->last = now;
    fprintf(stderr, p->tty ? "\r\033[K%s: %5.1f%%" : "%s: %5.1f%%\n", p->what,
            100.0 * (double)done / (double)total);
    if (p->tty && done == total)
        fputc('\n', stderr);
    fflush(stderr);
}

/* The memory probe of one model: feeds tokens and measures at each point of ns. */
static int run_memory(lm_model *m, model_run *r, const int32_t *ids, size_t n_ids,
                      const size_t *ns, size_t n_ns, uint64_t seed, lm_error *err)
{
    lm_state *s;
    int rc = lm_state_create(m, &s, err);
    if (rc)
        return rc;
    size_t V = lm_vocab_size(lm_model_vocab(m));
    float *logits = malloc(V * sizeof *logits);
    if (!logits) {
        lm_state_free(s);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    lm_rng rng;
    lm_rng_seed(&rng, seed);
    r->rss0 = rss_kib();
    size_t fed = 0;
    for (size_t i = 0; i < n_ns && rc == LM_OK; i++) {
        size_t N = ns[i], todo = N - fed, timed = todo < TIMED_STEPS ? todo : TIMED_STEPS;
        double t0 = 0;
        for (size_t k = 0; k < todo && rc == LM_OK; k++) {
            int32_t tok = n_ids ? ids[fed % n_ids]
                                : (int32_t)(LM_N_SPECIAL + lm_rng_next(&rng) % (V - LM_N_SPECIAL));
            if (k == todo - timed)
                t0 = cli_now();
            rc = lm_step(m, s, tok, k >= todo - timed ? logits : NULL, err);
            fed++;
        }
        double el = cli_now() - t0;
        mem_row *row = &r->rows[r->n_rows++];
        row->n = N;
        row->bytes = lm_state_bytes(s);
        row->rss = rss_kib();
        row->timed = timed;
        row->ms = timed ? 1000.0 * el / (double)timed : NAN;
    }
    free(logits);
    lm_state_free(s);
    return rc;
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static void print_memory(const model_run *r, size_t idx)
{
    printf("[%zu] %s: %s, %zu parameters\n", idx, r->path, r->desc, r->params);
    if (!r->n_rows)
        return;
    printf("  %9s %13s %11s %10s %10s\n", "tokens", "state bytes", "VmRSS MiB", "RSS +KiB",
           "ms/token");
    for (size_t i = 0; i < r->n_rows; i++) {
        const mem_row *w = &r->rows[i];
        printf("  %9zu %13zu %11.1f %10.0f %10.3f\n", w->n, w->bytes, w->rss / 1024.0,
               w->rss - r->rss0, w->ms);
    }
    /* Growth per token over the first and the last stretch of the measurements. */
    const mem_row *a = &r->rows[0], *z = &r->rows[r->n_rows - 1];
    size_t lim = r->context;
    const mem_row *g = a;
    for (size_t i = 0; i < r->n_rows; i++)
        if (!lim || r->rows[i].n <= lim)
            g = &r->rows[i];
    if (g->n > a->n)
        printf("  state growth %.1f bytes per token from %zu to %zu tokens", 
               (double)(g->bytes - a->bytes) / (double)(g->n - a->n), a->n, g->n);
    else
        printf("  state %zu bytes", a->bytes);
    if (lim)
        printf(" up to its context of %zu tokens, then constant at %zu bytes", lim, z->bytes);
    printf("\n");
    const mem_row *k1 = NULL;
    for (size_t i = 0; i < r->n_rows; i++)
        if (r->rows[i].n >= 1000 && !k1)
            k1 = &r->rows[i];
    if (k1 && z != k1)
        printf("  VmRSS from %zu to %zu tokens: %+.0f KiB\n", k1->n, z->n, z->rss - k1->rss);
}

static void print_context(const model_run *runs, size_t nr, const char *test)
{
    const model_run *first = NULL;
    for (size_t i = 0; i < nr; i++)
        if (runs[i].has_ctx && !first)
            first = &runs[i];
    if (!first)
        return;
    const lm_context_result *c0 = &first->ctx;
    printf("\ncontext usage on %s: %zu targets; mean loss in nats per token (perplexity)\n",
           test, c0->targets);
    printf("  %8s", "k");
    for (size_t i = 0; i < nr; i++) {
        char h[32];
        snprintf(h, sizeof h, "[%zu] %s", i + 1, runs[i].kind);
        printf("   %-17.17s", h);
    }
    printf("\n");
    int clipped = 0;
    for (size_t j = 0; j < c0->n_ks; j++) {
        printf("  %8zu", c0->ks[j]);
        for (size_t i = 0; i < nr; i++) {
            const lm_context_result *c = &runs[i].ctx;
            int cut = c->seen[j] < c->ks[j];
            clipped |= cut;
            printf("   %6.3f (%7.1f)%s", c->loss[j], exp(c->loss[j]), cut ? "*" : " ");
        }
        printf("\n");
    }
    if (c0->n_ms) {
        printf("  context beyond the last m of %zu tokens shuffled:\n  %8s\n",
               c0->shuffle_context, "m");
        for (size_t j = 0; j <= c0->n_ms; j++) {
            if (j < c0->n_ms)
                printf("  %8zu", c0->ms[j]);
            else
                printf("  %8s", "none");
            for (size_t i = 0; i < nr; i++) {
                const lm_context_result *c = &runs[i].ctx;
                double l = j < c->n_ms ? c->shuffled[j] : c->loss_full;
                printf("   %6.3f (%7.1f) ", l, exp(l));
            }
            printf("\n");
        }
    }
    printf("  %-8s", "stops");
    for (size_t i = 0; i < nr; i++)
        printf("   k = %-14zu", runs[i].ctx.effective);
    printf("\n  (stops: the context length beyond which the loss improves by less than 1%%;\n"
           "  Khandelwal et al. 2018 found about 200 tokens for LSTM language models)\n");
    if (clipped)
        printf("  * the transformer sees at most its context window\n");
}

static int write_csv(const char *path, const model_run *runs, size_t nr, lm_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return lm_fail(err, LM_EIO, "%s: cannot open for writing", path);
    fprintf(f, "model,arch,quantity,x,value\n");
    for (size_t i = 0; i < nr; i++) {
        const model_run *r = &runs[i];
        const char *a = r->kind;
        /* Paths with commas or quotes are quoted. */
        char q[1024];
        size_t k = 0;
        q[k++] = '"';
        for (const char *p = r->path; *p && k + 3 < sizeof q; p++) {
            if (*p == '"')
                q[k++] = '"';
            q[k++] = *p;
        }
        q[k++] = '"';
        q[k] = 0;
        fprintf(f, "%s,%s,parameters,0,%zu\n", q, a, r->params);
        for (size_t j = 0; j < r->n_rows; j++) {
            const mem_row *w = &r->rows[j];
            fprintf(f, "%s,%s,state_bytes,%zu,%zu\n", q, a, w->n, w->bytes);
            fprintf(f, "%s,%s,rss_kib,%zu,%.0f\n", q, a, w->n, w->rss);
            fprintf(f, "%s,%s,ms_per_token,%zu,%.5f\n", q, a, w->n, w->ms);
        }
        if (!r->has_ctx)
            continue;
        const lm_context_result *c = &r->ctx;
        for (size_t j = 0; j < c->n_ks; j++)
            fprintf(f, "%s,%s,loss_context,%zu,%.6f\n", q, a, c->ks[j], c->loss[j]);
        for (size_t j = 0; j < c->n_ms; j++)
            fprintf(f, "%s,%s,loss_shuffled_beyond,%zu,%.6f\n", q, a, c->ms[j], c->shuffled[j]);
        if (c->n_ms)
            fprintf(f, "%s,%s,loss_unshuffled,%zu,%.6f\n", q, a, c->shuffle_context,
                    c->loss_full);
        fprintf(f, "%s,%s,effective_context,0,%zu\n", q, a, c->effective);
        fprintf(f, "%s,%s,targets,0,%zu\n", q, a, c->targets);
    }
    if (fclose(f))
        return lm_fail(err, LM_EIO, "%s: write failed", path);
    return LM_OK;
}

static int write_plot(const char *path, const model_run *runs, size_t nr, lm_error *err)
{
    /* Per model: x and y arrays for bytes, RSS, ms; loss vs k; shuffled vs m. */
    size_t cap = nr * (MAX_ROWS * 4 + LM_PROBE_MAX_POINTS * 4);
    double *buf = calloc(cap ? cap : 1, sizeof *buf);
    lm_plot_series *se = calloc(5 * nr + 1, sizeof *se);
    if (!buf || !se) {
        free(buf);
        free(se);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    char(*shl)[96] = calloc(nr + 1, sizeof *shl);
    if (!shl) {
        free(buf);
        free(se);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    size_t used = 0;
    lm_plot_series *mem_b = se, *mem_r = se + nr, *mem_t = se + 2 * nr, *ctx = se + 3 * nr;
    size_t n_ctx = 0;
    for (size_t i = 0; i < nr; i++) {
        const model_run *r = &runs[i];
        double *x = buf + used, *yb = x + MAX_ROWS, *yr = yb + MAX_ROWS, *yt = yr + MAX_ROWS;
        used += 4 * MAX_ROWS;
        for (size_t j = 0; j < r->n_rows; j++) {
            x[j] = (double)r->rows[j].n;
            yb[j] = (double)r->rows[j].bytes;
            yr[j] = r->rows[j].rss / 1024.0;
            yt[j] = r->rows[j].ms;
        }
        mem_b[i] = (lm_plot_series){r->label, x, yb, r->n_rows, (int)i, 0};
        mem_r[i] = (lm_plot_series){r->label, x, yr, r->n_rows, (int)i, 0};
        mem_t[i] = (lm_plot_series){r->label, x, yt, r->n_rows, (int)i, 0};
        if (!r->has_ctx)
            continue;
        const lm_context_result *c = &r->ctx;
        double *kx = buf + used, *ky = kx + LM_PROBE_MAX_POINTS, *mx = ky + LM_PROBE_MAX_POINTS,
               *my = mx + LM_PROBE_MAX_POINTS;
        used += 4 * LM_PROBE_MAX_POINTS;
        for (size_t j = 0; j < c->n_ks; j++) {
            kx[j] = (double)c->ks[j];
            ky[j] = c->loss[j];
        }
        for (size_t j = 0; j < c->n_ms; j++) {
            mx[j] = (double)c->ms[j];
            my[j] = c->shuffled[j];
        }
        ctx[n_ctx++] = (lm_plot_series){r->label, kx, ky, c->n_ks, (int)i, 0};
        if (c->n_ms) {
            snprintf(shl[i], sizeof shl[i], "%s, shuffled", r->kind);
            ctx[n_ctx++] = (lm_plot_series){shl[i], mx, my, c->n_ms, (int)i, 1};
        }
    }
    lm_plot_panel panels[4] = {
        {"State or cache size after N tokens", "tokens read N", "bytes", 1, 1, mem_b, nr},
        {"Resident memory of the process (VmRSS)", "tokens read N", "MiB", 1, 0, mem_r, nr},
        {"Time per generated token", "tokens read N", "milliseconds", 1, 0, mem_t, nr},
        {"Test loss with the last k tokens (solid) or beyond m shuffled (dashed)",
         "context length k or shuffle distance m", "loss (nats per token)", 1, 0, ctx, n_ctx},
    };
    size_t np = n_ctx ? 4 : 3;
    int rc;
    FILE *f = fopen(path, "w");
    if (!f)
        rc = lm_fail(err, LM_EIO, "%s: cannot open for writing", path);
    else {
        rc = lm_svg_write(f, "lstmlm memory: recurrent state vs attention cache", panels, np, err);
        if (fclose(f) || rc)
            rc = lm_fail(err, rc ? rc : LM_EIO, "%s: cannot write the plot", path);
    }
    free(shl);
    free(buf);
    free(se);
    return rc;
}

typedef struct mem_args {
    lm_context_opts co;
    const char *test, *csv, *plot;
    size_t max_tokens, threads;
    bool quiet;
    cli_mix mix;
} mem_args;

static int option(void *ud, int c, const char *arg)
{
    mem_args *a = ud;
    lm_context_opts *co = &a->co;
    int ok = cli_mix_option(&a->mix, c, arg);
    if (ok >= 0)
        return ok;
    switch (c) {
    case O_TEST: a->test = arg; return 1;
    case O_MAXTOK: return cli_size_min(arg, &a->max_tokens, 0);
    case O_CONTEXTS:
        return parse_list(arg, co->ks, &co->n_ks) ||
               cli_expect("increasing positive whole numbers, comma-separated");
    case O_SHUFFLE:
        if (!strcmp(arg, "none")) {
            co->n_ms = 0;
            return 1;
        }
        return parse_list(arg, co->ms, &co->n_ms) ||
               cli_expect("none, or increasing positive whole numbers, comma-separated");
    case O_SHCTX: return cli_size_min(arg, &co->shuffle_context, 1);
    case O_TARGETS: return cli_size_min(arg, &co->targets, 1);
    case O_BATCH: return cli_size_min(arg, &co->batch, 1);
    case O_SEED: return cli_u64(arg, &co->seed) || cli_expect("a whole number >= 0");
    case O_CSV: a->csv = arg; return 1;
    case O_PLOT: a->plot = arg; return 1;
    case O_THREADS: return cli_size_min(arg, &a->threads, 0);
    case 'q': a->quiet = true; return 1;
    default: return -1;
    }
}

int cmd_memory(int argc, char **argv)
{
    mem_args a = {.max_tokens = 100000, .threads = 1};
    lm_context_opts_init(&a.co);
    cli_mix_init(&a.mix);
    int done = cli_parse("memory", argc, argv, "qh", longopts, help, option, &a);
    if (done >= 0)
        return done;
    lm_context_opts co = a.co;
    const char *test = a.test, *csv = a.csv, *plot = a.plot;
    size_t max_tokens = a.max_tokens, threads = a.threads;
    bool quiet = a.quiet;
    cli_mix mix = a.mix;
    int mu = cli_mix_usage("memory", &mix, NULL);
    if (mu >= 0)
        return mu;
    if (optind >= argc)
        return cli_usage("memory", "need at least one MODEL.h5");
    if (max_tokens > ((size_t)1 << 32))
        return cli_usage("memory", "--max-tokens %zu is too large", max_tokens);
    cli_threads(threads);
    size_t nr = (size_t)(argc - optind);
    model_run *runs = calloc(nr, sizeof *runs);
    if (!runs)
        return EXIT_FAIL;
    lm_error err = {0};
    int rc = EXIT_FAIL;
    prog pg = {.quiet = quiet, .tty = cli_stderr_tty()};
    for (size_t i = 0; i < nr; i++) {
        model_run *r = &runs[i];
        r->path = argv[optind + (int)i];
        lm_model *m = NULL;
        int32_t *ids = NULL;
        size_t n_ids = 0;
        if (cli_load_model(r->path, &mix, NULL, 0, &m, &err))
            goto fail;
        snprintf(r->kind, sizeof r->kind, "%s", lm_model_kind(m));
        lm_model_describe(m, r->desc, sizeof r->desc);
        r->context = lm_model_context(m);
        lm_model_text_opts(m, &r->text);
        r->params = lm_model_n_params(m);
        make_label(r);
        if (test) {
            if (lm_corpus_read(test, &r->text, lm_model_vocab(m), &ids, &n_ids, NULL, &err)) {
                lm_model_free(m);
                goto fail;
            }
        }
        /* Measuring points: powers of ten up to max_tokens, max_tokens itself, and the
         * transformer's context (where its cache stops growing). */
        size_t ns[MAX_ROWS], n_ns = 0;
        for (size_t v = 1; v <= max_tokens && n_ns < MAX_ROWS - 2; v *= 10)
            ns[n_ns++] = v;
        if (max_tokens && ns[n_ns - 1] != max_tokens)
            ns[n_ns++] = max_tokens;
        if (r->context && r->context < max_tokens) {
            bool have = false;
            for (size_t k = 0; k < n_ns; k++)
                have |= ns[k] == r->context;
            if (!have)
                ns[n_ns++] = r->context;
        }
        qsort(ns, n_ns, sizeof ns[0], cmp_size);
        double t0 = cli_now();
        if (!quiet)
            fprintf(stderr, "[%zu] %s: memory probe, %zu tokens\n", i + 1, r->path, max_tokens);
        int e = run_memory(m, r, ids, n_ids, ns, n_ns, co.seed, &err);
        if (!e && test) {
            if (!quiet)
                fprintf(stderr, "[%zu] %s: context probe (%.0f s so far)\n", i + 1, r->path,
                        cli_now() - t0);
            pg.what = r->label;
            pg.last = 0;
            co.progress = on_progress;
            co.progress_ud = &pg;
            e = lm_context_probe(m, ids, n_ids, &co, &r->ctx, &err);
            r->has_ctx = e == 0;
        }
        free(ids);
        lm_model_free(m);
        if (e)
            goto fail;
        print_memory(r, i + 1);
        fflush(stdout);
    }
    if (test)
        print_context(runs, nr, test);
    if (csv && write_csv(csv, runs, nr, &err))
        goto fail;
    if (plot && write_plot(plot, runs, nr, &err))
        goto fail;
    if (!quiet && (csv || plot))
        fprintf(stderr, "%s%s%s%s\n", csv ? "csv written to " : "", csv ? csv : "",
                csv && plot ? "; plot written to " : plot ? "plot written to " : "",
                plot ? plot : "");
    rc = EXIT_OK;
    goto out;
fail:
    rc = cli_fail(&err);
out:
    free(runs);
    return rc;
}
