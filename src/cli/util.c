/* util.c - option parsing, errors, signals and time for the CLI. */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

volatile int cli_interrupted;

int cli_fail(const lm_error *err)
{
    fprintf(stderr, "lstmlm: %s\n",
            err && err->msg[0] ? err->msg : lm_strerror(err ? err->code : 0));
    return EXIT_FAIL;
}

int cli_fail_file(const char *file, const lm_error *err)
{
    const char *msg = err && err->msg[0] ? err->msg : lm_strerror(err ? err->code : 0);
    size_t n = strlen(file);
    if (!strncmp(msg, file, n) && msg[n] == ':')
        fprintf(stderr, "lstmlm: %s\n", msg);
    else
        fprintf(stderr, "lstmlm: %s: %s\n", file, msg);
    return EXIT_FAIL;
}

/* What the option value that failed last should have been (cli_expect), for its message. */
static const char *expected;

bool cli_expect(const char *what)
{
    expected = what;
    return false;
}

/* Edit distance of a[0..na) and b[0..nb), for names of at most 63 bytes. */
static size_t distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[64];
    if (na > 63 || nb > 63)
        return SIZE_MAX;
    for (size_t j = 0; j <= nb; j++)
        row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            best = up + 1 < best ? up + 1 : best;
            best = row[j - 1] + 1 < best ? row[j - 1] + 1 : best;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

int cli_unknown_option(const char *cmd, const struct option *opts, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    const char *name = arg + strspn(arg, "-"), *eq = strchr(name, '=');
    bool islong = arg[0] == '-' && arg[1] == '-';
    /* The nearest long option, for a typo: at most two edits away (or a prefix of it). */
    size_t n = eq ? (size_t)(eq - name) : strlen(name), best = 3;
    const char *near = NULL;
    for (size_t i = 0; islong && opts && opts[i].name; i++) {
        size_t d = distance(name, n, opts[i].name, strlen(opts[i].name));
        if (d < best) {
            best = d;
            near = opts[i].name;
        }
    }
    if (near && best == 0 && eq) /* "--flag=value" on an option without a value */
        return cli_usage(cmd, "--%s takes no value ('%s')", near, arg);
    if (optopt && optopt < 256 && (arg[0] != '-' || arg[1] == '-' || !arg[1]))
        return cli_usage(cmd, "unknown option '-%c'", optopt);
    if (near)
        return cli_usage(cmd, "unknown option '%.*s' (did you mean --%s?)", (int)(n + 2), arg,
                         near);
    return cli_usage(cmd, "unknown option '%s'", arg);
}

int cli_getopt_error(const char *cmd, int c, const struct option *opts, char **argv)
{
    if (c == ':') {
        const char *arg = optind > 0 ? argv[optind - 1] : NULL;
        return cli_usage(cmd, "%s: needs a value", arg && arg[0] == '-' ? arg : "option");
    }
    return cli_unknown_option(cmd, opts, argv);
}

int cli_bad_value(const char *cmd, const struct option *opts, int c, const char *arg)
{
    const char *want = expected;
    expected = NULL;
    char name[64] = "";
    for (size_t i = 0; opts[i].name && !name[0]; i++)
        if (opts[i].val == c && !opts[i].flag)
            snprintf(name, sizeof name, "--%s", opts[i].name);
    if (!name[0])
        snprintf(name, sizeof name, "-%c", c);
    if (want)
        return cli_usage(cmd, "%s: bad value '%s' (expected %s)", name, arg ? arg : "", want);
    return cli_usage(cmd, "%s: bad value '%s'", name, arg ? arg : "");
}

int cli_parse(const char *cmd, int argc, char **argv, const char *shortopts,
              const struct option *opts, void (*help)(void), cli_opt_fn fn, void *ud)
{
    char so[64];
    snprintf(so, sizeof so, ":%s", shortopts);
    int c;
    optind = 1;
    opterr = 0;
    expected = NULL;
    while ((c = getopt_long(argc, argv, so, opts, NULL)) != -1) {
        if (c == 'h' && help) {
            help();
            return EXIT_OK;
        }
        if (c == '?' || c == ':')
            return cli_getopt_error(cmd, c, opts, argv);
        int ok = fn(ud, c, optarg);
        if (ok < 0)
            return cli_unknown_option(cmd, opts, argv);
        if (!ok)
            return cli_bad_value(cmd, opts, c, optarg);
    }
    return -1;
}

