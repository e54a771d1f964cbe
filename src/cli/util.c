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

int cli_unknown_option(const char *cmd, char **argv)
{
    const char *arg = optind > 0 ? argv[optind - 1] : "?";
    if (optopt && optopt < 256 && (!arg || arg[0] != '-' || arg[1] == '-' || !arg[1]))
        return cli_usage(cmd, "unknown option '-%c'", optopt);
    return cli_usage(cmd, "unknown option '%s'", arg);
}

int cli_bad_value(const char *cmd, const struct option *opts, int c, const char *arg)
{
    for (size_t i = 0; opts[i].name; i++)
        if (opts[i].val == c && !opts[i].flag)
            return cli_usage(cmd, "--%s: bad value '%s'", opts[i].name, arg ? arg : "");
    return cli_usage(cmd, "-%c: bad value '%s'", c, arg ? arg : "");
}

int cli_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lstmlm %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry 'lstmlm %s --help'.\n", cmd);
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
}

void cli_log(void *ud, const char *line)
{
    (void)ud;
    fprintf(stderr, "%s\n", line);
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
        return cli_double(arg, &so->temperature) && so->temperature >= 0;
    case CLI_O_TOPK:
        return cli_size(arg, &so->top_k);
    case CLI_O_TOPP:
        return cli_double(arg, &so->top_p) && so->top_p > 0 && so->top_p <= 1;
    case CLI_O_REP:
        return cli_double(arg, &so->repetition_penalty) && so->repetition_penalty > 0;
    case CLI_O_PRES:
        return cli_double(arg, &so->presence_penalty);
    case CLI_O_WIN:
        return cli_size(arg, &so->penalty_window);
    case CLI_O_UNK:
        so->allow_unk = 1;
        return 1;
    case CLI_O_BAN:
        s->ban[s->n_ban++] = arg;
        return 1;
    case CLI_O_BEAM:
        return cli_size(arg, &s->beam) && s->beam <= 1024;
    case CLI_O_ALPHA:
        return cli_double(arg, &s->length_alpha) && s->length_alpha >= 0;
    case CLI_O_SEED:
        return cli_u64(arg, &s->seed);
    case CLI_O_THREADS:
        return cli_size(arg, &s->threads);
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
    x->path = NULL;
    x->lambda = 0.5;
    x->lambda_set = false;
}

int cli_mix_option(cli_mix *x, int c, const char *arg)
{
    switch (c) {
    case CLI_O_MIX:
        x->path = arg;
        return 1;
    case CLI_O_LAMBDA:
        x->lambda_set = true;
        return cli_double(arg, &x->lambda) && x->lambda >= 0 && x->lambda <= 1;
    default:
        return -1;
    }
}

void cli_mix_help(void)
{
    printf("  --mix OTHER        interpolate with a second model over the same vocabulary\n"
           "                     (e.g. an LSTM with a 5-gram): p = lambda p_MODEL +\n"
           "                     (1 - lambda) p_OTHER\n"
           "  --lambda X         the weight of MODEL in the mixture, in [0, 1] [0.5]\n");
}

int cli_load_model(const char *path, const cli_mix *x, const char *tune, size_t bptt,
                   lm_model **out, lm_error *err)
{
    lm_model *a = NULL, *b = NULL;
    int rc = lm_model_load(path, &a, err);
    if (rc || !x || !x->path) {
        *out = a;
        return rc;
    }
    if ((rc = lm_model_load(x->path, &b, err))) {
        lm_model_free(a);
        return rc;
    }
    double lambda = x->lambda;
    if (tune) {
        lm_text_opts t;
        lm_model_text_opts(a, &t);
        int32_t *ids = NULL;
        size_t n = 0;
        double ppl = 0;
        if (!(rc = lm_corpus_read(tune, &t, lm_model_vocab(a), &ids, &n, NULL, err)))
            rc = lm_mix_tune(a, b, ids, n, bptt, &lambda, &ppl, err);
        free(ids);
        if (rc) {
            lm_model_free(a);
            lm_model_free(b);
            return rc;
        }
        fprintf(stderr, "lambda %.4f (perplexity %.2f on %s)\n", lambda, ppl, tune);
    }
    return lm_model_mix(a, b, lambda, out, err);
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
