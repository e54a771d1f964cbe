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
 *   - The command-line program's tools (corpus split and description, SVG plots, settings
 *     by name for an interactive prompt) are declared apart, in lstmlm-tools.h.
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
/* Sets err (when not NULL) to code and the formatted one-line message; returns code, so a
 * caller writes `return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));`. */
LM_API int lm_fail(lm_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Progress and diagnostic text from long operations (one line without '\n' per call).
 * NULL (the default) discards it. Process-wide; set it before starting threads. */
typedef void (*lm_log_fn)(void *ud, const char *line);
LM_API void lm_set_log_fn(lm_log_fn fn, void *ud);

/* Name of the CPU core type OpenBLAS chose (e.g. "Zen", "Prescott"), static text. */
LM_API const char *lm_blas_core_name(void);
/* Sets the number of threads of lstmlm's pool, which runs its own recurrent and element-wise
 * kernels and splits OpenBLAS's matrix products, OpenBLAS itself running one thread (0 leaves
 * the library default: OpenBLAS's rule for its thread count). With the environment variable
 * LSTMLM_GEMM=openblas-threads, OpenBLAS threads its own products with n threads instead. */
LM_API void lm_blas_set_threads(int n);
/* The instruction set of lstmlm's packed recurrent kernel: "avx512", "avx2", or "none" (the
 * recurrence then calls OpenBLAS once per step). Static text. */
LM_API const char *lm_kernel_name(void);
/* What runs the matrix products of training and evaluation: "openblas", or "lstmlm-avx512"
 * where OpenBLAS chose generic kernels (lm_blas_generic) on a CPU with AVX-512F, which
 * lstmlm's own float32 kernel then replaces (the environment variable LSTMLM_GEMM=openblas
 * or =own overrides the choice; =openblas-threads is "openblas" with OpenBLAS's own threads).
 * Static text. */
LM_API const char *lm_gemm_kernel_name(void);
/* 1 when OpenBLAS's chosen core type has neither AVX2 nor AVX-512 kernels although the CPU
 * has AVX2 and FMA (Debian 12's OpenBLAS falls back to "Prescott" on CPUs newer than it):
 * several times slower than its Haswell kernels, which OPENBLAS_CORETYPE=Haswell selects. */
LM_API int lm_blas_generic(void);
/* Threads lstmlm's own kernels use: what lm_blas_set_threads set, else OpenBLAS's default
 * rule (OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else one per core). */
LM_API size_t lm_threads(void);

/* The arithmetic of training products (lm_config.precision). LM_PRECISION_BF16: the large
 * matrix products of a training window (the softmax head's three, the LSTM's input projection
 * and its weight and input gradients, the RWKV and transformer layers' projections) round both
 * operands to bfloat16 and sum the products in float32; the weights, the optimizer, the
 * recurrent step, element-wise work, evaluation and generation stay float32. */
enum { LM_PRECISION_F32 = 0, LM_PRECISION_BF16 = 1 };
/* "f32" or "bf16" (static text; NULL for another value), and back (-1 for another name). */
LM_API const char *lm_precision_name(int precision);
LM_API int lm_precision_parse(const char *name);
/* LM_OK when this CPU can train in the precision at full speed; LM_EINVAL otherwise, with a
 * one-line reason ("bf16 training needs a CPU with AVX-512 BF16 (vdpbf16ps); this one has
 * none"). */
LM_API int lm_precision_check(int precision, lm_error *err);
/* The kernel behind LM_PRECISION_BF16 here: "avx512-bf16", or "plain" (static text). */
LM_API const char *lm_bf16_kernel_name(void);

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
/* "words", "whitespace" or "chars" for an LM_TOKENIZE_* value ("?" otherwise); static text. */
LM_API const char *lm_tokenize_name(int tokenize);
/* The LM_TOKENIZE_* value of a name, or LM_EINVAL for an unknown one. */
LM_API int lm_tokenize_parse(const char *name);

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
/* *out = a copy of v: the same tokens in the same order, with their counts (free it with
 * lm_vocab_free). LM_OK or LM_ENOMEM. Thread-safe. */
LM_API int lm_vocab_copy(const lm_vocab *v, lm_vocab **out, lm_error *err);

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

/* ---- models ------------------------------------------------------------------------------
 * One handle for every kind of language model: neural (LSTM, RWKV, transformer), n-gram (an
 * lstmlm n-gram file or an ARPA file of any toolkit) and mixtures of models. Every kind
 * answers the same calls: its vocabulary and tokenizer, a state per stream (lm_state_*), one
 * step from (state, token) to the next-token log-probabilities (lm_step), evaluation
 * (lm_model_eval), sampling, beam search, chat and the probes. Only training knows that neural
 * models learn by gradient (lm_trainer_*) and n-grams by counting (lm_ngram_train). */

typedef struct lm_model lm_model;
typedef struct lm_state lm_state;

/* lm_config.softmax; LM_MAX_CUTOFFS bounds lm_config.n_cutoffs. */
enum { LM_SOFTMAX_FULL = 0, LM_SOFTMAX_ADAPTIVE = 1 };
#define LM_MAX_CUTOFFS 8

/* Neural model settings. Architectures: lm_arch_name(0..). */
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
    /* AWD-LSTM regularisation (Merity et al. 2017), used in training only; 0 = off. Where a
     * locked rate is set it replaces `dropout` at that place. Which ones an architecture takes
     * is its fact (lm_config_check names the refused one); tied weights with an output width
     * other than embed add a learned projection (E, out) before the head. */
    float dropout_embed;  /* whole words: embedding rows dropped per window, the rest scaled [0] */
    float dropout_input;  /* locked (one mask per stream and window) on the embedding output [0] */
    float dropout_hidden; /* locked between layers (LSTM) [0] */
    float dropout_output; /* locked on the last layer's output, before the head [0] */
    float weight_drop;    /* DropConnect on the recurrent weights W_hh, one mask per window [0] */
    float ar;             /* alpha * mean(h^2) of the dropped last-layer output [0] */
    float tar;            /* beta * mean((h_t - h_{t-1})^2) of the undropped output (LSTM) [0] */
    /* The output layer: LM_SOFTMAX_FULL (one (V, out) matrix and a bias) or
     * LM_SOFTMAX_ADAPTIVE, the adaptive softmax of Grave et al. 2017 as PyTorch's
     * nn.AdaptiveLogSoftmaxWithLoss(head_bias=True): a head over the shortlist ids
     * [0, cutoffs[0]) plus one logit per tail cluster; cluster i covers the ids
     * [cutoffs[i], cutoffs[i+1]) (the last ends at vocab) through a projection of the head
     * input to floor(width / div_value^(i+1)) dimensions, without biases. Ids are meant to be
     * in decreasing frequency (lm_vocab_build's order); the probabilities are exact whatever
     * the order. Not with tied weights. [FULL] */
    int softmax;
    size_t n_cutoffs;                /* adaptive: tail clusters, 1..LM_MAX_CUTOFFS [0] */
    size_t cutoffs[LM_MAX_CUTOFFS];  /* adaptive: increasing, >= LM_N_SPECIAL, < vocab */
    float div_value;                 /* adaptive: width divisor per cluster, >= 1 [4] */
    /* Training only: LM_PRECISION_* of the window's large products (see lm_precision_name);
     * lm_trainer_create refuses LM_PRECISION_BF16 where lm_precision_check does. [F32] */
    int precision;
} lm_config;