bool cli_size_min(const char *s, size_t *out, size_t min)
{
    static char what[64];
    if (cli_size(s, out) && *out >= min)
        return true;
    snprintf(what, sizeof what, min ? "a whole number >= %zu" : "a whole number >= 0", min);
    return cli_expect(what);
}

bool cli_real(const char *s, double *out, double lo, double hi, const char *what)
{
    if (cli_double(s, out) && *out >= lo && *out <= hi)
        return true;
    return cli_expect(what);
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lstmlm %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return EXIT_USAGE;
}

bool cli_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || *end)
        return false;
    *out = v;
    return true;
}

bool cli_size(const char *s, size_t *out)
{
    uint64_t v;
    if (!cli_u64(s, &v) || v > SIZE_MAX)
        return false;
    *out = (size_t)v;
    return true;
}

bool cli_double(const char *s, double *out)
{
    if (!s || !*s)
        return false;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || *end || !isfinite(v))
        return false;
    *out = v;
    return true;
}

double cli_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void on_signal(int sig)
{
    cli_interrupted = 1;
    signal(sig, SIG_DFL);
}

void cli_catch_signals(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

bool cli_stderr_tty(void)
{
    return isatty(STDERR_FILENO);
}

const char *cli_duration(double s, char *buf, size_t cap)
{
    if (!(s >= 0) || s > 1e7)
        snprintf(buf, cap, "?");
    else if (s >= 3600)
        snprintf(buf, cap, "%dh%02dm", (int)(s / 3600), (int)(s / 60) % 60);
    else if (s >= 60)
        snprintf(buf, cap, "%dm%02ds", (int)(s / 60), (int)s % 60);
    else
        snprintf(buf, cap, "%.0fs", s);
    return buf;
}

void cli_threads(size_t n)
{
    if (n)
        lm_blas_set_threads((int)n);
    /* Told once per process: products on OpenBLAS's generic kernels, with nothing of lstmlm's
     * to stand in for them (no AVX-512F, or LSTMLM_GEMM=openblas). */
    static bool told;
    if (!told && lm_blas_generic() && !strcmp(lm_gemm_kernel_name(), "openblas"))
        fprintf(stderr, "lstmlm: note: OpenBLAS runs its generic '%s' kernels on this CPU, "
                        "several times slower than its AVX2 ones; OPENBLAS_CORETYPE=Haswell "
                        "selects them\n", lm_blas_core_name());
    told = true;
}

void cli_log(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "%s\n", line);
}

int cli_vocab_from(const char *path, lm_vocab **vocab, lm_text_opts *t, lm_error *err)
{
    lm_model *m = NULL;
    int rc = lm_model_load(path, &m, err);
    if (!rc)
        rc = lm_vocab_copy(lm_model_vocab(m), vocab, err);
    if (!rc)
        lm_model_text_opts(m, t);
    lm_model_free(m);
    return rc;
}

char *cli_read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0, r;
    char *b = malloc(cap);
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

bool cli_sampling_init(cli_sampling *s, int argc)
{
    memset(s, 0, sizeof *s);
    lm_sampler_opts_init(&s->sampler);
    lm_beam_opts bo;
    lm_beam_opts_init(&bo);
    s->length_alpha = bo.length_alpha;
    s->seed = 1;
    s->ban = calloc((size_t)(argc > 0 ? argc : 0) + 1, sizeof *s->ban);
    return s->ban != NULL;
}

void cli_sampling_free(cli_sampling *s)
{
    free(s->ban);
    s->ban = NULL;
}

