/* lstmlm.h - the public API of liblstmlm.
 *
 * Recurrent (LSTM, RWKV) and transformer word-level language models on OpenBLAS, with HDF5
 * model files. Conventions:
 *   - Fallible calls return 0 (LM_OK) or a negative LM_E* code and take `lm_error *err` last;
 *     err may be NULL. On failure err->msg holds one line naming the file and the problem.
 *   - Objects are opaque handles made by *_create / *_load and released by *_free (NULL is a
 *     no-op). Settings are plain structs filled with defaults by *_init.
 *   - The library never prints, exits, reads the clock or calls rand(); progress reaches the
 *     caller through callbacks, randomness through an explicit lm_rng.
 *   - Thread safety: distinct handles may be used from distinct threads; one handle is not
 *     safe to use from two threads at once. A trained lm_model is read-only during generation
 *     and may be shared by several lm_state objects.
 */
#ifndef LSTMLM_H
#define LSTMLM_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(LM_BUILDING) && defined(__GNUC__)
#define LM_API __attribute__((visibility("default")))
#else
#define LM_API
#endif

#define LM_VERSION_MAJOR 0
#define LM_VERSION_MINOR 1
#define LM_VERSION_PATCH 0

/* "0.1.0"; static text. */
LM_API const char *lm_version_string(void);

/* ---- errors ------------------------------------------------------------------------------ */

enum {
    LM_OK = 0,
    LM_ENOMEM = -1,     /* out of memory */
    LM_EINVAL = -2,     /* invalid argument or option value */
    LM_EIO = -3,        /* file could not be read or written */
    LM_EFORMAT = -4,    /* file content is malformed (corpus, model, fixture) */
    LM_EHDF5 = -5,      /* the HDF5 library reported an error */
    LM_EDIVERGED = -6,  /* training loss became NaN or infinite */
    LM_EINTR = -7,      /* interrupted on request (stop flag) */
    LM_EMISMATCH = -8   /* two inputs do not fit (vocabulary, shapes, architecture) */
};

typedef struct lm_error {
    int code;
    char msg[512];
} lm_error;

/* Static text for a code, never NULL. */
LM_API const char *lm_strerror(int code);

/* Progress and diagnostic text from long operations (one line without '\n' per call).
 * NULL (the default) discards it. Process-wide; set it before starting threads. */
typedef void (*lm_log_fn)(void *ud, const char *line);
LM_API void lm_set_log_fn(lm_log_fn fn, void *ud);

/* Name of the CPU core type OpenBLAS chose (e.g. "Zen", "Prescott"), static text. */
LM_API const char *lm_blas_core_name(void);
/* Sets the number of OpenBLAS threads (0 leaves the library default). */
LM_API void lm_blas_set_threads(int n);

/* ---- random numbers ---------------------------------------------------------------------- */

/* xorshift64* generator; the whole state is this struct, so copying it replays the stream. */
typedef struct lm_rng {
    uint64_t s;
} lm_rng;

LM_API void lm_rng_seed(lm_rng *rng, uint64_t seed);
LM_API uint64_t lm_rng_next(lm_rng *rng);
/* Uniform in [0, 1). */
LM_API double lm_rng_uniform(lm_rng *rng);

/* ---- text: tokenizer, vocabulary, corpora ------------------------------------------------ */

enum { LM_TOKENIZE_WORDS = 0, LM_TOKENIZE_WHITESPACE = 1, LM_TOKENIZE_CHARS = 2 };

/* Special token ids: fixed in every vocabulary. */
enum { LM_TOK_UNK = 0, LM_TOK_EOT = 1, LM_TOK_EOC = 2, LM_N_SPECIAL = 3 };

typedef struct lm_text_opts {
    int tokenize;  /* LM_TOKENIZE_* [WORDS] */
    int lowercase; /* non-zero: lower-case ASCII letters [0] */
} lm_text_opts;

LM_API void lm_text_opts_init(lm_text_opts *o);

/* Splits one line (no '\n') into tokens. Calls fn(ud, token, len) for each token; the token
 * bytes are borrowed for the duration of the call. Invalid UTF-8 bytes become U+FFFD.
 * Returns the number of tokens. Never fails. */
typedef void (*lm_token_fn)(void *ud, const char *tok, size_t len);
LM_API size_t lm_tokenize_line(const lm_text_opts *o, const char *line, size_t len,
                               lm_token_fn fn, void *ud);

