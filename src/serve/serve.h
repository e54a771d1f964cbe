/* serve.h - `lstmlm serve`: an OpenAI-compatible HTTP server over one model (any kind), with
 * recurrent sessions kept on the server. Uses only the public API (include/lstmlm.h), plus
 * libmicrohttpd for HTTP and cJSON for JSON.
 *
 *   server.c    the daemon: routing, API key, body limit, parallel slots and their queue,
 *               server-sent events, metrics, shutdown
 *   api.c       requests: JSON -> a checked request, the generation, the JSON answers
 *   sessions.c  the session store: least-recently-used eviction, state files in a folder
 */
#ifndef LM_SERVE_H
#define LM_SERVE_H

#include "lstmlm-tools.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct lm_serve_opts {
    const char *host;        /* address to bind ["127.0.0.1"] */
    unsigned port;           /* 0 = any free port (printed) [8080] */
    size_t parallel;         /* generations at once [4] */
    size_t queue;            /* requests waiting for a slot before 503 [64] */
    size_t max_sessions;     /* sessions held in memory [1024] */
    const char *session_dir; /* state files of evicted and saved sessions (NULL: none) */
    const char *api_key;     /* required "Authorization: Bearer KEY" (NULL: none) */
    const char *model_name;  /* the id in /v1/models and "model" ["lstmlm"] */
    size_t max_body;         /* request body limit in bytes [1 MiB] */
    size_t default_tokens;   /* reply length without max_tokens [60] */
    size_t max_tokens;       /* largest max_tokens accepted [1024] */
    size_t max_n;            /* largest n accepted [8] */
    double timeout;          /* seconds a request may take, queue included [60] */
    uint64_t seed;           /* seeds of requests without one are drawn from this [1] */
    bool quiet;              /* no access log on standard error */
} lm_serve_opts;

void lm_serve_opts_init(lm_serve_opts *o);

/* Serves m (borrowed, read-only) until *stop becomes non-zero (a signal handler sets it), then
 * finishes the replies in progress (cut short), saves the sessions to the session folder and
 * returns 0; 1 after printing "lstmlm: <msg>" when the server cannot start. */
int lm_serve_run(const lm_model *m, const lm_serve_opts *o, volatile int *stop);

/* ---- internal: shared by the three files -------------------------------------------------- */

typedef struct cJSON cJSON;
typedef struct srv srv;
typedef struct sess sess;

/* An error answer: HTTP status, OpenAI's error type and code, the offending parameter. */
typedef struct api_error {
    int status;
    const char *type;  /* "invalid_request_error", "server_error", ... */
    const char *code;  /* "invalid_json", "unknown_parameter", ... */
    char param[64];    /* "" = null */
    char message[384];
} api_error;

int api_fail(api_error *e, int status, const char *code, const char *param, const char *fmt,
             ...) __attribute__((format(printf, 5, 6)));
/* {"error": {"message", "type", "param", "code"}} as a malloc'd string. */
char *api_error_json(const api_error *e);
/* Checks that s[0..n) is UTF-8 (no overlong forms, surrogates or values past U+10FFFF). */
bool api_utf8_valid(const char *s, size_t n);

/* Messages of a chat request. */
typedef struct api_msg {
    int role; /* API_SYSTEM, API_USER, API_ASSISTANT */
    char *text;
} api_msg;
enum { API_SYSTEM = 0, API_USER = 1, API_ASSISTANT = 2 };

#define API_MAX_STOP 4
#define API_SESSION_MAX 64

/* A checked request of /v1/chat/completions (chat = true) or /v1/completions. */
typedef struct api_req {
    bool chat;
    api_msg *msgs;
    size_t n_msgs;
    char *prompt;            /* completions */
    size_t max_tokens;
    double temperature, top_p, presence_penalty, repetition_penalty;
    size_t top_k;
    bool has_seed;
    uint64_t seed;
    char *stop[API_MAX_STOP];
    size_t n_stop;
    size_t n;
    bool stream, include_usage, ignore_eos;
    char session[API_SESSION_MAX + 1]; /* "" = stateless */
} api_req;

/* Parses and checks a request body (already known to be UTF-8). 0, or -1 with e filled. */
int api_parse(const lm_serve_opts *o, bool chat, const char *body, size_t len, api_req *r,
              api_error *e);
void api_req_free(api_req *r);

/* Where a generation's output goes: chunks of SSE text (stream) or the final JSON. */
typedef struct api_sink {
    /* Appends bytes to the stream (stream requests only); called from the generating thread. */
    void (*write)(void *ud, const char *data, size_t len);
    void *ud;
    volatile int *cancel;   /* set when the client went away (may be NULL) */
    volatile int *shutdown; /* set when the server stops (may be NULL) */
    double deadline;        /* api_now() after which the reply is cut; 0 = none */
} api_sink;

/* Monotonic seconds. */
double api_now(void);
/* Whether the reply should end now (client gone, shutdown, deadline). */
bool api_sink_cancelled(const api_sink *s);

typedef struct api_result {
    char *body; /* the JSON answer of a non-stream request (malloc'd) */
    size_t prompt_tokens, completion_tokens;
    double seconds; /* spent generating */
} api_result;

/* Runs a request: feeds its turns to a fresh chat or to the session's (s may be NULL), produces
 * the replies, writes SSE events to the sink when streaming or the JSON body to res. 0, or -1
 * with e filled (before anything was streamed) for a failure. */
int api_run(srv *sv, const lm_model *m, const api_req *r, lm_chat *chat, bool fresh,
            const api_sink *sink, api_result *res, api_error *e);

/* Server facts the generation needs (server.c). */
const char *srv_model_name(const srv *sv);
uint64_t srv_next_seed(srv *sv);
const lm_chat_opts *srv_chat_defaults(const srv *sv);

/* ---- sessions ---------------------------------------------------------------------------- */

typedef struct sess_store sess_store;

/* dir may be NULL. HDF5 calls (state files) are serialised by the store. */
int sess_store_create(const lm_model *m, const lm_chat_opts *defaults, size_t max,
                      const char *dir, sess_store **out);
/* Saves every session held in memory (when there is a folder); returns how many failed. */
size_t sess_store_save_all(sess_store *st);
void sess_store_free(sess_store *st);
/* A session name is 1-64 of [A-Za-z0-9_.-], not starting with '.'. */
bool sess_name_valid(const char *name);

/* Takes session `name` for one request: from memory, else from its state file, else (create)
 * a new one (*fresh set). 409 when another request holds it, 404 for an expired or (without
 * create) unknown one, 500 when its file cannot be read. */
int sess_acquire(sess_store *st, const char *name, bool create, sess **out, lm_chat **chat,
                 bool *fresh, api_error *e);
/* Gives it back (ok = false for a new session whose request failed: it is dropped). Evicts the
 * least recently used sessions beyond the limit (saved to the folder when there is one). */
void sess_release(sess_store *st, sess *s, bool ok);
/* Facts about a session (in memory or in the folder) as a JSON string; NULL with e filled. */
char *sess_info_json(sess_store *st, const char *name, api_error *e);
/* Forgets a session (memory and file). -1 with e filled: unknown or busy. */
int sess_delete(sess_store *st, const char *name, api_error *e);
typedef struct sess_counts {
    size_t open;        /* held in memory */
    size_t state_bytes; /* their states' memory */
    uint64_t created, evicted, saved, loaded;
} sess_counts;
void sess_get_counts(sess_store *st, sess_counts *c);

#endif
