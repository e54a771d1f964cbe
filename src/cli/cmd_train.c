/* cmd_train.c - `lstmlm train`: build the vocabulary, train with truncated BPTT, save. */
#include "cli.h"

#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct progress_ctx {
    bool tty, quiet;
    double t0, last_print;
    size_t epochs;
    /* The first report of a run_epoch call is the base of its rates: a resumed epoch starts
     * part-way through, with windows and tokens done before this process began. */
    bool based;
    size_t step0;
    uint64_t tokens0;
} progress_ctx;

static void on_progress(void *ud, const lm_progress *p)
{
    progress_ctx *c = ud;
    if (c->quiet)
        return;
    double now = cli_now();
    if (!c->based) {
        c->based = true;
        c->step0 = p->step;
        c->tokens0 = p->tokens;
        c->t0 = now;
        return;
    }
    double el = now - c->t0;
    double tps = el > 0 ? (double)(p->tokens - c->tokens0) / el : 0;
    /* The rest of this epoch, and the epochs after it at this epoch's pace. */
    double per_step = p->step > c->step0 ? el / (double)(p->step - c->step0) : 0;
    double eta = per_step * ((double)(p->steps - p->step) +
                             (double)(c->epochs > p->epoch ? c->epochs - p->epoch : 0) *
                                 (double)p->steps);
    char eb[32];
    if (c->tty) {
        fprintf(stderr, "\r\033[Kepoch %zu/%zu %5.1f%%  %.0f tok/s  loss %.3f  ppl %.1f  lr %.4g  ETA %s",
                p->epoch, c->epochs, 100.0 * p->step / p->steps, tps, p->loss, exp(p->loss), p->lr,
                cli_duration(eta, eb, sizeof eb));
        fflush(stderr);
    } else if (now - c->last_print >= 30.0 && p->step < p->steps) {
        fprintf(stderr, "epoch %zu/%zu %5.1f%% %.0f tok/s loss %.3f ppl %.1f lr %.4g ETA %s\n",
                p->epoch, c->epochs, 100.0 * p->step / p->steps, tps, p->loss, exp(p->loss), p->lr,
                cli_duration(eta, eb, sizeof eb));
        c->last_print = now;
    }
}

static void help(void)
{
    lm_config c;
    lm_train_opts o;
    lm_config_init(&c);
    lm_train_opts_init(&o);
    char arches[128] = "";
    for (size_t i = 0, len = 0; lm_arch_name(i) && len < sizeof arches; i++)
        len += (size_t)snprintf(arches + len, sizeof arches - len, "%s%s", i ? " | " : "",
                                lm_arch_name(i));
    printf("Usage: lstmlm train [options] TRAIN.txt -o MODEL.h5\n"
           "       lstmlm train --resume CHECKPOINT.h5 [--epochs N] [TRAIN.txt] [-o MODEL.h5]\n"
           "       lstmlm train --init MODEL.h5 [options] TRAIN.txt -o NEW.h5\n\n"
           "Trains a word-level language model with truncated backpropagation through time.\n"
           "TRAIN.txt holds one turn or sentence per line (plain or .gz); a blank line ends a\n"
           "conversation. The best model (lowest validation perplexity) goes to MODEL.h5, a\n"
           "checkpoint with the optimizer state to MODEL.ckpt.h5 after every epoch and on Ctrl-C.\n\n"
           "Model:\n"
           "  --arch NAME          architecture: %s [%s]\n"
           "  --layers N           layers [%zu]\n"
           "  --hidden N           LSTM width [%zu]\n"
           "  --embed N            embedding width (the RWKV width) [%zu]\n"
           "  --ffn N              RWKV channel-mix / transformer MLP width [4 x embed]\n"
           "  --heads N            transformer attention heads (must divide embed) [%zu]\n"
           "  --context N          transformer window: positions and cache (see below) [%zu]\n"
           "  --dropout P          dropout on embeddings, between layers and before the head [%g]\n"
           "  --tie                tie the output layer to the embedding (embed != hidden: through\n"
           "                       a learned hidden -> embed projection; not with adaptive)\n"
           "  --softmax KIND       output layer: full | adaptive (Grave et al. 2017) [full]\n"
           "  --cutoffs N,N,...    adaptive: ids below the first form the shortlist, each next\n"
           "                       cutoff ends a tail cluster (ids are by decreasing count; at\n"
           "                       most %d, the first >= 3), e.g. 2000,10000\n"
           "  --div X              adaptive: tail cluster i (1, 2, ...) projects the head input\n"
           "                       to width / X^i dimensions [%g]\n"
           "  --init-range R       uniform initialisation range [%g]\n"
           "  --init MODEL.h5      fine-tune: start from the model's weights, vocabulary, tokenizer\n"
           "                       and architecture (shape options must agree with it)\n"
           "Regularisation (AWD-LSTM, Merity et al. 2017; 0 = off; a locked rate replaces\n"
           "--dropout at its place; * = LSTM only):\n"
           "  --dropout-embed P    drop whole words: embedding rows, per window [0]\n"
           "  --dropout-input P    locked dropout (one mask per stream and window) on embeddings [0]\n"
           "  --dropout-hidden P   * locked dropout between layers [0]\n"
           "  --dropout-output P   locked dropout on the last layer's output [0]\n"
           "  --weight-drop P      DropConnect per window on the LSTM's W_hh, the RWKV's time-mix\n"
           "                       matrices (not transformers) [0]\n"
           "  --ar A               activation regularisation A * mean(h^2) of the output [0]\n"
           "  --tar B              * temporal activation regularisation B * mean((h_t-h_t-1)^2) [0]\n"
           "  --asgd               NT-ASGD: average the weights once validation stalls (--valid)\n"
           "  --asgd-patience N    epochs without improvement before averaging [%zu]\n"
           "Vocabulary and text:\n"
           "  --max-vocab N        keep the N most frequent types, specials included [no limit]\n"
           "  --min-count N        drop types seen fewer than N times [1]\n"
           "  --tokenize MODE      words | whitespace (pre-tokenized, e.g. PTB) | chars [words]\n"
           "  --lowercase          lower-case ASCII letters\n"
           "  --vocab-from MODEL   the vocabulary and tokenizer of another model file (any kind),\n"
           "                       e.g. to compare a fine-tuned model with one trained from scratch\n"
           "Training:\n"
           "  --valid FILE         validation text (perplexity after each epoch)\n"
           "  --batch N            parallel streams [%zu]\n"
           "  --bptt N             steps per window [%zu]\n"
           "  --epochs N           [%zu]\n"
           "  --optimizer NAME     sgd | adam | adamw [sgd]\n"
           "  --lr X               learning rate [%g for sgd, 0.001 for adam]\n"
           "  --decay-start N      epochs at constant lr before decaying each epoch; 0 = off\n"
           "                       [%zu for sgd, 0 for adam]\n"
           "  --decay X            lr factor per epoch after --decay-start [%g]\n"
           "  --plateau-decay X    lr factor when validation perplexity does not improve [1 = off]\n"
           "  --patience N         stop after N epochs without improvement [0 = off]\n"
           "  --clip X             bound on the global gradient norm, 0 = off [%g]\n"
           "  --weight-decay X     AdamW decoupled weight decay (--optimizer adamw) [%g]\n"
           "  --max-steps N        windows per epoch at most (quick runs) [0 = all]\n"
           "  --precision P        f32 | bf16: the large products of training (softmax head,\n"
           "                       LSTM input projection and weight gradients, RWKV and\n"
           "                       transformer projections) in bf16 with float32 sums; weights,\n"
           "                       optimizer and evaluation stay float32 (needs AVX-512 BF16) [f32]\n"
           "  --shift-windows on|off  start each epoch's windows at a seeded random offset\n"
           "                       [on for transformers, off otherwise]\n"
           "  --seed N             seed for initialisation and dropout [%llu]\n"
           "  --threads N          OpenBLAS and lstmlm threads [library default]\n"
           "  --checkpoint FILE    checkpoint path [MODEL.ckpt.h5]\n"
           "  --resume FILE        continue the run saved in a checkpoint: the corpus, the\n"
           "                       validation text and -o default to those it records\n"
           "  --history-csv FILE   write the training history as CSV at the end\n"
           "  --force              train even when the estimated memory exceeds the machine's\n"
           "  -o, --output FILE    model file to write (required)\n"
           "  -q, --quiet          no progress output\n"
           "  -h, --help           this text\n\n"
           "Data-parallel: 'mpirun -np N lstmlm train ...' shares the --batch streams among N\n"
           "ranks (same batches as one process with that --batch); rank 0 prints and writes the\n"
           "files; --threads defaults to the node's cores / its ranks. See lstmlm-train(1).\n"
           "The loss is summed over the window's steps and averaged over the streams (as in\n"
           "Zaremba et al. 2014), so '--lr 1' is that paper's SGD rate.\n"
           "Transformer: each --bptt window is attended within itself, positions from 0 (use\n"
           "--bptt <= --context; longer windows are cut into chunks of --context). Generating, the\n"
           "key/value cache grows to --context tokens; then the last context/2 are re-encoded.\n"
           "Exit status: 0 done, 1 failure (message on stderr), 2 bad usage, 130 interrupted\n"
           "(checkpoint written).\n",
           arches, c.arch, c.layers, c.hidden, c.embed, c.heads, c.context, (double)c.dropout,
           LM_MAX_CUTOFFS, (double)c.div_value, (double)c.init_range, o.asgd_patience, o.batch,
           o.bptt, o.epochs, o.lr, o.decay_start, o.decay, o.clip, o.weight_decay,
           (unsigned long long)o.seed);
}