LM_API void lm_config_init(lm_config *cfg);
/* LM_OK, or LM_EINVAL naming the first bad setting (an unknown architecture lists the known
 * ones). Fills nothing in: see lm_config_derive. */
LM_API int lm_config_check(const lm_config *cfg, lm_error *err);
/* Fills the settings the architecture derives from others (e.g. the feed-forward width 0 ->
 * 4 * embed); an unknown architecture is left as it is. */
LM_API void lm_config_derive(lm_config *cfg);
/* One line: "lstm, 2 layers, embed 200, hidden 200, tied" (at most cap-1 bytes and a NUL;
 * returns the length needed). */
LM_API size_t lm_config_describe(const lm_config *cfg, char *buf, size_t cap);
/* The i-th architecture's name and a one-line summary (static text; NULL past the end). */
LM_API const char *lm_arch_name(size_t i);
LM_API const char *lm_arch_summary(size_t i);

/* Makes a neural model with parameters drawn from rng. Takes ownership of vocab (also on
 * failure). */
LM_API int lm_model_create(const lm_config *cfg, lm_vocab *vocab, lm_rng *rng, lm_model **out,
                           lm_error *err);
LM_API void lm_model_free(lm_model *m);
/* What the model is: "lstm", "rwkv", "transformer", "ngram" or "mixture" (static text or text
 * owned by m). For display and file attributes; the interface is the same for all. */
LM_API const char *lm_model_kind(const lm_model *m);
/* One line describing the model, e.g. "lstm, 2 layers, embed 200, hidden 200" or "5-gram,
 * interpolated modified Kneser-Ney, 1203344 n-grams". Returns the length needed. */
LM_API size_t lm_model_describe(const lm_model *m, char *buf, size_t cap);
/* The settings a neural model was made with; NULL for other kinds. */
LM_API const lm_config *lm_model_config(const lm_model *m);
/* Fine-tuning: replaces the training-only settings of a neural model (dropout, the dropout_*
 * rates, weight_drop, ar, tar, precision) by those of cfg; the shape and vocabulary stay.
 * LM_EINVAL for another kind or a setting lm_config_check refuses for the model's
 * architecture. */
LM_API int lm_model_set_regularization(lm_model *m, const lm_config *cfg, lm_error *err);
LM_API const lm_vocab *lm_model_vocab(const lm_model *m);
/* How text is read into the model's ids (tokenizer and lower-casing of its training text). */
LM_API void lm_model_text_opts(const lm_model *m, lm_text_opts *t);
/* Reports what the model is, one (key, value) pair per call, borrowed for the call: for a
 * neural model its architecture and shape, for an n-gram model its order, smoothing and
 * counts per order. lstmlm info prints them. */
typedef void (*lm_fact_fn)(void *ud, const char *key, const char *value);
LM_API void lm_model_facts(const lm_model *m, lm_fact_fn fn, void *ud);
/* Values the model holds: parameters of a neural model, stored n-grams of an n-gram model. */
LM_API size_t lm_model_n_params(const lm_model *m);
/* Tokens a state sees at most (a transformer's context); 0 = unlimited (recurrent, n-gram
 * states keep what they need). */
LM_API size_t lm_model_context(const lm_model *m);

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