/* Joins tokens for display: no space before punctuation or contractions ("n't", "'s"), none
 * after opening brackets. Writes at most cap-1 bytes and a NUL; returns the length it needed. */
LM_API size_t lm_detokenize(const char *const *toks, size_t n, char *out, size_t cap);

/* Streaming detokenizer: says whether a space goes before token `tok` given the previous token
 * (prev may be NULL at the start of a line). */
LM_API int lm_detok_space_before(const char *prev, const char *tok);

typedef struct lm_vocab lm_vocab;

typedef struct lm_vocab_opts {
    size_t max_vocab; /* keep at most this many types, specials included; 0 = no limit [0] */
    size_t min_count; /* drop types seen fewer times [1] */
} lm_vocab_opts;

LM_API void lm_vocab_opts_init(lm_vocab_opts *o);

/* Counts the tokens of the corpus files and builds a vocabulary: the specials <unk>, <eot>,
 * <eoc> first, then types by decreasing count (ties in byte order). Caller frees. */
LM_API int lm_vocab_build(const char *const *paths, size_t n_paths, const lm_text_opts *t,
                          const lm_vocab_opts *o, lm_vocab **out, lm_error *err);
/* An empty vocabulary holding only the specials; add types with lm_vocab_add. */
LM_API int lm_vocab_create(lm_vocab **out, lm_error *err);
/* Adds a type (or returns its existing id) with a count; returns the id or LM_ENOMEM. */
LM_API int32_t lm_vocab_add(lm_vocab *v, const char *tok, size_t len, uint64_t count);
LM_API void lm_vocab_free(lm_vocab *v);
LM_API size_t lm_vocab_size(const lm_vocab *v);
/* The id of a token, or LM_TOK_UNK. */
LM_API int32_t lm_vocab_lookup(const lm_vocab *v, const char *tok, size_t len);
/* Borrowed NUL-terminated text of an id (valid while v lives); "<unk>" for bad ids. */
LM_API const char *lm_vocab_token(const lm_vocab *v, int32_t id);
LM_API uint64_t lm_vocab_count(const lm_vocab *v, int32_t id);
/* Non-zero when both vocabularies hold the same tokens in the same order. */
LM_API int lm_vocab_equal(const lm_vocab *a, const lm_vocab *b);

/* Statistics of a corpus read into ids. */
typedef struct lm_corpus_stats {
    size_t lines;         /* non-blank lines (turns or sentences) */
    size_t conversations; /* runs of lines separated by blank lines */
    size_t tokens;        /* ids produced, <eot> and <eoc> included */
    size_t oov;           /* tokens mapped to <unk> that were not literally "<unk>" */
} lm_corpus_stats;

/* Reads a turn-per-line corpus (plain or gzip) into ids: each line's tokens then <eot>; a blank
 * line after a turn adds <eoc>. *ids is malloc'd, caller frees. Fails with LM_EFORMAT on a
 * binary file (NUL bytes) or a corpus without tokens, naming the file (and line). */
LM_API int lm_corpus_read(const char *path, const lm_text_opts *t, const lm_vocab *v,
                          int32_t **ids, size_t *n, lm_corpus_stats *stats, lm_error *err);

/* Tokenizes a string the same way (lines split at '\n'; no trailing <eot> unless add_eot).
 * *ids is malloc'd, caller frees. */
LM_API int lm_text_to_ids(const char *text, const lm_text_opts *t, const lm_vocab *v,
                          int add_eot, int32_t **ids, size_t *n, lm_error *err);

/* ---- models ------------------------------------------------------------------------------ */

typedef struct lm_model lm_model;
typedef struct lm_state lm_state;

/* Architecture names: "lstm", "rwkv", "transformer". */
typedef struct lm_config {
    char arch[16];      /* ["lstm"] */
    size_t vocab;       /* set from the vocabulary */
    size_t embed;       /* E [200] */
    size_t hidden;      /* H: LSTM width [200] */
    size_t layers;      /* L [2] */
    size_t ffn;         /* RWKV channel-mix / transformer MLP width; 0 = 4*embed [0] */
    size_t heads;       /* transformer attention heads [4] */
    size_t context;     /* transformer window [256] */
    float dropout;      /* dropout between layers during training [0] */
    float init_range;   /* uniform init range for LSTM weights [0.1] */
    int tied;           /* head shares the embedding matrix (needs embed == output width) [0] */
    int tokenize;       /* LM_TOKENIZE_* used for the training text */
    int lowercase;      /* lower-casing used for the training text */
} lm_config;