int cli_sampling_option(cli_sampling *s, int c, const char *arg)
{
    lm_sampler_opts *so = &s->sampler;
    switch (c) {
    case 't':
        return cli_real(arg, &so->temperature, 0, HUGE_VAL, "a number >= 0");
    case CLI_O_TOPK:
        return cli_size_min(arg, &so->top_k, 0);
    case CLI_O_TOPP:
        if (cli_double(arg, &so->top_p) && so->top_p > 0 && so->top_p <= 1)
            return 1;
        return cli_expect("a number in (0, 1]");
    case CLI_O_REP:
        if (cli_double(arg, &so->repetition_penalty) && so->repetition_penalty > 0)
            return 1;
        return cli_expect("a number > 0");
    case CLI_O_PRES:
        return cli_real(arg, &so->presence_penalty, -HUGE_VAL, HUGE_VAL, "a number");
    case CLI_O_WIN:
        return cli_size_min(arg, &so->penalty_window, 0);
    case CLI_O_UNK:
        so->allow_unk = 1;
        return 1;
    case CLI_O_BAN:
        s->ban[s->n_ban++] = arg;
        return 1;
    case CLI_O_BEAM:
        return cli_size(arg, &s->beam) && s->beam <= 1024 ? true
               : cli_expect("a beam width from 0 (sampling) to 1024");
    case CLI_O_ALPHA:
        return cli_real(arg, &s->length_alpha, 0, HUGE_VAL, "a number >= 0");
    case CLI_O_SEED:
        return cli_u64(arg, &s->seed) ? true : cli_expect("a whole number >= 0");
    case CLI_O_THREADS:
        return cli_size(arg, &s->threads) && s->threads <= 1024 ? true
               : cli_expect("a thread count from 0 (default) to 1024");
    default:
        return -1;
    }
}

int cli_ban_ids(const lm_vocab *v, const char *const *ban, size_t n, int32_t **out,
                lm_error *err)
{
    *out = NULL;
    if (n == 0)
        return LM_OK;
    int32_t *ids = malloc(n * sizeof *ids);
    if (!ids) {
        snprintf(err->msg, sizeof err->msg, "out of memory");
        return err->code = LM_ENOMEM;
    }
    for (size_t i = 0; i < n; i++) {
        ids[i] = lm_vocab_lookup(v, ban[i], strlen(ban[i]));
        if (ids[i] == LM_TOK_UNK && strcmp(ban[i], lm_vocab_token(v, LM_TOK_UNK))) {
            snprintf(err->msg, sizeof err->msg, "--ban %s: not in the model's vocabulary", ban[i]);
            free(ids);
            return err->code = LM_EINVAL;
        }
    }
    *out = ids;
    return LM_OK;
}

int cli_prompt_ids(const char *text, const lm_text_opts *t, const lm_vocab *v, int32_t **ids,
                   size_t *n, lm_error *err)
{
    int rc = lm_text_to_ids(text, t, v, 1, ids, n, err);
    if (rc)
        return rc;
    size_t tl = strlen(text);
    if (*n && (*ids)[*n - 1] == LM_TOK_EOT && tl && text[tl - 1] != '\n')
        (*n)--;
    return LM_OK;
}

void cli_sampling_help(void)
{
    lm_sampler_opts s;
    lm_sampler_opts_init(&s);
    lm_beam_opts b;
    lm_beam_opts_init(&b);
    printf("  -t, --temperature X        0 = greedy [%g]\n"
           "  --top-k N                  sample among the N most probable tokens [0 = off]\n"
           "  --top-p X                  nucleus sampling [%g = off]\n"
           "  --repetition-penalty X     penalise tokens seen in the penalty window [%g = off]\n"
           "  --presence-penalty X       subtract X from the logits of recent tokens [0 = off]\n"
           "  --penalty-window N         recent tokens the penalties look at [%zu]\n"
           "  --allow-unk                let <unk> be sampled\n"
           "  --ban WORD                 never produce WORD (repeatable)\n"
           "  --beam N                   beam search of width N for one turn (up to -n tokens,\n"
           "                             ends at <eot>; no sampling) [0 = off]\n"
           "  --length-alpha X           beam score = log-prob / length^X [%g]\n"
           "  --seed N                   [1]\n",
           s.temperature, s.top_p, s.repetition_penalty, s.penalty_window, b.length_alpha);
}