enum {
    O_FORCE = 200, O_HCSV,
    O_ARCH = 256, O_LAYERS, O_HIDDEN, O_EMBED, O_FFN, O_HEADS, O_CONTEXT, O_DROPOUT, O_TIE, O_INIT, O_MAXV, O_MINC,
    O_TOK, O_LOWER, O_VALID, O_BATCH, O_BPTT, O_EPOCHS, O_OPT, O_LR, O_DSTART, O_DECAY, O_PLATEAU,
    O_PATIENCE, O_CLIP, O_WD, O_MAXSTEPS, O_SEED, O_THREADS, O_CKPT, O_RESUME, O_SHIFT,
    O_FROM, O_DEMB, O_DIN, O_DHID, O_DOUT, O_WDROP, O_AR, O_TAR, O_ASGD, O_ASGDP, O_VFROM,
    O_SOFTMAX, O_CUTOFFS, O_DIV, O_PRECISION, O_LAST
};

static const struct option longopts[] = {
    {"arch", required_argument, NULL, O_ARCH},
    {"layers", required_argument, NULL, O_LAYERS},
    {"hidden", required_argument, NULL, O_HIDDEN},
    {"embed", required_argument, NULL, O_EMBED},
    {"ffn", required_argument, NULL, O_FFN},
    {"heads", required_argument, NULL, O_HEADS},
    {"context", required_argument, NULL, O_CONTEXT},
    {"dropout", required_argument, NULL, O_DROPOUT},
    {"tie", no_argument, NULL, O_TIE},
    {"softmax", required_argument, NULL, O_SOFTMAX},
    {"cutoffs", required_argument, NULL, O_CUTOFFS},
    {"div", required_argument, NULL, O_DIV},
    {"init-range", required_argument, NULL, O_INIT},
    {"max-vocab", required_argument, NULL, O_MAXV},
    {"min-count", required_argument, NULL, O_MINC},
    {"tokenize", required_argument, NULL, O_TOK},
    {"lowercase", no_argument, NULL, O_LOWER},
    {"valid", required_argument, NULL, O_VALID},
    {"batch", required_argument, NULL, O_BATCH},
    {"bptt", required_argument, NULL, O_BPTT},
    {"epochs", required_argument, NULL, O_EPOCHS},
    {"optimizer", required_argument, NULL, O_OPT},
    {"lr", required_argument, NULL, O_LR},
    {"decay-start", required_argument, NULL, O_DSTART},
    {"decay", required_argument, NULL, O_DECAY},
    {"plateau-decay", required_argument, NULL, O_PLATEAU},
    {"patience", required_argument, NULL, O_PATIENCE},
    {"clip", required_argument, NULL, O_CLIP},
    {"weight-decay", required_argument, NULL, O_WD},
    {"max-steps", required_argument, NULL, O_MAXSTEPS},
    {"precision", required_argument, NULL, O_PRECISION},
    {"shift-windows", required_argument, NULL, O_SHIFT},
    {"seed", required_argument, NULL, O_SEED},
    {"threads", required_argument, NULL, O_THREADS},
    {"checkpoint", required_argument, NULL, O_CKPT},
    {"resume", required_argument, NULL, O_RESUME},
    {"init", required_argument, NULL, O_FROM},
    {"vocab-from", required_argument, NULL, O_VFROM},
    {"dropout-embed", required_argument, NULL, O_DEMB},
    {"dropout-input", required_argument, NULL, O_DIN},
    {"dropout-hidden", required_argument, NULL, O_DHID},
    {"dropout-output", required_argument, NULL, O_DOUT},
    {"weight-drop", required_argument, NULL, O_WDROP},
    {"ar", required_argument, NULL, O_AR},
    {"tar", required_argument, NULL, O_TAR},
    {"asgd", no_argument, NULL, O_ASGD},
    {"asgd-patience", required_argument, NULL, O_ASGDP},
    {"force", no_argument, NULL, O_FORCE},
    {"history-csv", required_argument, NULL, O_HCSV},
    {"output", required_argument, NULL, 'o'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

static const char *softmax_name(int kind)
{
    return kind == LM_SOFTMAX_ADAPTIVE ? "adaptive" : "full";
}

/* "2000,10000" into buf. */
static const char *cutoff_list(const lm_config *c, char *buf, size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (size_t i = 0; i < c->n_cutoffs && len < cap; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%zu", i ? "," : "", c->cutoffs[i]);
    return buf;
}

/* --cutoffs: at most LM_MAX_CUTOFFS increasing whole numbers, the first >= LM_N_SPECIAL (the
 * special tokens stay in the shortlist); whether the last is below the vocabulary size is
 * known once the vocabulary is built. */
static int parse_cutoffs(const char *arg, lm_config *c)
{
    static char what[96]; /* cli_expect keeps the pointer */
    snprintf(what, sizeof what, "at most %d increasing whole numbers separated by commas, the "
             "first >= %d", LM_MAX_CUTOFFS, (int)LM_N_SPECIAL);
    char buf[256];
    size_t n = 0;
    if (strlen(arg) >= sizeof buf)
        return cli_expect(what);
    snprintf(buf, sizeof buf, "%s", arg);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        size_t v;
        if (n == LM_MAX_CUTOFFS || !cli_size(tok, &v) || (n == 0 && v < LM_N_SPECIAL) ||
            (n > 0 && v <= c->cutoffs[n - 1]))
            return cli_expect(what);
        c->cutoffs[n++] = v;
    }
    /* No empty parts: "2000,,10000" or a trailing comma. */
    if (!n || strstr(arg, ",,") || arg[0] == ',' || arg[strlen(arg) - 1] == ',')
        return cli_expect(what);
    c->n_cutoffs = n;
    return 1;
}

/* Fine-tuning: an option given on the command line that contradicts the --init model (its
 * shape, vocabulary or tokenizer); writes the misuse message and returns true. */
static bool init_conflict(const bool *given, const lm_config *cfg, const lm_vocab_opts *vo,
                          const lm_text_opts *to, const lm_model *m, char *msg, size_t cap)
{
    const lm_config *mc = lm_model_config(m);
    size_t V = lm_vocab_size(lm_model_vocab(m));
    struct {
        int code;
        const char *name;
        size_t want, have;
    } n[] = {{O_LAYERS, "layers", cfg->layers, mc->layers},
             {O_HIDDEN, "hidden", cfg->hidden, mc->hidden},
             {O_EMBED, "embed", cfg->embed, mc->embed},
             {O_FFN, "ffn", cfg->ffn, mc->ffn},
             {O_HEADS, "heads", cfg->heads, mc->heads},
             {O_CONTEXT, "context", cfg->context, mc->context},
             {O_MAXV, "max-vocab", vo->max_vocab, V}};
    if (given[O_ARCH - 256] && strcmp(cfg->arch, mc->arch)) {
        snprintf(msg, cap, "--arch %s conflicts with the --init model (%s)", cfg->arch, mc->arch);
        return true;
    }
    for (size_t i = 0; i < sizeof n / sizeof n[0]; i++)
        if (given[n[i].code - 256] && n[i].want != n[i].have) {
            snprintf(msg, cap, "--%s %zu conflicts with the --init model (%s %zu)", n[i].name,
                     n[i].want, n[i].code == O_MAXV ? "vocabulary" : n[i].name, n[i].have);
            return true;
        }
    char want[160], have[160];
    if (given[O_TIE - 256] && !mc->tied)
        snprintf(msg, cap, "--tie conflicts with the --init model (not tied)");
    else if (given[O_SOFTMAX - 256] && cfg->softmax != mc->softmax)
        snprintf(msg, cap, "--softmax %s conflicts with the --init model (%s)",
                 softmax_name(cfg->softmax), softmax_name(mc->softmax));
    else if (given[O_CUTOFFS - 256] &&
             strcmp(cutoff_list(cfg, want, sizeof want), cutoff_list(mc, have, sizeof have)))
        snprintf(msg, cap, "--cutoffs %.80s conflicts with the --init model (%.80s)", want,
                 mc->n_cutoffs ? have : "a full softmax");
    else if (given[O_DIV - 256] && (mc->softmax != LM_SOFTMAX_ADAPTIVE ||
                                    cfg->div_value != mc->div_value))
        snprintf(msg, cap, "--div %g conflicts with the --init model (%s)",
                 (double)cfg->div_value, mc->softmax == LM_SOFTMAX_ADAPTIVE ? "another div"
                                                                           : "a full softmax");
    else if (given[O_MINC - 256])
        snprintf(msg, cap, "--min-count conflicts with --init (the vocabulary is the model's)");
    else if (given[O_TOK - 256] && to->tokenize != mc->tokenize)
        snprintf(msg, cap, "--tokenize %s conflicts with the --init model (%s)",
                 lm_tokenize_name(to->tokenize), lm_tokenize_name(mc->tokenize));
    else if (given[O_LOWER - 256] && !mc->lowercase)
        snprintf(msg, cap, "--lowercase conflicts with the --init model (case kept)");
    else
        return false;
    return true;
}

/* The model's settings with the training-only options given on the command line (the
 * regularisation and --precision). */
static void init_regularization(const bool *given, const lm_config *cfg, lm_config *out)
{
    static const int codes[] = {O_DROPOUT, O_DEMB, O_DIN, O_DHID, O_DOUT, O_WDROP, O_AR, O_TAR};
    if (given[O_PRECISION - 256])
        out->precision = cfg->precision;
    float const *src[] = {&cfg->dropout,        &cfg->dropout_embed, &cfg->dropout_input,
                          &cfg->dropout_hidden, &cfg->dropout_output, &cfg->weight_drop,
                          &cfg->ar,             &cfg->tar};
    float *dst[] = {&out->dropout,        &out->dropout_embed, &out->dropout_input,
                    &out->dropout_hidden, &out->dropout_output, &out->weight_drop,
                    &out->ar,             &out->tar};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        if (given[codes[i] - 256])
            *dst[i] = *src[i];
}

/* Everything the command line sets. */
typedef struct train_args {
    lm_config cfg;
    lm_train_opts o;
    lm_text_opts topt;
    lm_vocab_opts vopt;
    const char *valid_path, *out, *ckpt, *resume, *init, *vocab_from, *history_csv;
    bool given[O_LAST - 256], awd_given;
    size_t threads;
    bool quiet, force;
} train_args;

/* A rate or probability in [0, 1): dropout options. */
static int rate(const char *arg, float *out)
{
    double d;
    if (cli_double(arg, &d) && d >= 0 && d < 1) {
        *out = (float)d;
        return 1;
    }
    return cli_expect("a number in [0, 1)");
}

static int nonneg(const char *arg, float *out)
{
    double d;
    if (cli_double(arg, &d) && d >= 0) {
        *out = (float)d;
        return 1;
    }
    return cli_expect("a number >= 0");
}

static int option(void *ud, int c, const char *a)
{
    train_args *t = ud;
    lm_config *cfg = &t->cfg;
    lm_train_opts *o = &t->o;
    if (c >= 256 && c < O_LAST)
        t->given[c - 256] = true;
    switch (c) {
    case O_ARCH: {
        static char names[160];
        names[0] = 0;
        for (size_t i = 0, len = 0; lm_arch_name(i) && len < sizeof names; i++)
            len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", i ? ", " : "",
                                    lm_arch_name(i));
        for (size_t i = 0; lm_arch_name(i); i++)
            if (!strcmp(lm_arch_name(i), a)) {
                snprintf(cfg->arch, sizeof cfg->arch, "%s", a);
                return 1;
            }
        return cli_expect(names);
    }
    case O_LAYERS: return cli_size_min(a, &cfg->layers, 1);
    case O_HIDDEN: return cli_size_min(a, &cfg->hidden, 1);
    case O_EMBED: return cli_size_min(a, &cfg->embed, 1);
    case O_FFN: return cli_size_min(a, &cfg->ffn, 0);
    case O_HEADS: return cli_size_min(a, &cfg->heads, 1);
    case O_CONTEXT: return cli_size_min(a, &cfg->context, 1);
    case O_DROPOUT: return rate(a, &cfg->dropout);
    case O_TIE: cfg->tied = 1; return 1;
    case O_SOFTMAX:
        if (!strcmp(a, "full"))
            cfg->softmax = LM_SOFTMAX_FULL;
        else if (!strcmp(a, "adaptive"))
            cfg->softmax = LM_SOFTMAX_ADAPTIVE;
        else
            return cli_expect("full or adaptive");
        return 1;
    case O_CUTOFFS: return parse_cutoffs(a, cfg);
    case O_DIV: {
        double d;
        if (!cli_real(a, &d, 1, 1e6, "a number in [1, 1e6]"))
            return 0;
        cfg->div_value = (float)d;
        return 1;
    }
    case O_INIT: {
        double d;
        if (cli_double(a, &d) && d > 0 && d <= 10) {
            cfg->init_range = (float)d;
            return 1;
        }
        return cli_expect("a number in (0, 10]");
    }
    case O_MAXV:
        if (cli_size(a, &t->vopt.max_vocab) &&
            (t->vopt.max_vocab == 0 || t->vopt.max_vocab > LM_N_SPECIAL))
            return 1;
        return cli_expect("0 = no limit, or more than the 3 special tokens");
    case O_MINC: return cli_size_min(a, &t->vopt.min_count, 1);
    case O_TOK:
        return (t->topt.tokenize = lm_tokenize_parse(a)) >= 0 ||
               cli_expect("words, whitespace or chars");
    case O_LOWER: t->topt.lowercase = 1; return 1;
    case O_VALID: t->valid_path = a; return 1;
    case O_BATCH: return cli_size_min(a, &o->batch, 1);
    case O_BPTT: return cli_size_min(a, &o->bptt, 1);
    case O_EPOCHS: return cli_size_min(a, &o->epochs, 1);
    case O_OPT:
        if (!strcmp(a, "sgd"))
            o->optimizer = LM_OPT_SGD;
        else if (!strcmp(a, "adam"))
            o->optimizer = LM_OPT_ADAM;
        else if (!strcmp(a, "adamw"))
            o->optimizer = LM_OPT_ADAMW;
        else
            return cli_expect("sgd, adam or adamw");
        return 1;
    case O_LR: return (cli_double(a, &o->lr) && o->lr > 0) || cli_expect("a number > 0");
    case O_DSTART: return cli_size_min(a, &o->decay_start, 0);
    case O_DECAY: return cli_real(a, &o->decay, 0, 1, "a factor in [0, 1]");
    case O_PLATEAU: return cli_real(a, &o->plateau_decay, 0, 1, "a factor in [0, 1]");
    case O_PATIENCE: return cli_size_min(a, &o->patience, 0);
    case O_CLIP: return cli_real(a, &o->clip, 0, HUGE_VAL, "a number >= 0 (0 = off)");
    case O_WD: return cli_real(a, &o->weight_decay, 0, HUGE_VAL, "a number >= 0");
    case O_MAXSTEPS: return cli_size_min(a, &o->max_steps, 0);
    case O_PRECISION:
        return (cfg->precision = lm_precision_parse(a)) >= 0 || cli_expect("f32 or bf16");
    case O_SHIFT:
        if (strcmp(a, "on") && strcmp(a, "off"))
            return cli_expect("on or off");
        o->shift_windows = !strcmp(a, "on");
        return 1;
    case O_SEED: return cli_u64(a, &o->seed) || cli_expect("a whole number >= 0");
    case O_THREADS: return cli_size_min(a, &t->threads, 0);
    case O_CKPT: t->ckpt = a; return 1;
    case O_RESUME: t->resume = a; return 1;
    case O_FROM: t->init = a; return 1;
    case O_VFROM: t->vocab_from = a; return 1;
    case O_DEMB: t->awd_given = true; return rate(a, &cfg->dropout_embed);
    case O_DIN: t->awd_given = true; return rate(a, &cfg->dropout_input);
    case O_DHID: t->awd_given = true; return rate(a, &cfg->dropout_hidden);
    case O_DOUT: t->awd_given = true; return rate(a, &cfg->dropout_output);
    case O_WDROP: t->awd_given = true; return rate(a, &cfg->weight_drop);
    case O_AR: t->awd_given = true; return nonneg(a, &cfg->ar);
    case O_TAR: t->awd_given = true; return nonneg(a, &cfg->tar);
    case O_ASGD: t->awd_given = true; o->asgd = 1; return 1;
    case O_ASGDP: t->awd_given = true; return cli_size_min(a, &o->asgd_patience, 0);
    case O_FORCE: t->force = true; return 1;
    case O_HCSV: t->history_csv = a; return 1;
    case 'o': t->out = a; return 1;
    case 'q': t->quiet = true; return 1;
    default: return -1;
    }
}

/* The long name of the first of the options codes[0..n) given on the command line, or NULL. */
static const char *first_given(const bool *given, const int *codes, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (given[codes[i] - 256])
            for (size_t k = 0; longopts[k].name; k++)
                if (longopts[k].val == codes[i])
                    return longopts[k].name;
    return NULL;
}

/* Files that are the same file (one of them may not exist yet). */
static bool same_file(const char *a, const char *b)
{
    struct stat x, y;
    return a && b && stat(a, &x) == 0 && stat(b, &y) == 0 && x.st_dev == y.st_dev &&
           x.st_ino == y.st_ino;
}

/* An output path that can be written: not a folder, not an input, in a writable folder. */
static int check_output(const char *opt, const char *path, const char *const *inputs, size_t n)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return cli_usage("train", "%s %s: is a folder (expected a model file name)", opt, path);
    for (size_t i = 0; i < n; i++)
        if (inputs[i] && same_file(path, inputs[i]))
            return cli_usage("train", "%s %s: is one of the inputs; it would be overwritten",
                             opt, path);
    char dir[4096];
    const char *slash = strrchr(path, '/');
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) + (slash == path) : 1,
             slash ? path : ".");
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        fprintf(stderr, "lstmlm: %s: no such folder for %s\n", dir, path);
        return EXIT_FAIL;
    }
    if (access(dir, W_OK) != 0) {
        fprintf(stderr, "lstmlm: %s: cannot write in this folder (for %s)\n", dir, path);
        return EXIT_FAIL;
    }
    return EXIT_OK;
}

