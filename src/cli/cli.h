/* cli.h - shared pieces of the lstmlm command-line program (public API only). */
#ifndef LM_CLI_H
#define LM_CLI_H

#include "lstmlm-tools.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <getopt.h>
#include <stdio.h>

/* Exit codes: 0 success, 1 runtime failure, 2 misuse (bad option or argument). */
enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2 };

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_generate(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_corpus(int argc, char **argv);
int cmd_ngram(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_memory(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_serve(int argc, char **argv);

/* Prints "lstmlm: <msg>" to stderr and returns EXIT_FAIL. */
int cli_fail(const lm_error *err);
/* Prints the one line "lstmlm CMD: <formatted>" and returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* "lstmlm: FILE: <msg>" (the message without a leading "FILE: " of its own); EXIT_FAIL. */
int cli_fail_file(const char *file, const lm_error *err);
/* "lstmlm CMD: unknown option 'X' (did you mean --Y?)" for the option getopt_long just refused;
 * EXIT_USAGE. */
int cli_unknown_option(const char *cmd, const struct option *opts, char **argv);
/* What getopt_long's '?' (unknown option) or ':' (missing value, with ':' first in the short
 * options) means, as cli_unknown_option or "lstmlm CMD: --NAME: needs a value"; EXIT_USAGE.
 * The caller sets opterr = 0 so getopt prints nothing of its own. */
int cli_getopt_error(const char *cmd, int c, const struct option *opts, char **argv);
/* "lstmlm CMD: --NAME: bad value 'ARG' (expected ...)" where NAME is option c of opts and the
 * expectation is what the last failed value parser gave cli_expect; EXIT_USAGE. */
int cli_bad_value(const char *cmd, const struct option *opts, int c, const char *arg);
/* Records what an option's value should be (static text) for the next bad-value message;
 * returns false, so a parser can end with `return cli_expect("a number >= 0");`. */
bool cli_expect(const char *what);

/* One option parser for every command: getopt_long over argv with the command's short and
 * long options; 'h' prints help; each other option goes to fn, which returns 1 when it took
 * it, 0 when its value is bad (after cli_expect) and -1 when it is not an option it knows.
 * Returns -1 when every option was taken (optind is then at the first operand), else the exit
 * code to return at once: EXIT_OK after --help, EXIT_USAGE after a one-line message (unknown
 * option with the nearest name, a missing or bad value). */
typedef int (*cli_opt_fn)(void *ud, int c, const char *arg);
int cli_parse(const char *cmd, int argc, char **argv, const char *shortopts,
              const struct option *opts, void (*help)(void), cli_opt_fn fn, void *ud);

/* Whole numbers >= min, and reals in [lo, hi]; on failure they record the expectation
 * ("a whole number >= 1", or what). */
bool cli_size_min(const char *s, size_t *out, size_t min);
bool cli_real(const char *s, double *out, double lo, double hi, const char *what);

/* Strict number parsing for option values: false when the text is not a whole number/real. */
bool cli_size(const char *s, size_t *out);
bool cli_u64(const char *s, uint64_t *out);
bool cli_double(const char *s, double *out);

/* Writes a training history as CSV (epoch, tokens, train_loss, train_ppl, valid_ppl, lr,
 * tokens_per_s, seconds), one row per epoch. */
int cli_history_csv(const char *path, const lm_history_row *h, size_t n, lm_error *err);
/* Monotonic seconds. */
double cli_now(void);
/* Installs SIGINT/SIGTERM handlers that set cli_interrupted (first signal) and restore the
 * default action (a second Ctrl-C kills the program). */
extern volatile int cli_interrupted;
void cli_catch_signals(void);
/* True when stderr is a terminal (progress lines are redrawn with '\r'). */
bool cli_stderr_tty(void);
/* Formats seconds as "1h02m", "3m05s" or "12s". */
const char *cli_duration(double s, char *buf, size_t cap);
/* Sets the OpenBLAS and lstmlm thread count from --threads (0 = leave default). */
void cli_threads(size_t n);
/* Log callback printing library lines to stderr unless quiet. */
void cli_log(void *ud, const char *line);
/* Reads a whole file into a NUL-terminated buffer (caller frees); NULL when it cannot. */
char *cli_read_file(const char *path);
/* --vocab-from: a copy of the vocabulary of the model file PATH (any kind) and its tokenizer
 * settings in *t, none of its weights (train, ngram train). */
int cli_vocab_from(const char *path, lm_vocab **vocab, lm_text_opts *t, lm_error *err);

/* An advisory lock on an output file, held from before any work until the command ends: an
 * exclusive flock on "PATH.lock", which cli_lock_drop removes. take fails (LM_EIO, one-line
 * message in err) when another run holds it, when PATH exists but is not a regular file, or
 * when its folder is not writable. */
typedef struct cli_lock {
    int fd;
    char path[4200];
} cli_lock;
int cli_lock_take(cli_lock *l, const char *path, lm_error *err);
void cli_lock_drop(cli_lock *l); /* no-op when not held */

/* ---- options shared by generate, chat and ngram generate ----------------------------------
 * Sampling (-t/--temperature, --top-k, --top-p, --repetition-penalty, --presence-penalty,
 * --penalty-window, --allow-unk, --ban WORD...), beam search (--beam, --length-alpha), --seed
 * and --threads. A command puts CLI_SAMPLING_LONGOPTS in its getopt_long table, "t:" in its
 * short options, and offers every option to cli_sampling_option first. */
enum {
    CLI_O_TOPK = 0x1000,
    CLI_O_TOPP,
    CLI_O_REP,
    CLI_O_PRES,
    CLI_O_WIN,
    CLI_O_UNK,
    CLI_O_BAN,
    CLI_O_BEAM,
    CLI_O_ALPHA,
    CLI_O_SEED,
    CLI_O_THREADS,
    CLI_O_MIX,
    CLI_O_LAMBDA,
    CLI_O_MIX_DECAY
};
#define CLI_SAMPLING_LONGOPTS                                                                      \
    {"temperature", required_argument, NULL, 't'}, {"top-k", required_argument, NULL, CLI_O_TOPK}, \
        {"top-p", required_argument, NULL, CLI_O_TOPP},                                            \
        {"repetition-penalty", required_argument, NULL, CLI_O_REP},                                \
        {"presence-penalty", required_argument, NULL, CLI_O_PRES},                                 \
        {"penalty-window", required_argument, NULL, CLI_O_WIN},                                    \
        {"allow-unk", no_argument, NULL, CLI_O_UNK}, {"ban", required_argument, NULL, CLI_O_BAN},  \
        {"beam", required_argument, NULL, CLI_O_BEAM},                                             \
        {"length-alpha", required_argument, NULL, CLI_O_ALPHA},                                    \
        {"seed", required_argument, NULL, CLI_O_SEED},                                             \
    {                                                                                              \
        "threads", required_argument, NULL, CLI_O_THREADS                                          \
    }

typedef struct cli_sampling {
    lm_sampler_opts sampler;
    size_t beam;         /* 0 = sample; otherwise the beam width (at most 1024) */
    double length_alpha; /* beam length normalisation */
    uint64_t seed;
    size_t threads;   /* 0 = library default */
    const char **ban; /* n_ban words to never produce */
    size_t n_ban;
} cli_sampling;

/* The ids of the n --ban words in v (*out: n ids, caller frees; NULL when n is 0). A word
 * outside the vocabulary is an error naming it. */
int cli_ban_ids(const lm_vocab *v, const char *const *ban, size_t n, int32_t **out,
                lm_error *err);
/* A prompt as ids (caller frees *ids). A last line without its newline is continued: the
 * <eot> the line reader adds is dropped. */
int cli_prompt_ids(const char *text, const lm_text_opts *t, const lm_vocab *v, int32_t **ids,
                   size_t *n, lm_error *err);

/* Prints the --help lines of the shared sampling options (-t ... --seed) with their
 * defaults. */
void cli_sampling_help(void);

/* Library defaults, seed 1, and room for up to argc --ban words. False when out of memory. */
bool cli_sampling_init(cli_sampling *s, int argc);
void cli_sampling_free(cli_sampling *s);
/* Takes option c (with its argument) when it is one of the shared set: returns 1 when taken,
 * 0 when its value is bad, -1 when c is not a shared option. */
int cli_sampling_option(cli_sampling *s, int c, const char *arg);

/* ---- model loading shared by eval, generate, chat, memory and serve -----------------------
 * --mix OTHER (another model over the same vocabulary; up to CLI_MIX_MAX of them) and
 * --lambda X[,Y...] (the weights of MODEL and of every --mix but the last, which gets the
 * rest; [equal weights]) and --mix-decay D|auto (weights that follow the parts' recent
 * success, lm_model_mix_dyn; auto: chosen with --tune-lambda). */
#define CLI_MIX_LONGOPTS                                                                           \
    {"mix", required_argument, NULL, CLI_O_MIX}, {"lambda", required_argument, NULL, CLI_O_LAMBDA}, \
    {                                                                                              \
        "mix-decay", required_argument, NULL, CLI_O_MIX_DECAY                                      \
    }

#define CLI_MIX_MAX 7
typedef struct cli_mix {
    const char *path[CLI_MIX_MAX]; /* n_paths of them; 0: no mixture */
    size_t n_paths;
    double lambda[CLI_MIX_MAX]; /* n_lambda weights given with --lambda; 0: none */
    size_t n_lambda;
    double decay; /* --mix-decay: [0, 1], or -1 for auto; 0: fixed weights */
    bool decay_set;
} cli_mix;

void cli_mix_init(cli_mix *x);
/* As cli_sampling_option, for --mix and --lambda. */
int cli_mix_option(cli_mix *x, int c, const char *arg);
/* After the options: EXIT_USAGE with one line when --lambda or --mix-decay goes without --mix,
 * --lambda gives another number of weights than the --mix count or weights summing above 1, or
 * --mix-decay auto goes without a text to tune on (tune, NULL for none); else -1. */
int cli_mix_usage(const char *cmd, const cli_mix *x, const char *tune);
void cli_mix_help(void);
/* The options generate and chat share: cli_sampling_option, then cli_mix_option. */
int cli_generation_option(cli_sampling *s, cli_mix *x, int c, const char *arg);
/* Loads the model at path (any kind); with --mix paths, the mixture of it and those models,
 * with the --lambda weights or, when tune names a held-out text, the weights that fit that
 * text best (reported on standard error as "lambda X[,Y...]", the --lambda that repeats it,
 * then "decay D" with a --mix-decay). */
int cli_load_model(const char *path, const cli_mix *x, const char *tune, size_t bptt,
                   lm_model **out, lm_error *err);

/* ---- data-parallel training over MPI (src/cli/mpi.c, the one file that includes mpi.h) ----
 * cli_mpi_init initialises MPI when a launcher (mpirun) started the process and sets this
 * process's rank and the number of ranks; otherwise 0 of 1 without touching MPI. False (with
 * a message on stderr) when MPI_Init fails, or when a build without MPI is launched as more
 * than one process. */
bool cli_mpi_init(size_t *rank, size_t *ranks);
/* An lm_allreduce_fn: MPI_Allreduce(MPI_IN_PLACE, MPI_SUM) over MPI_COMM_WORLD. With
 * LSTMLM_MPI_BARRIER set in the environment a timed barrier comes first (benchmarks). */
int cli_mpi_allreduce(void *ud, void *buf, size_t n, int type);
/* Seconds spent in cli_mpi_allreduce (transfer) and in its barrier (waiting), calls, bytes. */
void cli_mpi_stats(double *reduce_seconds, double *wait_seconds, uint64_t *calls,
                   uint64_t *bytes);
/* Ends every rank of the job (MPI_Abort) after flushing; a no-op without MPI. */
void cli_mpi_abort(int code);
void cli_mpi_finalize(void);
/* Threads per rank when --threads is not given: this node's cores / its ranks, at least 1. */
size_t cli_mpi_threads(size_t ranks);

#endif