/* ---- model loading ----------------------------------------------------------------------- */

void cli_mix_init(cli_mix *x)
{
    memset(x, 0, sizeof *x);
}

/* "X[,Y...]": up to CLI_MIX_MAX weights in [0, 1]. */
static bool mix_weights(cli_mix *x, const char *arg)
{
    x->n_lambda = 0;
    for (const char *p = arg;;) {
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        char one[64];
        if (x->n_lambda == CLI_MIX_MAX || n == 0 || n >= sizeof one)
            return cli_expect("weights in [0, 1], separated by commas");
        memcpy(one, p, n);
        one[n] = '\0';
        if (!cli_real(one, &x->lambda[x->n_lambda++], 0, 1, "weights in [0, 1], separated by commas"))
            return false;
        if (!e)
            return true;
        p = e + 1;
    }
}

int cli_mix_option(cli_mix *x, int c, const char *arg)
{
    switch (c) {
    case CLI_O_MIX:
        if (x->n_paths == CLI_MIX_MAX)
            return cli_expect("at most 7 --mix models");
        x->path[x->n_paths++] = arg;
        return 1;
    case CLI_O_LAMBDA:
        return mix_weights(x, arg);
    case CLI_O_MIX_DECAY:
        x->decay_set = true;
        if (!strcmp(arg, "auto")) {
            x->decay = -1;
            return 1;
        }
        return cli_real(arg, &x->decay, 0, 1, "a decay in [0, 1] or \"auto\"");
    default:
        return -1;
    }
}

int cli_mix_usage(const char *cmd, const cli_mix *x, const char *tune)
{
    if (x->n_lambda && !x->n_paths)
        return cli_usage(cmd, "--lambda needs --mix OTHER");
    if (x->decay_set && !x->n_paths)
        return cli_usage(cmd, "--mix-decay needs --mix OTHER");
    if (x->decay < 0 && !tune)
        return cli_usage(cmd, "--mix-decay auto chooses the decay with eval's --tune-lambda "
                              "FILE; give a number here");
    if (x->n_lambda && x->n_lambda != x->n_paths)
        return cli_usage(cmd, "--lambda: %zu weight%s for %zu --mix model%s (give the weights "
                         "of MODEL and of every --mix but the last, which gets the rest)",
                         x->n_lambda, x->n_lambda == 1 ? "" : "s", x->n_paths,
                         x->n_paths == 1 ? "" : "s");
    double sum = 0;
    for (size_t i = 0; i < x->n_lambda; i++)
        sum += x->lambda[i];
    if (sum > 1.0 + 1e-9)
        return cli_usage(cmd, "--lambda: the weights sum to %g, above 1", sum);
    return -1;
}

int cli_generation_option(cli_sampling *s, cli_mix *x, int c, const char *arg)
{
    int ok = cli_sampling_option(s, c, arg);
    return ok >= 0 ? ok : cli_mix_option(x, c, arg);
}

void cli_mix_help(void)
{
    printf("  --mix OTHER        interpolate with another model over the same vocabulary\n"
           "                     (e.g. an LSTM with a 5-gram): p = lambda p_MODEL +\n"
           "                     (1 - lambda) p_OTHER; repeat for more parts (up to 7)\n"
           "  --lambda X[,Y..]   the weight of MODEL in [0, 1] [0.5]; with several --mix,\n"
           "                     those of MODEL and of each --mix but the last [equal]\n"
           "  --mix-decay D      weights that follow the parts' recent success: the odds\n"
           "                     of each part grow with its likelihood of the text so far,\n"
           "                     older tokens counting D times less per step (0 = fixed\n"
           "                     weights, 1 = all of it) [0]\n");
}