LM_API void lm_config_init(lm_config *cfg);
LM_API int lm_config_check(const lm_config *cfg, lm_error *err);

/* Makes a model with parameters drawn from rng. Takes ownership of vocab (also on failure). */
LM_API int lm_model_create(const lm_config *cfg, lm_vocab *vocab, lm_rng *rng, lm_model **out,
                           lm_error *err);
LM_API void lm_model_free(lm_model *m);
LM_API const lm_config *lm_model_config(const lm_model *m);
LM_API const lm_vocab *lm_model_vocab(const lm_model *m);
LM_API size_t lm_model_n_params(const lm_model *m);

/* One row of the training history. */
typedef struct lm_history_row {
    uint32_t epoch;
    uint64_t tokens;        /* training tokens seen so far */
    double train_loss;      /* mean cross-entropy per token (nats) of the epoch */
    double valid_ppl;       /* validation perplexity after the epoch (0 if none) */
    double lr;
    double tokens_per_s;
    double seconds;
} lm_history_row;

LM_API size_t lm_model_history(const lm_model *m, const lm_history_row **rows);

/* Saves the model (config, vocab, params, history) to path atomically: written to a temporary
 * file in the same folder, then renamed over path. */
LM_API int lm_model_save(const lm_model *m, const char *path, lm_error *err);
/* Loads a model file or a checkpoint (its optimizer state is ignored). */
LM_API int lm_model_load(const char *path, lm_model **out, lm_error *err);

/* Reads only the "arch" attribute of a model file ("lstm", "ngram", ...) into buf. */
LM_API int lm_file_arch(const char *path, char *buf, size_t cap, lm_error *err);

/* ---- evaluation -------------------------------------------------------------------------- */

typedef struct lm_eval_result {
    size_t tokens;       /* predicted tokens */
    size_t oov;          /* predicted tokens whose target is <unk> */
    double nll;          /* summed negative log-likelihood (nats) over all predicted tokens */
    double nll_no_oov;   /* the same over targets that are not <unk> */
    double ppl;          /* exp(nll / tokens) */
    double ppl_no_oov;   /* exp(nll_no_oov / (tokens - oov)) */
    double bits_per_token;
} lm_eval_result;

/* Perplexity of ids[0..n) read as `batch` parallel streams (1 = exact, one stream) in windows
 * of bptt steps with the state carried. The first token of each stream is context only. */
LM_API int lm_model_eval(lm_model *m, const int32_t *ids, size_t n, size_t batch, size_t bptt,
                         lm_eval_result *res, lm_error *err);

/* ---- training ---------------------------------------------------------------------------- */

enum { LM_OPT_SGD = 0, LM_OPT_ADAM = 1, LM_OPT_ADAMW = 2 };

typedef struct lm_train_opts {
    size_t batch;         /* parallel streams B [20] */
    size_t bptt;          /* window T [20] */
    size_t epochs;        /* [13] */
    int optimizer;        /* LM_OPT_* [SGD] */
    double lr;            /* [1.0] */
    size_t decay_start;   /* SGD schedule: epochs at constant lr before decay; 0 = off [4] */
    double decay;         /* lr factor per epoch after decay_start [0.5] */
    double plateau_decay; /* lr factor when valid ppl does not improve; 1 = off [1] */
    size_t patience;      /* stop after this many epochs without improvement; 0 = off [0] */
    double clip;          /* global gradient norm bound; 0 = off [5] */
    double beta1, beta2, eps; /* Adam [0.9, 0.999, 1e-8] */
    double weight_decay;  /* AdamW decoupled decay [0.01] */
    uint64_t seed;        /* dropout and shuffling stream [1] */
    size_t max_steps;     /* stop an epoch after this many windows; 0 = whole epoch [0] */
} lm_train_opts;

LM_API void lm_train_opts_init(lm_train_opts *o);

typedef struct lm_trainer lm_trainer;