/* The training history of a neural model (0 rows for other kinds). */
LM_API size_t lm_model_history(const lm_model *m, const lm_history_row **rows);

/* Saves the model to path atomically: written to a temporary file in the same folder, then
 * renamed over path (LM_EINVAL for a mixture, whose parts are saved on their own). */
LM_API int lm_model_save(const lm_model *m, const char *path, lm_error *err);
/* A copy of the float32 neural model m with every weight matrix in reduced precision: type
 * "bf16" (bfloat16), "int8" (blocks of 32 weights of a row with one float16 scale, as ggml's
 * Q8_0) or "f32" (no reduction); vectors (biases, LayerNorms, RWKV decays and mixes) stay
 * float32. The copy generates, chats and evaluates like any model and saves to its own file
 * kind (lstmlm-model(5)); it is not trained. LM_EINVAL for another kind of model or an
 * unknown type. m is not changed; caller frees *out with lm_model_free. */
LM_API int lm_model_quantize(const lm_model *m, const char *type, lm_model **out,
                             lm_error *err);
/* Loads any model file, its kind read from the file: a neural model or checkpoint (its
 * optimizer state is ignored), an n-gram model file, or an ARPA text file (plain or gzip).
 * LM_EFORMAT for a file of no known kind, naming it. */
LM_API int lm_model_load(const char *path, lm_model **out, lm_error *err);

/* A linear mixture p = lambda p_a + (1 - lambda) p_b of two models over the same vocabulary,
 * itself a model (each part keeps its own state). Takes ownership of a and b, also on failure.
 * LM_EINVAL for lambda outside [0, 1], LM_EMISMATCH when the vocabularies or tokenizers
 * differ. */
LM_API int lm_model_mix(lm_model *a, lm_model *b, double lambda, lm_model **out,
                        lm_error *err);
/* The weight lambda of a that minimises the perplexity of the mixture of a and b on ids[0..n)
 * (one stream, windows of bptt), by EM; *ppl (may be NULL) gets that perplexity. */
LM_API int lm_mix_tune(const lm_model *a, const lm_model *b, const int32_t *ids, size_t n,
                       size_t bptt, double *lambda, double *ppl, lm_error *err);
/* The mixture sum_i weights[i] p_parts[i] of n >= 1 models (weights in [0, 1], summing to 1
 * within 1e-6), built as nested two-part mixtures; takes ownership of the parts, also on
 * failure. Errors as lm_model_mix. */
LM_API int lm_model_mix_n(lm_model **parts, size_t n, const double *weights, lm_model **out,
                          lm_error *err);
/* The weights of the n parts that minimise the mixture's perplexity on ids[0..n_ids) by EM,
 * starting from equal weights, into weights[0..n); *ppl (may be NULL) gets that perplexity. */
LM_API int lm_mix_tune_n(const lm_model *const *parts, size_t n, const int32_t *ids,
                         size_t n_ids, size_t bptt, double *weights, double *ppl,
                         lm_error *err);

/* As lm_model_mix_n, with weights that follow the parts' recent success when decay is in
 * (0, 1] (Bayesian interpolation with forgetting): each nested two-part mixture's weight has
 * logit lambda_t = logit lambda + r_t, where r_t sums D^(t - i) (log p_a(x_i) - log p_b(x_i))
 * over the stream's earlier targets i < t (kept within +-30). decay 0 is lm_model_mix_n; 1 is
 * the exact posterior. LM_EINVAL also for a decay outside [0, 1]. */
LM_API int lm_model_mix_dyn(lm_model **parts, size_t n, const double *weights, double decay,
                            lm_model **out, lm_error *err);
/* As lm_mix_tune_n for the mixture of lm_model_mix_dyn: *decay 0 tunes fixed weights (EM);
 * *decay in (0, 1] tunes the weights at that decay; *decay < 0 also chooses the decay (the
 * best of 0, 0.5, 0.7, 0.8, 0.9, 0.95, 0.98 and 1, then refined between that one's neighbours
 * to 0.001) and leaves it in *decay. */
LM_API int lm_mix_tune_dyn(const lm_model *const *parts, size_t n, const int32_t *ids,
                           size_t n_ids, size_t bptt, double *weights, double *decay,
                           double *ppl, lm_error *err);

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
 * of bptt steps with the state carried. The first token of each stream is context only,
 * except for models that read a text as beginning a line (n-gram sentence models, which
 * predict it after an implied <eot>, as other toolkits score a line after <s>). */
LM_API int lm_model_eval(const lm_model *m, const int32_t *ids, size_t n, size_t batch,
                         size_t bptt, lm_eval_result *res, lm_error *err);
/* The log-probability of every target of that reading: *lp[i] = log p(*targets[i] | its
 * stream so far), *n_lp of them (both malloc'd, caller frees). lm_model_eval sums these. */
LM_API int lm_model_logprobs(const lm_model *m, const int32_t *ids, size_t n, size_t batch,
                             size_t bptt, float **lp, int32_t **targets, size_t *n_lp,
                             lm_error *err);