int cli_load_model(const char *path, const cli_mix *x, const char *tune, size_t bptt,
                   lm_model **out, lm_error *err)
{
    lm_model *parts[CLI_MIX_MAX + 1] = {NULL};
    size_t n = x ? 1 + x->n_paths : 1;
    int rc = lm_model_load(path, &parts[0], err);
    for (size_t i = 1; i < n && !rc; i++)
        rc = lm_model_load(x->path[i - 1], &parts[i], err);
    if (rc || n == 1) {
        if (rc)
            for (size_t i = 0; i < n; i++)
                lm_model_free(parts[i]);
        *out = rc ? NULL : parts[0];
        return rc;
    }
    double w[CLI_MIX_MAX + 1], decay = x->decay;
    for (size_t i = 0; i + 1 < n; i++)
        w[i] = x->n_lambda ? x->lambda[i] : 1.0 / (double)n;
    if (tune) {
        lm_text_opts t;
        lm_model_text_opts(parts[0], &t);
        int32_t *ids = NULL;
        size_t n_ids = 0;
        double ppl = 0;
        if (!(rc = lm_corpus_read(tune, &t, lm_model_vocab(parts[0]), &ids, &n_ids, NULL, err)))
            rc = lm_mix_tune_dyn((const lm_model *const *)parts, n, ids, n_ids, bptt, w, &decay,
                                 &ppl, err);
        free(ids);
        if (rc) {
            for (size_t i = 0; i < n; i++)
                lm_model_free(parts[i]);
            return rc;
        }
        fprintf(stderr, "lambda ");
        for (size_t i = 0; i + 1 < n; i++)
            fprintf(stderr, "%s%.4f", i ? "," : "", w[i]);
        if (x->decay_set)
            fprintf(stderr, " decay %.4g", decay);
        fprintf(stderr, " (perplexity %.2f on %s)\n", ppl, tune);
    }
    /* The last part takes the rest (given weights leave it; tuned ones sum to 1 but nearly). */
    double sum = 0;
    for (size_t i = 0; i + 1 < n; i++)
        sum += w[i];
    w[n - 1] = sum < 1 ? 1 - sum : 0;
    return lm_model_mix_dyn(parts, n, w, decay, out, err);
}

/* ---- output locks ------------------------------------------------------------------------ */

__attribute__((format(printf, 2, 3))) static int lock_fail(lm_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return err->code = LM_EIO;
}

int cli_lock_take(cli_lock *l, const char *path, lm_error *err)
{
    l->fd = -1;
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return lock_fail(err, "%s: not a regular file", path);
    snprintf(l->path, sizeof l->path, "%s.lock", path);
    /* Retry when the file was unlinked (by a finishing run) between open and flock. */
    for (int tries = 0; tries < 10; tries++) {
        int fd = open(l->path, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
        if (fd < 0)
            return lock_fail(err, "%s: cannot write: %s", path, strerror(errno));
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EWOULDBLOCK)
                return lock_fail(err, "%s is being written by another lstmlm run (it holds %s)",
                                 path, l->path);
            return lock_fail(err, "%s: cannot lock: %s", l->path, strerror(e));
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(l->path, &b) == 0 && a.st_ino == b.st_ino &&
            a.st_dev == b.st_dev) {
            l->fd = fd;
            return LM_OK;
        }
        close(fd);
    }
    return lock_fail(err, "%s: cannot lock", l->path);
}

void cli_lock_drop(cli_lock *l)
{
    if (l->fd < 0)
        return;
    unlink(l->path);
    close(l->fd);
    l->fd = -1;
}

int cli_history_csv(const char *path, const lm_history_row *h, size_t n, lm_error *err)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    fprintf(f, "epoch,tokens,train_loss,train_ppl,valid_ppl,lr,tokens_per_s,seconds\n");
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%u,%llu,%.6f,%.4f,%.4f,%.6g,%.1f,%.2f\n", h[i].epoch,
                (unsigned long long)h[i].tokens, h[i].train_loss, exp(h[i].train_loss),
                h[i].valid_ppl, h[i].lr, h[i].tokens_per_s, h[i].seconds);
    if (fclose(f) != 0)
        return lm_fail(err, LM_EIO, "%s: cannot write: %s", path, strerror(errno));
    return LM_OK;
}