/* Progress report, called about every `every` windows and at the end of each epoch. */
typedef struct lm_progress {
    size_t epoch;          /* 1-based */
    size_t step, steps;    /* windows done in this epoch / per epoch */
    uint64_t tokens;       /* training tokens done in this epoch */
    double loss;           /* running mean loss (nats per token) in this epoch */
    double lr;
} lm_progress;
typedef void (*lm_progress_fn)(void *ud, const lm_progress *p);

/* Makes a trainer for model m (borrowed; it must outlive the trainer) over train ids (borrowed)
 * and optional valid ids (NULL for none). */
LM_API int lm_trainer_create(lm_model *m, const lm_train_opts *o, const int32_t *train, size_t n_train,
                             const int32_t *valid, size_t n_valid, lm_trainer **out, lm_error *err);
LM_API void lm_trainer_free(lm_trainer *t);
LM_API void lm_trainer_set_progress(lm_trainer *t, lm_progress_fn fn, void *ud, size_t every);

typedef struct lm_epoch_result {
    size_t epoch;          /* 1-based number of the epoch just finished */
    double train_loss;
    double valid_ppl;      /* 0 without validation data */
    double lr;             /* lr used in the epoch */
    int improved;          /* valid ppl is the best so far */
    int stop;              /* early stopping or last epoch reached: do not call again */
    uint64_t tokens;
    double seconds;        /* as reported by lm_trainer_set_clock's function (0 without) */
} lm_epoch_result;

/* The library does not read the clock: the caller may give it one (seconds, monotonic). */
LM_API void lm_trainer_set_clock(lm_trainer *t, double (*now)(void));

/* Runs (or continues) one epoch. *stop is polled between windows; when it becomes non-zero the
 * epoch pauses and LM_EINTR is returned, and lm_trainer_save_checkpoint then records the exact
 * position. LM_EDIVERGED when the loss becomes NaN/Inf (parameters left as before the bad step). */
LM_API int lm_trainer_run_epoch(lm_trainer *t, volatile int *stop, lm_epoch_result *res,
                                lm_error *err);
/* Epochs completed so far. */
LM_API size_t lm_trainer_epoch(const lm_trainer *t);
LM_API double lm_trainer_best_ppl(const lm_trainer *t);

/* A checkpoint is a model file plus optimizer state and the trainer position. */
LM_API int lm_trainer_save_checkpoint(const lm_trainer *t, const char *path, lm_error *err);
/* Loads a checkpoint into a new model and trainer positioned where it was saved. The options
 * stored in the checkpoint are used; epochs may be raised with lm_trainer_set_epochs. */
LM_API int lm_trainer_resume(const char *path, const int32_t *train, size_t n_train,
                             const int32_t *valid, size_t n_valid, lm_model **model,
                             lm_trainer **out, lm_error *err);
LM_API void lm_trainer_set_epochs(lm_trainer *t, size_t epochs);
/* Saves the parameters of the best epoch so far (lowest validation perplexity; the latest
 * without validation data) with the whole training history, atomically. */
LM_API int lm_trainer_save_best(const lm_trainer *t, const char *path, lm_error *err);
LM_API const lm_train_opts *lm_trainer_opts(const lm_trainer *t);

/* ---- generation: state and step ---------------------------------------------------------- */

/* A recurrent state (or key/value cache) for one stream of model m (borrowed). */
LM_API int lm_state_create(const lm_model *m, lm_state **out, lm_error *err);
LM_API void lm_state_free(lm_state *s);
LM_API void lm_state_reset(lm_state *s);
/* dst and src belong to the same model. */
LM_API int lm_state_copy(lm_state *dst, const lm_state *src, lm_error *err);
/* Tokens fed since the last reset. */
LM_API size_t lm_state_position(const lm_state *s);
/* Bytes the state or cache holds now. */
LM_API size_t lm_state_bytes(const lm_state *s);
LM_API int lm_state_save(const lm_state *s, const char *path, lm_error *err);
LM_API int lm_state_load(lm_state *s, const char *path, lm_error *err);

/* Feeds one token and writes the next-token logits (vocab floats) to logits (may be NULL when
 * only the state matters). */
LM_API int lm_step(const lm_model *m, lm_state *s, int32_t token, float *logits, lm_error *err);

/* ---- corpus import (src/text/import.c) ----------------------------------------------- */

