/* cli.h - shared pieces of the lstmlm command-line program (public API only). */
#ifndef LM_CLI_H
#define LM_CLI_H

#include "lstmlm.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
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

/* Prints "lstmlm: <msg>" to stderr and returns EXIT_FAIL. */
int cli_fail(const lm_error *err);
/* Prints "lstmlm CMD: <formatted>\nTry 'lstmlm CMD --help'." and returns EXIT_USAGE. */
int cli_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Strict number parsing for option values: false when the text is not a whole number/real. */
bool cli_size(const char *s, size_t *out);
bool cli_u64(const char *s, uint64_t *out);
bool cli_double(const char *s, double *out);

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

#endif