/* Sums n target log-probabilities into res (the <unk> targets counted apart). */
LM_API void lm_eval_sum(const float *lp, const int32_t *targets, size_t n, lm_eval_result *res);

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
    int shift_windows;    /* 1: each epoch's windows start at an offset in [0, bptt) drawn
                           * from seed and epoch, so a token is not always at the same window
                           * position; 0: at 0; -1: 1 for transformers (whose learned
                           * positions would otherwise tie to the window grid), else 0 [-1] */
    int asgd;             /* non-zero: NT-ASGD (Merity et al. 2017): once the validation
                           * perplexity has not improved for asgd_patience epochs, keep the
                           * running average of the parameters after every step; validation,
                           * the best model and lm_trainer_save_best then use the average;
                           * never starts without validation data [0] */
    size_t asgd_patience; /* [5] */
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
    size_t averaging;      /* NT-ASGD: the epoch whose end started the averaging (0 = not yet) */
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

/* A checkpoint is a model file plus optimizer state and the trainer position. On a sharded
 * trainer every rank must call it (the carried state of all B streams is gathered, so the
 * checkpoint resumes with any rank count); ranks that should not write pass path NULL. */
LM_API int lm_trainer_save_checkpoint(const lm_trainer *t, const char *path, lm_error *err);
/* Loads a checkpoint into a new model and trainer positioned where it was saved. The options
 * stored in the checkpoint are used; epochs may be raised with lm_trainer_set_epochs. */
LM_API int lm_trainer_resume(const char *path, const int32_t *train, size_t n_train,
                             const int32_t *valid, size_t n_valid, lm_model **model,
                             lm_trainer **out, lm_error *err);
LM_API void lm_trainer_set_epochs(lm_trainer *t, size_t epochs);
/* A note the caller keeps with the run, saved in every checkpoint (e.g. "train" = the corpus
 * path, so that a resume needs no other argument): at most LM_TRAINER_NOTES notes, keys of at
 * most 31 bytes (letters, digits, '_'), values of at most 1023. LM_EINVAL otherwise. */
#define LM_TRAINER_NOTES 8
LM_API int lm_trainer_set_note(lm_trainer *t, const char *key, const char *value, lm_error *err);
/* Reads note key of the checkpoint at path into buf (cap bytes): LM_OK, 1 when the checkpoint
 * has no such note, or a negative code (a damaged file, not a checkpoint). */
LM_API int lm_checkpoint_note(const char *path, const char *key, char *buf, size_t cap,
                              lm_error *err);
/* What training a model of cfg (vocab set) with batch B and window T needs: its parameter
 * count and the bytes of parameters, gradients, optimizer moments and the window's
 * activations, with precision bf16 also the packed operands of its products (an estimate
 * within a few per cent). LM_EINVAL for a bad cfg. */
LM_API int lm_config_footprint(const lm_config *cfg, size_t batch, size_t bptt, size_t *params,
                               size_t *bytes, lm_error *err);
/* Saves the parameters of the best epoch so far (lowest validation perplexity; the latest
 * without validation data) with the whole training history, atomically. */
LM_API int lm_trainer_save_best(const lm_trainer *t, const char *path, lm_error *err);
LM_API const lm_train_opts *lm_trainer_opts(const lm_trainer *t);

/* ---- data-parallel training ---------------------------------------------------------------
 * The library speaks no network protocol: the caller (the CLI, over MPI) gives a sharded
 * trainer a function that sums a buffer over all ranks in place. Every rank builds the same
 * model (same seed) and trainer over the same corpora, then calls lm_trainer_set_shard; rank r
 * of R then trains on streams [r*B/R, (r+1)*B/R) of the B streams, so R ranks see exactly the
 * batches of one process with the same total batch. Per window the flat gradient block (scaled
 * by 1/B, the global batch), the loss sums and the stop flag are summed over the ranks, and the
 * clip and optimizer step run identically on every rank; validation streams are split the same
 * way and their sums reduced. lm_trainer_run_epoch and lm_trainer_save_checkpoint become
 * collective: every rank must call them in the same order. */
enum { LM_REDUCE_F32 = 0, LM_REDUCE_F64 = 1 };
/* Sums buf (n floats for LM_REDUCE_F32, n doubles for LM_REDUCE_F64) over every rank, in place.
 * Every rank must receive the same bits. Returns 0, or a negative LM_E* code (the trainer then
 * fails with that code and "all-reduce failed"). */
typedef int (*lm_allreduce_fn)(void *ud, void *buf, size_t n, int type);
/* Makes t the shard `rank` (0-based) of `ranks`; fn(ud, ...) performs the sums. Call it once,
 * after lm_trainer_create or lm_trainer_resume and before the next lm_trainer_run_epoch; it
 * keeps this rank's rows of the carried state and replaces the workspace by one for this rank's
 * streams only. ranks == 1 changes nothing but the collective calls. With dropout and ranks > 1
 * each window's masks are drawn from (seed, epoch, window, rank), so runs with different rank
 * counts see different (equally distributed) masks. LM_EINVAL when ranks is 0, rank >= ranks,
 * ranks > batch, fn is NULL or t is already sharded; LM_ENOMEM. */
LM_API int lm_trainer_set_shard(lm_trainer *t, size_t rank, size_t ranks, lm_allreduce_fn fn,
                                void *ud, lm_error *err);

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

/* Feeds one token and writes the next-token log-probabilities (vocab floats, normalised; a
 * token the model cannot produce gets -INFINITY) to logp (may be NULL when only the state
 * matters). */
LM_API int lm_step(const lm_model *m, lm_state *s, int32_t token, float *logp, lm_error *err);

/* ---- memory probes (src/probe/) ------------------------------------------------------------- */