/* Importers turn raw dialogue corpora into the toolkit's text format: one turn per line, and a
 * blank line after every conversation. Every turn is cleaned the same way: bytes that are not
 * valid UTF-8 are decoded as Windows-1252 (Latin-1 plus the printable 0x80-0x9F set; the five
 * unassigned bytes become U+FFFD), control characters and runs of white space become one
 * space, and the ends are trimmed. An importer never writes an empty turn or an empty
 * conversation and never invents text: what it drops it counts in lm_import_stats. */

#include <stdio.h>

enum {
    LM_IMPORT_TEXT = 0,    /* one turn per line, blank lines end conversations */
    LM_IMPORT_CORNELL = 1, /* Cornell Movie-Dialogs: movie_lines.txt + movie_conversations.txt */
    LM_IMPORT_SRT = 2,     /* SubRip subtitles; cues become turns, long silences end dialogues */
    LM_IMPORT_EOU = 3      /* one conversation per line, turns ended by "__eou__" (DailyDialog) */
};

/* Name of a format ("text", "cornell", "srt", "eou"), static text; "?" for unknown values. */
LM_API const char *lm_import_format_name(int format);
/* The LM_IMPORT_* value of a format name, or LM_EINVAL. */
LM_API int lm_import_format_parse(const char *name);

/* A warning about the input: file is the input path, line its 1-based line (0 when the
 * warning concerns the whole file), msg one line of text without a newline. All three are
 * borrowed for the duration of the call. */
typedef void (*lm_import_warn_fn)(void *ud, const char *file, size_t line, const char *msg);

typedef struct lm_import_opts {
    int format;             /* LM_IMPORT_* [TEXT] */
    int speakers;           /* cornell: prefix each turn with "NAME: " [0] */
    double gap;             /* srt: a silence longer than this many seconds ends a
                             * conversation [5.0] */
    lm_import_warn_fn warn; /* receives every warning; NULL discards them [NULL] */
    void *warn_ud;          /* passed to warn [NULL] */
} lm_import_opts;

LM_API void lm_import_opts_init(lm_import_opts *o);

typedef struct lm_import_stats {
    size_t files;         /* input files read */
    size_t conversations; /* conversations written */
    size_t turns;         /* turns written */
    size_t missing_ids;   /* cornell: line ids named by a conversation but not defined */
    size_t empty;         /* records dropped because no text remained (lines, cues, turns) */
    size_t recoded;       /* bytes that were not UTF-8, decoded as Windows-1252 */
    size_t warnings;      /* warnings raised (each also passed to opts->warn) */
} lm_import_stats;

/* Imports the inputs[0..n) in the given format and writes the turns to out (borrowed; the
 * caller opens, flushes and closes it).
 *   cornell: each input is a directory holding movie_lines.txt and movie_conversations.txt,
 *            or one of those files (told apart by their content). Conversations are rebuilt in
 *            the order of the line-id lists. An unknown line id is a warning and splits its
 *            conversation there (turns on either side of the gap are not joined). HTML-style
 *            tags (<u>, </i>) are removed.
 *   srt:     each input is a .srt file or a directory of them (read in byte order of names).
 *            Tags (<i>, <font ...>) and ASS overrides ({\an8}) are removed, the lines of a cue
 *            are joined with a space, a cue becomes one turn except that lines starting with a
 *            dialogue dash ("- ") start new turns. A silence longer than opts->gap between
 *            cues, and the end of each file, end a conversation. Broken numbering or timing
 *            lines, cues without text and truncated cues are warnings.
 *   eou:     each line is a conversation, its turns separated by "__eou__".
 *   text:    each line is a turn; blank lines (runs of them) end conversations.
 * Every file is read whole, plain or gzip-compressed; a UTF-8 byte order mark is skipped and a
 * UTF-16 file with a byte order mark is converted. CRLF line ends are accepted.
 * Returns LM_OK (stats, when not NULL, filled in), LM_EINVAL for bad options or inputs,
 * LM_EIO when a file cannot be read or out cannot be written, LM_EFORMAT for an empty file,
 * binary data (a NUL byte, reported with its line), or when no turn at all was found,
 * LM_ENOMEM. On failure part of the output may have been written. Thread-safe for distinct
 * outputs. */
LM_API int lm_corpus_import(const lm_import_opts *o, const char *const *inputs, size_t n,
                            FILE *out, lm_import_stats *stats, lm_error *err);