/* The machine's memory in bytes (0 when unknown). */
static double machine_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES), size = sysconf(_SC_PAGESIZE);
    return pages > 0 && size > 0 ? (double)pages * (double)size : 0;
}

int cmd_train(int argc, char **argv)
{
    train_args A = {0};
    lm_config_init(&A.cfg);
    lm_train_opts_init(&A.o);
    lm_text_opts_init(&A.topt);
    lm_vocab_opts_init(&A.vopt);
    int done = cli_parse("train", argc, argv, "o:qh", longopts, help, option, &A);
    if (done >= 0)
        return done;
    lm_config cfg = A.cfg;
    lm_train_opts o = A.o;
    lm_text_opts topt = A.topt;
    lm_vocab_opts vopt = A.vopt;
    const char *valid_path = A.valid_path, *out = A.out, *ckpt = A.ckpt, *resume = A.resume,
               *init = A.init;
    bool *given = A.given, awd_given = A.awd_given;
    size_t threads = A.threads;
    bool quiet = A.quiet, lr_set = given[O_LR - 256], dstart_set = given[O_DSTART - 256];
    /* A resume without a corpus or an output takes them from the checkpoint's notes. */
    char note_train[1024] = "", note_valid[1024] = "", note_out[1024] = "";
    if (resume) {
        lm_error ne = {0};
        if (optind == argc) {
            int r = lm_checkpoint_note(resume, "train", note_train, sizeof note_train, &ne);
            if (r < 0)
                return cli_fail(&ne);
            if (r == 1)
                return cli_usage("train", "--resume %s: the checkpoint does not record its "
                                 "corpus; give TRAIN.txt", resume);
        }
        if (!valid_path && lm_checkpoint_note(resume, "valid", note_valid, sizeof note_valid,
                                              &ne) == 0 && note_valid[0])
            valid_path = note_valid;
        if (!out && lm_checkpoint_note(resume, "output", note_out, sizeof note_out, &ne) == 0)
            out = note_out;
    }
    if (resume) {
        /* The checkpoint decides the model, the vocabulary and the schedule. */
        static const int fixed[] = {O_ARCH, O_LAYERS, O_HIDDEN, O_EMBED, O_FFN, O_HEADS,
                                    O_CONTEXT, O_DROPOUT, O_TIE, O_INIT, O_MAXV, O_MINC, O_TOK,
                                    O_LOWER, O_BATCH, O_BPTT, O_OPT, O_LR, O_DSTART, O_DECAY,
                                    O_PLATEAU, O_PATIENCE, O_CLIP, O_WD, O_MAXSTEPS, O_SHIFT,
                                    O_SEED, O_DEMB, O_DIN, O_DHID, O_DOUT, O_WDROP, O_AR, O_TAR,
                                    O_ASGD, O_ASGDP, O_SOFTMAX, O_CUTOFFS, O_DIV, O_PRECISION};
        const char *opt = first_given(given, fixed, sizeof fixed / sizeof fixed[0]);
        if (opt)
            return cli_usage("train", "--%s: the checkpoint %s sets it; only --epochs, --valid, "
                             "--threads, -o, --checkpoint and -q go with --resume", opt, resume);
    }
    if (optind + 1 < argc)
        return cli_usage("train", "one training file only");
    if (optind == argc && !note_train[0])
        return cli_usage("train", "missing TRAIN.txt");
    const char *train_path = optind < argc ? argv[optind] : note_train;
    if (!out)
        return cli_usage("train", "missing -o MODEL.h5");
    if (init && resume)
        return cli_usage("train", "--init and --resume exclude each other");
    if (A.vocab_from && (init || resume))
        return cli_usage("train", "--vocab-from: not with %s (the model's vocabulary is used)",
                         init ? "--init" : "--resume");
    if (A.vocab_from) {
        static const int own[] = {O_MAXV, O_MINC, O_TOK, O_LOWER};
        const char *opt = first_given(given, own, sizeof own / sizeof own[0]);
        if (opt)
            return cli_usage("train", "--%s conflicts with --vocab-from (the vocabulary and "
                             "tokenizer are %s's)", opt, A.vocab_from);
    }
    if (given[O_WD - 256] && o.optimizer != LM_OPT_ADAMW && !resume)
        return cli_usage("train", "--weight-decay goes with --optimizer adamw (sgd and adam "
                         "would ignore it)");
    if (o.asgd && !valid_path && !resume)
        return cli_usage("train", "--asgd needs --valid (averaging starts when it stalls)");
    if (given[O_PRECISION - 256]) {
        /* Before any work: a CPU that cannot run the bf16 kernel is told so at once. */
        lm_error pe;
        if (lm_precision_check(cfg.precision, &pe)) {
            fprintf(stderr, "lstmlm: --precision %s needs a CPU with AVX-512 BF16 (vdpbf16ps); "
                            "this one has none (use --precision f32)\n",
                    lm_precision_name(cfg.precision));
            return EXIT_FAIL;
        }
    }
    bool adaptive = cfg.softmax == LM_SOFTMAX_ADAPTIVE;
    if (!init && !resume) {
        /* The softmax options go together; the vocabulary size is checked once it is known. */
        if (!adaptive && (given[O_CUTOFFS - 256] || given[O_DIV - 256]))
            return cli_usage("train", "--%s goes with --softmax adaptive",
                             given[O_CUTOFFS - 256] ? "cutoffs" : "div");
        if (adaptive && !cfg.n_cutoffs)
            return cli_usage("train", "--softmax adaptive needs --cutoffs (e.g. --cutoffs "
                             "2000,10000)");
        if (adaptive && cfg.tied)
            return cli_usage("train", "--tie does not go with --softmax adaptive (its head and "
                             "tail clusters are not the embedding's shape)");
    }
    if ((awd_given || adaptive) && !init && !resume) {
        lm_config k = cfg;
        lm_error ke;
        k.vocab = adaptive ? cfg.cutoffs[cfg.n_cutoffs - 1] + 1 : LM_N_SPECIAL;
        lm_config_derive(&k);
        /* The head's messages start with "cutoffs ...": name the option. */
        if (lm_config_check(&k, &ke))
            return cli_usage("train", "%s%s", strncmp(ke.msg, "cutoffs ", 8) ? "" : "--",
                             ke.msg);
    }
    if (o.optimizer != LM_OPT_SGD) {
        if (!lr_set)
            o.lr = 0.001;
        if (!dstart_set)
            o.decay_start = 0;
    }
    char ckbuf[4096];
    if (!ckpt) {
        size_t n = strlen(out);
        if (n > 3 && !strcmp(out + n - 3, ".h5"))
            snprintf(ckbuf, sizeof ckbuf, "%.*s.ckpt.h5", (int)(n - 3), out);
        else
            snprintf(ckbuf, sizeof ckbuf, "%s.ckpt.h5", out);
        ckpt = ckbuf;
    }
    /* Data-parallel under mpirun: rank 0 alone prints and writes files. */
    size_t rank = 0, ranks = 1;
    if (!cli_mpi_init(&rank, &ranks))
        return EXIT_FAIL;
    if (rank)
        quiet = true;
    if (ranks > 1 && !threads)
        threads = cli_mpi_threads(ranks);
    cli_threads(threads);
    if (!quiet)
        lm_set_log_fn(cli_log, NULL);

    lm_error err = {0};
    /* Before any work: the corpus is read twice (vocabulary, then ids) unless resuming, so it
     * must be a file; the outputs are locked against a second run writing them. */
    struct stat st_train;
    if (!resume && stat(train_path, &st_train) == 0 && !S_ISREG(st_train.st_mode)) {
        fprintf(stderr, "lstmlm: %s: not a regular file (training reads the corpus twice; save "
                        "the stream to a file first)\n", train_path);
        return EXIT_FAIL;
    }
    /* The checkpoint being resumed is rewritten in place; nothing else that is read is. */
    const char *inputs[5] = {train_path, valid_path, init, A.vocab_from, resume};
    int bad;
    if (!rank && ((bad = check_output("-o", out, inputs, 5)) ||
                  (bad = check_output("--checkpoint", ckpt, inputs, 4))))
        return bad;
    /* Only rank 0 writes the files, so only it takes their locks. */
    cli_lock lock_out = {.fd = -1}, lock_ckpt = {.fd = -1};
    if (!rank && (cli_lock_take(&lock_out, out, &err) ||
                  (strcmp(ckpt, out) && cli_lock_take(&lock_ckpt, ckpt, &err)))) {
        cli_lock_drop(&lock_out);
        return cli_fail(&err);
    }
    bool wrote_out = false, wrote_ckpt = false;
    lm_vocab *vocab = NULL;
    lm_model *m = NULL, *probe = NULL;
    lm_trainer *t = NULL;
    int32_t *train = NULL, *valid = NULL;
    size_t n_train = 0, n_valid = 0;
    lm_corpus_stats st;
    int rc = EXIT_FAIL;
    double t_start = cli_now();

    if (resume) {
        /* The checkpoint's vocabulary and tokenizer decide how the corpora are read. */
        if (lm_model_load(resume, &probe, &err))
            goto fail;
        lm_model_text_opts(probe, &topt);
        if (lm_corpus_read(train_path, &topt, lm_model_vocab(probe), &train, &n_train, &st, &err) ||
            (valid_path && lm_corpus_read(valid_path, &topt, lm_model_vocab(probe), &valid,
                                          &n_valid, NULL, &err)))
            goto fail;
        lm_model_free(probe);
        probe = NULL;
        if (lm_trainer_resume(resume, train, n_train, valid, n_valid, &m, &t, &err))
            goto fail;
        if (given[O_EPOCHS - 256] && o.epochs != lm_trainer_opts(t)->epochs)
            lm_trainer_set_epochs(t, o.epochs);
        if (!quiet)
            fprintf(stderr, "resuming %s at epoch %zu of %zu\n", resume, lm_trainer_epoch(t) + 1,
                    lm_trainer_opts(t)->epochs);
    } else if (init) {
        /* Fine-tuning: the model's vocabulary and tokenizer read the corpora. */
        if (lm_model_load(init, &m, &err))
            goto fail;
        char msg[256];
        if (!lm_model_config(m)) {
            rc = cli_usage("train", "--init: %s is a %s model, not a neural one", init,
                           lm_model_kind(m));
            goto out;
        }
        if (init_conflict(given, &cfg, &vopt, &topt, m, msg, sizeof msg)) {
            rc = cli_usage("train", "%s", msg);
            goto out;
        }
        lm_config reg = *lm_model_config(m);
        init_regularization(given, &cfg, &reg);
        if (lm_model_set_regularization(m, &reg, &err)) {
            rc = cli_usage("train", "%s", err.msg);
            goto out;
        }
        lm_model_text_opts(m, &topt);
        if (lm_corpus_read(train_path, &topt, lm_model_vocab(m), &train, &n_train, &st, &err) ||
            (valid_path && lm_corpus_read(valid_path, &topt, lm_model_vocab(m), &valid,
                                          &n_valid, NULL, &err)))
            goto fail;
        if (lm_trainer_create(m, &o, train, n_train, valid, n_valid, &t, &err))
            goto fail;
        if (!quiet)
            fprintf(stderr, "fine-tuning %s\n", init);
    } else {
        if (A.vocab_from) {
            if (cli_vocab_from(A.vocab_from, &vocab, &topt, &err))
                goto fail;
        } else if (lm_vocab_build(&train_path, 1, &topt, &vopt, &vocab, &err))
            goto fail;
        if (lm_corpus_read(train_path, &topt, vocab, &train, &n_train, &st, &err) ||
            (valid_path &&
             lm_corpus_read(valid_path, &topt, vocab, &valid, &n_valid, NULL, &err)))
            goto fail;
        cfg.tokenize = topt.tokenize;
        cfg.lowercase = topt.lowercase;
        lm_config_derive(&cfg);
        /* What the run will need, before allocating it. */
        cfg.vocab = lm_vocab_size(vocab);
        if (adaptive && cfg.cutoffs[cfg.n_cutoffs - 1] >= cfg.vocab) {
            char list[160];
            rc = cli_usage("train", "--cutoffs %s: the last cutoff must be below the vocabulary "
                           "size %zu (the last tail cluster ends there)",
                           cutoff_list(&cfg, list, sizeof list), cfg.vocab);
            goto out;
        }
        size_t np = 0, need = 0;
        if (lm_config_footprint(&cfg, o.batch, o.bptt, &np, &need, &err)) {
            rc = cli_usage("train", "%s", err.msg);
            goto out;
        }
        double have = machine_bytes();
        if (!quiet)
            fprintf(stderr, "model: %zu parameters; training needs about %.1f MiB%s\n", np,
                    need / 1048576.0, have > 0 ? "" : " (machine memory unknown)");
        if (have > 0 && (double)need > 0.9 * have && !A.force) {
            fprintf(stderr, "lstmlm: training needs about %.1f GiB and this machine has %.1f GiB; "
                            "make the model or --batch/--bptt smaller (or --force)\n",
                    need / 1073741824.0, have / 1073741824.0);
            goto fail_quiet;
        }
        lm_rng rng;
        lm_rng_seed(&rng, o.seed);
        if (lm_model_create(&cfg, vocab, &rng, &m, &err)) {
            vocab = NULL;
            goto fail;
        }
        vocab = NULL;
        if (lm_trainer_create(m, &o, train, n_train, valid, n_valid, &t, &err))
            goto fail;
    }
    if (ranks > 1 && lm_trainer_set_shard(t, rank, ranks, cli_mpi_allreduce, NULL, &err))
        goto fail;
    /* The checkpoint remembers what a resume needs (corpus paths, output). */
    if (lm_trainer_set_note(t, "train", train_path, &err) ||
        lm_trainer_set_note(t, "valid", valid_path ? valid_path : "", &err) ||
        lm_trainer_set_note(t, "output", out, &err))
        goto fail;
    const lm_train_opts *to = lm_trainer_opts(t);
    bool bf16 = lm_model_config(m)->precision == LM_PRECISION_BF16;
    if (!quiet) {
        char shape[200];
        lm_model_describe(m, shape, sizeof shape);
        fprintf(stderr,
                "%s: %zu tokens, %zu turns, vocabulary %zu (%zu OOV tokens)%s%s\n"
                "model: %s, %zu parameters; batch %zu, bptt %zu, %s lr %g\n"
                "OpenBLAS core %s; products %s; recurrent kernel %s; %zu threads%s%s%s\n",
                train_path, n_train, st.lines, lm_vocab_size(lm_model_vocab(m)), st.oov,
                valid_path ? "; valid " : "", valid_path ? valid_path : "", shape,
                lm_model_n_params(m), to->batch, to->bptt,
                to->optimizer == LM_OPT_SGD ? "sgd" : to->optimizer == LM_OPT_ADAM ? "adam" : "adamw",
                to->lr, lm_blas_core_name(), lm_gemm_kernel_name(), lm_kernel_name(), lm_threads(),
                bf16 ? "; precision bf16 (kernel " : "", bf16 ? lm_bf16_kernel_name() : "",
                bf16 ? ")" : "");
        if (ranks > 1)
            fprintf(stderr, "data-parallel: %zu ranks (MPI), %zu-%zu streams and %zu threads "
                            "each\n", ranks, to->batch / ranks, (to->batch + ranks - 1) / ranks,
                    lm_threads());
    }
    progress_ctx pc = {.tty = cli_stderr_tty(), .quiet = quiet, .epochs = to->epochs};
    lm_trainer_set_progress(t, on_progress, &pc, pc.tty ? 5 : 10);
    lm_trainer_set_clock(t, cli_now);
    cli_catch_signals();
    double train_s = 0; /* seconds in training windows, validation excluded */
    for (;;) {
        lm_epoch_result r;
        pc.last_print = cli_now();
        pc.based = false; /* on_progress sets t0 at the epoch's first report */
        pc.epochs = lm_trainer_opts(t)->epochs;
        int e = lm_trainer_run_epoch(t, &cli_interrupted, &r, &err);
        if (pc.tty && !quiet)
            fprintf(stderr, "\r\033[K");
        if (e == LM_EINTR) {
            lm_error e2 = {0};
            if (lm_trainer_save_checkpoint(t, rank ? NULL : ckpt, &e2)) {
                cli_fail(&e2);
                goto fail_quiet;
            }
            rc = 130;
            if (rank)
                goto out;
            fprintf(stderr, "lstmlm: interrupted; checkpoint written to %s (resume with "
                            "'lstmlm train --resume %s ...')\n", ckpt, ckpt);
            rc = 130;
            goto out;
        }
        if (e == LM_EDIVERGED) {
            if (rank) { /* every rank sees the same summed loss; rank 0 says it */
                rc = EXIT_FAIL;
                goto out;
            }
            /* Name only what this run wrote (a file from before it is left as it was). */
            if (wrote_out && wrote_ckpt)
                fprintf(stderr, "lstmlm: %s; the last good checkpoint (%s, epoch %zu) and model "
                                "(%s) are kept\n", err.msg, ckpt, lm_trainer_epoch(t), out);
            else if (wrote_out || wrote_ckpt)
                fprintf(stderr, "lstmlm: %s; the last good %s (%s) is kept\n", err.msg,
                        wrote_out ? "model" : "checkpoint", wrote_out ? out : ckpt);
            else
                fprintf(stderr, "lstmlm: %s; no model was written\n", err.msg);
            goto fail_quiet;
        }
        if (e)
            goto fail;
        train_s += r.seconds;
        char db[32];
        if (!quiet) {
            printf("epoch %2zu  train ppl %8.2f", r.epoch, exp(r.train_loss));
            if (valid)
                printf("  valid ppl %8.2f%s", r.valid_ppl, r.improved ? " *" : "  ");
            printf("  lr %-8.4g %7.0f tok/s  %s", r.lr, r.seconds > 0 ? r.tokens / r.seconds : 0,
                   cli_duration(r.seconds, db, sizeof db));
            if (r.averaging)
                printf("  averaging after epoch %zu", r.averaging);
            printf("\n");
            fflush(stdout);
        }
        if (r.improved && !rank) {
            if (lm_trainer_save_best(t, out, &err))
                goto fail;
            wrote_out = true;
        }
        if (lm_trainer_save_checkpoint(t, rank ? NULL : ckpt, &err))
            goto fail;
        wrote_ckpt = true;
        if (r.stop)
            break;
    }
    if (!rank && lm_trainer_save_best(t, out, &err))
        goto fail;
    if (!rank && A.history_csv) {
        const lm_history_row *h;
        size_t nh = lm_model_history(m, &h);
        if (cli_history_csv(A.history_csv, h, nh, &err))
            goto fail;
    }
    if (!quiet && ranks > 1) {
        double rs, ws;
        uint64_t calls, bytes;
        cli_mpi_stats(&rs, &ws, &calls, &bytes);
        /* Sums during validation and checkpoints are counted too; they are few and small. */
        fprintf(stderr, "all-reduce: %.2f s in %llu calls (%.1f MB), %.1f%% of %.2f s training%s\n",
                rs, (unsigned long long)calls, (double)bytes / 1e6,
                train_s > 0 ? 100 * rs / train_s : 0, train_s,
                ws > 0 ? "" : " (waits for the slowest rank included)");
        if (ws > 0)
            fprintf(stderr, "waiting for the slowest rank: %.2f s (%.1f%%)\n", ws,
                    train_s > 0 ? 100 * ws / train_s : 0);
    }
    if (!quiet) {
        char db[32];
        double best = lm_trainer_best_ppl(t);
        if (valid && isfinite(best))
            fprintf(stderr, "best valid ppl %.2f; model written to %s (%s)\n", best, out,
                    cli_duration(cli_now() - t_start, db, sizeof db));
        else
            fprintf(stderr, "model written to %s (%s)\n", out,
                    cli_duration(cli_now() - t_start, db, sizeof db));
    }
    rc = EXIT_OK;
    goto out;
fail:
    if (ranks > 1)
        fprintf(stderr, "lstmlm: rank %zu of %zu: %s\n", rank, ranks, err.msg);
    else
        cli_fail(&err);
fail_quiet:
    rc = EXIT_FAIL;
    /* One rank's failure ends the whole job (the others would wait in the next sum). */
    if (ranks > 1) {
        if (!rank)
            fprintf(stderr, "lstmlm: ending all %zu ranks; the last checkpoint (%s) and model "
                            "(%s) are kept\n", ranks, ckpt, out);
        cli_mpi_abort(EXIT_FAIL);
    }
out:
    cli_lock_drop(&lock_ckpt);
    cli_lock_drop(&lock_out);
    lm_trainer_free(t);
    lm_model_free(m);
    lm_model_free(probe);
    lm_vocab_free(vocab);
    free(train);
    free(valid);
    cli_mpi_finalize();
    return rc;
}