/* How much of its history a model uses, after Khandelwal et al. 2018, "Sharp Nearby, Fuzzy Far
 * Away: How Neural Language Models Use Context". Target positions t are sampled from a test
 * text at t >= the largest context asked for, so every setting scores the same targets:
 *   - context curve: for each k the state is reset, the k tokens before t are fed and
 *     -log p(ids[t]) is scored (mean over the targets, nats);
 *   - shuffle curve: the shuffle_context tokens before t are fed, those farther than m from t
 *     permuted among themselves (their identity kept, their order lost).
 * A model with a fixed window (the transformer) sees at most its context: a longer k gives it
 * the last `context` tokens, which lm_context_result.seen records. */
#include <stdio.h>

#define LM_PROBE_MAX_POINTS 32

typedef struct lm_context_opts {
    size_t ks[LM_PROBE_MAX_POINTS]; /* context lengths, increasing [1 2 5 10 20 50 100 200 500] */
    size_t n_ks;
    size_t ms[LM_PROBE_MAX_POINTS]; /* shuffle distances, increasing [1 2 5 10 20 50 100 200] */
    size_t n_ms;                    /* 0: no shuffle curve */
    size_t shuffle_context;         /* tokens fed in the shuffle curve; 0 = the largest k [0] */
    size_t targets;                 /* target positions sampled [500] */
    size_t batch;                   /* targets fed at once (parallel streams) [64] */
    uint64_t seed;                  /* target sampling and shuffles [1] */
    double tolerance;               /* relative loss change counted as no improvement [0.01] */
    /* Called after every batch with the work done and the total (NULL: none). */
    void (*progress)(void *ud, size_t done, size_t total);
    void *progress_ud;
} lm_context_opts;

typedef struct lm_context_result {
    size_t targets;                   /* targets scored */
    size_t window;                    /* tokens the model can see at most; 0 = unlimited */
    size_t n_ks;
    size_t ks[LM_PROBE_MAX_POINTS];   /* as asked */
    size_t seen[LM_PROBE_MAX_POINTS]; /* tokens actually fed: min(k, window) */
    double loss[LM_PROBE_MAX_POINTS]; /* mean -log p (nats) with the last k tokens */
    size_t n_ms;
    size_t ms[LM_PROBE_MAX_POINTS];
    double shuffled[LM_PROBE_MAX_POINTS]; /* mean -log p, context beyond the last m shuffled */
    size_t shuffle_context;
    double loss_full;  /* the same shuffle_context tokens, nothing shuffled */
    size_t effective;  /* lm_context_effective of the context curve */
} lm_context_result;

LM_API void lm_context_opts_init(lm_context_opts *o);
/* Runs both curves of model m (borrowed, read-only) on ids[0..n) (borrowed). Returns LM_EINVAL
 * for bad options (lists not increasing, zero values, more than LM_PROBE_MAX_POINTS points)
 * or a text with no token after the largest context, LM_EMISMATCH for ids outside the
 * vocabulary, LM_ENOMEM. Deterministic for a seed. Thread-safe for distinct models. */
LM_API int lm_context_probe(const lm_model *m, const int32_t *ids, size_t n,
                            const lm_context_opts *o, lm_context_result *res, lm_error *err);
/* The context length beyond which the loss stops improving: the smallest ks[i] whose loss is
 * within a relative tol of the lowest loss at any ks[j], j >= i. ks[n-1] when none is. */
LM_API size_t lm_context_effective(const size_t *ks, const double *loss, size_t n, double tol);


/* ---- end of memory probes ------------------------------------------------------------------- */

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
 * LM_ENOMEM. On failure part of the output may have been written. Thread-safe: calls with
 * distinct outputs may run at once. */
LM_API int lm_corpus_import(const lm_import_opts *o, const char *const *inputs, size_t n,
                            FILE *out, lm_import_stats *stats, lm_error *err);


/* ---- end of corpus import --------------------------------------------------------------- */

/* ---- sampler (src/gen/sampler.c) -------------------------------------------------------- */

/* Next-token sampling settings, shared by every model kind. The order of the steps is fixed:
 * penalties on the logits, bans, temperature softmax, top-k, top-p, then one draw. */
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
/* LM_OK, or LM_EINVAL naming the first bad value (temperature < 0, top_p outside (0, 1],
 * repetition_penalty <= 0, a value that is not finite, banned NULL with n_banned > 0). */
LM_API int lm_sampler_check(const lm_sampler_opts *o, lm_error *err);

/* Turns logits (V floats, modified in place) into the sampling distribution without drawing:
 * every step of lm_sample but the draw. On return logits[i] is the probability of token i
 * (exactly 0 for banned, <unk> unless allowed, and tokens cut by top-k/top-p; with
 * temperature 0 a one-hot vector). Ties are broken towards the lower id. top-p keeps tokens
 * in decreasing probability until their sum reaches p (within a relative 1e-6). scratch:
 * 2*V ints or NULL (then the call allocates). Returns the most probable token (the greedy
 * choice), LM_EINVAL when every token is banned, or LM_ENOMEM. Thread-safe. */
LM_API int32_t lm_sampler_probs(const lm_sampler_opts *o, float *logits, size_t V,
                                const int32_t *history, size_t n_history, int32_t *scratch);
/* Draws one id from probabilities p (V floats summing to 1, as lm_sampler_probs leaves them)
 * with one lm_rng_uniform draw; never returns a token of probability 0. */
LM_API int32_t lm_sampler_draw(const float *p, size_t V, lm_rng *rng);

/* Picks the next token from logits (V floats, modified in place: they end as the sampling
 * distribution's probabilities). history: the tokens so far (may be NULL). scratch: 2*V ints
 * or NULL (then the call allocates). Returns the id, or a negative code when every token is
 * banned (LM_EINVAL) or memory ran out. Uses exactly one draw of rng per call (none with
 * temperature 0), so the same seed gives the same tokens. Thread-safe for distinct rng. */
LM_API int32_t lm_sample(const lm_sampler_opts *o, float *logits, size_t V,
                         const int32_t *history, size_t n_history, lm_rng *rng, int32_t *scratch);

/* Display text of token tok following prev (NULL at the start of a line) in a stream: for
 * word and whitespace tokenizers a leading space when lm_detok_space_before says so; for
 * character models (LM_TOKENIZE_CHARS) no added space, and the space token U+2581 becomes a
 * space. Writes at most cap-1 bytes and a NUL to buf and returns buf. */
LM_API const char *lm_detok_piece(int tokenize, const char *prev, const char *tok, char *buf,
                                  size_t cap);

/* Beam search (deterministic: no temperature, penalties or draws). */
typedef struct lm_beam_opts {
    size_t beam;           /* hypotheses kept per step [4] */
    size_t max_tokens;     /* length limit of a reply, its <eot> included [60] */
    size_t min_tokens;     /* words before <eot> may end a reply [1] */
    double length_alpha;   /* score = log-prob / length^alpha (length counts the <eot>);
                              0 = raw log-prob [1.0] */
    int allow_unk;         /* non-zero: <unk> may appear [0] */
    const int32_t *banned; /* ids never produced (borrowed), n_banned of them */
    size_t n_banned;
} lm_beam_opts;

LM_API void lm_beam_opts_init(lm_beam_opts *o);

/* Searches the reply that follows state start, whose next-token logits are `logits` (V floats,
 * read only): hypotheses are extended with lm_step on copies of start; one that picks <eot>
 * (or <eoc>) is finished, scored by its length-normalised log-probability. The search stops
 * when `beam` hypotheses are finished or max_tokens is reached; the best finished hypothesis
 * wins (the best unfinished one when none finished). *out (malloc'd, caller frees) receives
 * its tokens without the final <eot>, *n_out their count, *ended whether it ended with <eot>
 * or <eoc> (ended may be NULL), *score its score (may be NULL). start is not changed. stop
 * (may be NULL) is polled between steps: LM_EINTR when it becomes non-zero. Other errors:
 * LM_EINVAL (beam or max_tokens 0, every token banned), LM_ENOMEM, those of lm_step.
 * Thread-safe for distinct start states. */
LM_API int lm_beam_search(const lm_model *m, const lm_state *start, const float *logits,
                          const lm_beam_opts *o, int32_t **out, size_t *n_out, int *ended,
                          double *score, volatile int *stop, lm_error *err);

/* ---- chat sessions (src/gen/chat.c) */

/* A conversation with a model: the recurrent state carried across turns, the sampler, the
 * recent tokens (for penalties) and what /retry needs. Turns are fed as the corpus format has
 * them: a fresh conversation starts after <eoc>, every turn (the user's, the model's, each
 * line of priming text) ends with <eot>. */
typedef struct lm_chat lm_chat;

typedef struct lm_chat_opts {
    lm_sampler_opts sampler; /* the banned list is copied at lm_chat_create; lm_chat_opts_init
                                sets temperature 0.8, top-p 0.9, repetition penalty 1.2 */
    size_t max_tokens;       /* reply length limit in tokens [60] */
    size_t beam;             /* > 1: replies by beam search of this width; 0 or 1: sampled
                                [0] */
    double length_alpha;     /* beam search length normalisation [1.0] */
    uint64_t seed;           /* sampling stream [1] */
    size_t keep_history;     /* recent words kept for the penalties (at least the penalty
                                window is kept) [256] */
} lm_chat_opts;

LM_API void lm_chat_opts_init(lm_chat_opts *o);

/* Makes a chat with model m (borrowed: it must outlive the chat). Caller frees with
 * lm_chat_free. LM_EINVAL for bad options (lm_sampler_check), LM_ENOMEM. */
LM_API int lm_chat_create(const lm_model *m, const lm_chat_opts *o, lm_chat **out,
                          lm_error *err);
LM_API void lm_chat_free(lm_chat *c);
/* The current settings (borrowed; the banned list points into the chat). */
LM_API const lm_chat_opts *lm_chat_opts_get(const lm_chat *c);

/* Feeds opening text (a system line, a few example turns): each non-blank line is a turn
 * ending with <eot>. The state after it becomes where lm_chat_reset returns. */
LM_API int lm_chat_prime(lm_chat *c, const char *text, lm_error *err);
/* Feeds one user turn: the line's tokens then <eot> (a line without tokens is fed as an empty
 * turn, only <eot>). */
LM_API int lm_chat_user(lm_chat *c, const char *line, lm_error *err);

/* Receives the reply as it is produced: text is one token's display text with its leading
 * space (lm_detok_piece), borrowed for the call. */
typedef void (*lm_chat_emit_fn)(void *ud, const char *text);

/* Produces the model's turn: tokens sampled (or beam-searched) until <eot> or max_tokens,
 * each passed to emit (may be NULL) as it is chosen; the turn is then closed with <eot>.
 * <eoc> is never produced, nor <eot> as the first token. stop (may be NULL) is polled before
 * each token: when non-zero the reply ends there, the turn is closed, and LM_EINTR is
 * returned (the chat stays usable; the partial reply counts). */
LM_API int lm_chat_reply(lm_chat *c, lm_chat_emit_fn emit, void *ud, volatile int *stop,
                         lm_error *err);
/* Replaces the last reply by a new one: back to the state (and history) before it, then
 * lm_chat_reply. The sampling stream moves on, so a sampled reply differs; a beam-search reply
 * is the same. LM_EINVAL when there is no reply to retry. */
LM_API int lm_chat_retry(lm_chat *c, lm_chat_emit_fn emit, void *ud, volatile int *stop,
                         lm_error *err);
/* The last reply, detokenized (borrowed until the next call on c; "" before any). */
LM_API const char *lm_chat_last_reply(const lm_chat *c);
/* Back to the start: the state after lm_chat_prime (a fresh state without priming). */
LM_API int lm_chat_reset(lm_chat *c, lm_error *err);

/* Saves the conversation atomically to an HDF5 file: the state (readable by lm_state_load),
 * the pending token, the recent words, the sampling stream and what lm_chat_retry needs. The
 * settings and the priming point are not saved. */
LM_API int lm_chat_save(const lm_chat *c, const char *path, lm_error *err);
/* Restores a conversation saved by lm_chat_save (or a bare lm_state_save file, taken as a
 * state at a turn boundary); continuing it gives the replies the saved chat would have given.
 * LM_EFORMAT for a damaged or foreign file, LM_EMISMATCH for another model's state; on
 * failure the chat is unchanged. */
LM_API int lm_chat_load(lm_chat *c, const char *path, lm_error *err);

typedef struct lm_chat_stats {
    size_t turns;       /* replies produced since creation, reset or load */
    size_t position;    /* tokens fed to the state since the last reset */
    size_t state_bytes; /* memory of the state (lm_state_bytes) */
    size_t history;     /* recent words held for the penalties */
} lm_chat_stats;

LM_API void lm_chat_get_stats(const lm_chat *c, lm_chat_stats *st);
/* The current state (borrowed). */
LM_API const lm_state *lm_chat_state(const lm_chat *c);

/* ---- end of sampler --------------------------------------------------------------------- */

/* ---- n-gram models (src/ngram/) --------------------------------------------------------- */

/* Interpolated modified Kneser-Ney n-gram models (Chen & Goodman 1998), the baseline the neural
 * models are measured against. They read the same id streams as the neural models
 * (lm_corpus_read: <eot> after each line, <eoc> after a conversation). By default they see
 * them the same way, as one continuous stream per file: the history of a token is the previous
 * order-1 ids, crossing <eot> and <eoc>. A sentence model (opts.sentences) restarts the history
 * at every line as the standard toolkits do: the history of a token reaches back to the last
 * <eot> before it and no further (that <eot> plays the part of ARPA's <s>). No n-gram spans two
 * files. Probabilities of a trained model interpolate down to a uniform distribution over the
 * whole vocabulary, so every token, <unk> included, has a non-zero probability. A model can
 * also be read from an ARPA file (any writer's). See lstmlm-ngram(1) for the smoothing and
 * lstmlm-model(5) for the file layout. */

#define LM_NGRAM_MAX_ORDER 7

typedef struct lm_ngram lm_ngram;

typedef struct lm_ngram_opts {
    size_t order;            /* N, 1..LM_NGRAM_MAX_ORDER [5] */
    size_t prune_singletons; /* drop n-grams seen once in the training text whose order is >= this
                                (2..order); 0 = keep everything [0] */
    int tokenize;            /* LM_TOKENIZE_* of the training text, recorded in the model [WORDS] */
    int lowercase;           /* lower-casing of the training text, recorded [0] */
    int sentences;           /* non-zero: a sentence model, the history restarts after every
                                <eot> (see above); 0: one continuous stream [0] */
} lm_ngram_opts;

LM_API void lm_ngram_opts_init(lm_ngram_opts *o);

/* Counts the n-grams of the id streams streams[0..n_streams) (lengths lens; ids below the
 * vocabulary size; borrowed) and smooths them. With o->sentences each stream begins a line (as
 * if preceded by <eot>) and no n-gram is counted that holds <eot> anywhere but first or last;
 * an n-gram that starts with <eot> (below the top order) keeps its raw count, as n-grams that
 * start with <s> do in KenLM, since nothing precedes a sentence start. Takes ownership of vocab (also on failure).
 * LM_EINVAL for a bad order or prune setting, an id outside the vocabulary or no tokens at all;
 * LM_ENOMEM. Thread-safe for distinct inputs. */
LM_API int lm_ngram_train(const lm_ngram_opts *o, lm_vocab *vocab, const int32_t *const *streams,
                          const size_t *lens, size_t n_streams, lm_ngram **out, lm_error *err);
LM_API void lm_ngram_free(lm_ngram *m);
/* The n-gram model as an lm_model (taken over, also on failure), for every generic call. */
LM_API int lm_model_from_ngram(lm_ngram *g, lm_model **out, lm_error *err);
/* Borrowed while m lives. */
LM_API const lm_ngram_opts *lm_ngram_options(const lm_ngram *m);
LM_API const lm_vocab *lm_ngram_vocab(const lm_ngram *m);

/* What a model holds, order by order (index n-1 for order n). A model read from an ARPA file
 * has imported = 1 and zero tokens, count-of-counts, discounts and fallbacks (only counting
 * knows them). */
typedef struct lm_ngram_info {
    size_t order, vocab;
    int imported;                                 /* read from an ARPA file */
    uint64_t tokens;                              /* training tokens counted */
    size_t count[LM_NGRAM_MAX_ORDER];             /* n-grams stored (unigrams: the vocabulary) */
    uint64_t count_of_counts[LM_NGRAM_MAX_ORDER][4]; /* n1..n4 of the counts smoothed at the
                                                     order (continuation counts below N) */
    double discount[LM_NGRAM_MAX_ORDER][3];       /* D1, D2, D3+ */
    int fallback[LM_NGRAM_MAX_ORDER];             /* non-zero: the count-of-counts could not give
                                                     valid discounts; 0.5, 1, 1.5 were used */
} lm_ngram_info;

LM_API void lm_ngram_get_info(const lm_ngram *m, lm_ngram_info *info);

/* Natural log of p(w | hist): only the last order-1 ids of hist[0..n_hist) matter (fewer at the
 * start of a text); for a sentence model only those from the last <eot> in them on (a history
 * without <eot> is taken as it is, so a caller at a line start passes that <eot>). Ids must be
 * below the vocabulary size. Thread-safe (read-only). */
LM_API double lm_ngram_logprob(const lm_ngram *m, const int32_t *hist, size_t n_hist, int32_t w);
/* The whole next-token distribution p[0..vocab) (caller-owned), with the history rule of
 * lm_ngram_logprob. It sums to 1 for a trained model; an imported model's sums are what its
 * file gives (1 for a proper model, up to the mass of <s> and rounding). Thread-safe. */
LM_API void lm_ngram_dist(const lm_ngram *m, const int32_t *hist, size_t n_hist, double *p);


/* Saves the model to an HDF5 model file (arch "ngram"), atomically (temporary file renamed over
 * path). */
LM_API int lm_ngram_save(const lm_ngram *m, const char *path, lm_error *err);
/* Loads a model written by lm_ngram_save. Damaged files, wrong shapes, unsorted tables and
 * out-of-range ids or values give LM_EFORMAT with one line naming the file and the problem. */
LM_API int lm_ngram_load(const char *path, lm_ngram **out, lm_error *err);

/* Writes the model in the ARPA back-off text format (log10 values, 9 significant digits),
 * atomically. Probabilities of listed n-grams already include the interpolated lower orders,
 * and each n-gram that is the context of a higher-order one carries its interpolation weight
 * as its back-off weight, so standard back-off scoring gives exactly the model's
 * probabilities. <eot> is written as the ARPA consumers expect: "</s>" where it is predicted
 * (last word of an n-gram, and its unigram) and "<s>" where it begins an n-gram, with a unigram
 * "<s>" at -99 carrying <eot>'s back-off weight; <unk> and <eoc> keep their names. For a
 * sentence model the file then means exactly what the model means. A stream model also has
 * n-grams with "</s>" inside ("a </s> b"), which other toolkits never query (they restart the
 * history at each line), so for them it is an approximation. A "# lstmlm" comment before
 * \data\ records the tokenizer settings and the history kind, so lm_ngram_read_arpa gives
 * back the same model (the same log-probabilities, bit for bit). LM_EIO, LM_ENOMEM. */
LM_API int lm_ngram_write_arpa(const lm_ngram *m, const char *path, lm_error *err);

/* Reads an ARPA back-off file (plain or gzip; any writer's: SRILM, KenLM, IRSTLM, this toolkit)
 * into a model (caller frees with lm_ngram_free) scored by standard back-off, p(w | h) = p(h w)
 * when h w is listed, else bow(h) p(w | h without its first word). The vocabulary is <unk>,
 * <eot>, <eoc>, then the other unigrams in file order. "</s>" is read as <eot>, "<s>" starting an
 * n-gram as the <eot> before a line (the unigram "<s>" gives <eot> its back-off weight; its
 * probability, -99 or not, is not used, since <s> is never predicted); n-grams the toolkit can
 * never ask for ("<s>" inside, as IRSTLM's "<s> <s>", or "</s>" before the end) are dropped.
 * <unk> and <eoc> are the specials of those names; one the file does not list gets -99. The
 * model is imported (lm_ngram_info.imported) and, unless the file's "# lstmlm" comment says
 * otherwise, a sentence model with whitespace tokenization (pre-tokenized text, as the other
 * toolkits expect). LM_EFORMAT with "file:line: problem" for a malformed line or header, counts
 * that do not match the sections, an order above LM_NGRAM_MAX_ORDER, an n-gram listed twice, a
 * word without a unigram, a missing prefix or suffix, or a value that is not a finite number
 * (a log-probability must also be <= 0); LM_EIO; LM_ENOMEM. Thread-safe for distinct outputs. */
LM_API int lm_ngram_read_arpa(const char *path, lm_ngram **out, lm_error *err);

/* ---- end of n-gram models --------------------------------------------------------------- */

#ifdef __cplusplus
}
#endif
#endif