enum { LM_SPLIT_TRAIN = 0, LM_SPLIT_VALID = 1, LM_SPLIT_TEST = 2 };

typedef struct lm_split_stats {
    size_t conversations[3]; /* by LM_SPLIT_* */
    size_t turns[3];
} lm_split_stats;

/* Splits a turn-per-line corpus (plain or gzip) by whole conversations: a shuffle drawn from
 * rng picks round(valid * N) conversations for validation and round(test * N) for test (at
 * least one each when the fraction is positive), the rest are for training. Each part keeps
 * the input order of its conversations and is written to out[LM_SPLIT_*] (borrowed; NULL
 * skips that part), a blank line after every conversation. The same seed gives the same split.
 * Returns LM_EINVAL when the fractions are outside [0, 1) or sum to 1 or more, or when the
 * corpus has too few conversations to leave one for training; LM_EIO, LM_EFORMAT (empty or
 * binary file) or LM_ENOMEM otherwise. */
LM_API int lm_corpus_split(const char *path, double valid, double test, lm_rng *rng,
                           FILE *const out[3], lm_split_stats *stats, lm_error *err);

/* Turn-length histogram bins of lm_corpus_desc. */
#define LM_DESC_BINS 13
#define LM_DESC_BIN_WIDTH 5

/* What a corpus holds, counted the way lm_vocab_build and lm_corpus_read count for a model. */
typedef struct lm_corpus_desc {
    size_t conversations;    /* runs of turns separated by blank lines */
    size_t turns;            /* lines with tokens */
    size_t tokens;           /* ids a model reads: words, one <eot> per turn, one <eoc> per
                              * blank line after a turn */
    size_t words;            /* tokens of the turns alone */
    size_t types;            /* distinct word types (specials excluded) */
    size_t vocab;            /* vocabulary size at max_vocab, specials included */
    size_t oov;              /* word tokens outside that vocabulary (they would read <unk>) */
    size_t longest_turn;     /* in words */
    size_t longest_conversation; /* in turns */
    size_t hist[LM_DESC_BINS]; /* turns by length: hist[i] counts turns of i*5+1 .. i*5+5
                                * words; the last bin also counts every longer turn */
} lm_corpus_desc;

/* Describes the corpus at path tokenized with t (NULL = defaults): counts, vocabulary size and
 * OOV rate at max_vocab (specials included; 0 = no limit), and the turn-length histogram.
 * Returns LM_EINVAL when 0 < max_vocab <= LM_N_SPECIAL, or the errors of lm_corpus_read. */
LM_API int lm_corpus_describe(const char *path, const lm_text_opts *t, size_t max_vocab,
                              lm_corpus_desc *d, lm_error *err);

/* ---- end of corpus import --------------------------------------------------------------- */

/* ---- sampler (src/gen/sampler.c) -------------------------------------------------------- */

/* Next-token sampling settings, shared by every model kind. */
typedef struct lm_sampler_opts {
    double temperature;        /* 0 = greedy (argmax) [1.0] */
    size_t top_k;              /* keep the k most probable tokens; 0 = off [0] */
    double top_p;              /* keep the smallest set with probability >= p; 1 = off [1.0] */
    double repetition_penalty; /* divide positive logits (multiply negative) of tokens in the
                                  recent history by this; 1 = off [1.0] */
    double presence_penalty;   /* subtract from logits of tokens in the history; 0 = off [0] */
    size_t penalty_window;     /* how many recent tokens the penalties look at [64] */
    int allow_unk;             /* non-zero: <unk> may be sampled [0] */
    const int32_t *banned;     /* ids never sampled (borrowed), n_banned of them */
    size_t n_banned;
} lm_sampler_opts;

LM_API void lm_sampler_opts_init(lm_sampler_opts *o);

/* Picks the next token from logits (V floats, modified in place: they end as the sampling
 * distribution's probabilities). history: the tokens so far (may be NULL). scratch: 2*V ints
 * or NULL (then the call allocates). Returns the id, or a negative code when every token is
 * banned. */
LM_API int32_t lm_sample(const lm_sampler_opts *o, float *logits, size_t V,
                         const int32_t *history, size_t n_history, lm_rng *rng, int32_t *scratch);

/* ---- end of sampler --------------------------------------------------------------------- */

/* ---- n-gram models (src/ngram/) --------------------------------------------------------- */

/* ---- end of n-gram models --------------------------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif
