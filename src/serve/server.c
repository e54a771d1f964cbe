/* server.c - the HTTP side of `lstmlm serve` on libmicrohttpd: one thread per connection, a
 * bounded number of generations at once (--parallel) with a bounded queue in front of them,
 * the API key, the body limit, server-sent events fed by a generating thread, Prometheus
 * metrics, and a shutdown that cuts the replies in progress short and saves the sessions. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "serve.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#if MHD_VERSION < 0x00097002
typedef int MHD_Result_t;
#else
typedef enum MHD_Result MHD_Result_t;
#endif

void lm_serve_opts_init(lm_serve_opts *o)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = 8080;
    o->parallel = 4;
    o->queue = 64;
    o->max_sessions = 1024;
    o->model_name = "lstmlm";
    o->max_body = (size_t)1 << 20;
    o->default_tokens = 60;
    o->max_tokens = 1024;
    o->max_n = 8;
    o->timeout = 60;
    o->seed = 1;
}

/* Endpoints counted in the metrics. */
enum { EP_HEALTH, EP_MODELS, EP_COMPLETIONS, EP_CHAT, EP_METRICS, EP_SESSIONS, EP_OTHER, EP_N };
static const char *const ep_names[EP_N] = {"/health", "/v1/models", "/v1/completions",
                                           "/v1/chat/completions", "/metrics", "/v1/sessions",
                                           "other"};
static const int codes[] = {200, 400, 401, 404, 405, 409, 413, 500, 503};
#define N_CODES (sizeof codes / sizeof codes[0])

struct srv {
    lm_serve_opts o;
    const lm_model *m;
    lm_chat_opts chat_defaults;
    sess_store *st;
    struct MHD_Daemon *d;
    volatile int shutdown;
    pthread_mutex_t mu; /* everything below */
    pthread_cond_t cv;  /* a slot became free, or shutdown */
    size_t active, waiting;
    lm_rng seeds;
    uint64_t requests[EP_N][N_CODES + 1];
    uint64_t prompt_tokens, completion_tokens;
    double gen_seconds;
    double started;
};

const char *srv_model_name(const srv *sv)
{
    return sv->o.model_name;
}

uint64_t srv_next_seed(srv *sv)
{
    pthread_mutex_lock(&sv->mu);
    uint64_t s = lm_rng_next(&sv->seeds);
    pthread_mutex_unlock(&sv->mu);
    return s;
}

const lm_chat_opts *srv_chat_defaults(const srv *sv)
{
    return &sv->chat_defaults;
}

/* ---- per-request state ------------------------------------------------------------------- */

typedef struct conn {
    char *body;
    size_t len, cap;
    bool too_big;
    bool responded;
    int ep;
} conn;

static void count(srv *sv, int ep, int status, const api_result *res)
{
    size_t k = N_CODES;
    for (size_t i = 0; i < N_CODES; i++)
        if (codes[i] == status)
            k = i;
    pthread_mutex_lock(&sv->mu);
    sv->requests[ep][k]++;
    if (res) {
        sv->prompt_tokens += res->prompt_tokens;
        sv->completion_tokens += res->completion_tokens;
        sv->gen_seconds += res->seconds;
    }
    pthread_mutex_unlock(&sv->mu);
}

static void access_log(const srv *sv, const char *method, const char *url, int status,
                       const api_result *res, const char *session, double t0)
{
    if (sv->o.quiet)
        return;
    if (res)
        fprintf(stderr, "lstmlm serve: %s %s %d prompt=%zu completion=%zu %.3fs%s%s\n", method,
                url, status, res->prompt_tokens, res->completion_tokens, api_now() - t0,
                session && *session ? " session=" : "", session ? session : "");
    else
        fprintf(stderr, "lstmlm serve: %s %s %d %.3fs\n", method, url, status, api_now() - t0);
}

/* Queues body (taken over; NULL = out of memory) with a status. */
static MHD_Result_t reply_text(struct MHD_Connection *c, int status, char *body, const char *type)
{
    if (!body) {
        static char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                            "\"param\":null,\"code\":\"server_error\"}}";
        body = strdup(oom);
        status = 500;
        if (!body)
            return MHD_NO;
    }
    struct MHD_Response *r =
        MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(r, "Content-Type", type);
    MHD_Result_t ret = MHD_queue_response(c, (unsigned)status, r);
    MHD_destroy_response(r);
    return ret;
}

static MHD_Result_t reply_json(struct MHD_Connection *c, int status, char *body)
{
    return reply_text(c, status, body, "application/json");
}

static MHD_Result_t reply_error(srv *sv, struct MHD_Connection *c, conn *cn, const api_error *e,
                                const char *method, const char *url, double t0)
{
    count(sv, cn->ep, e->status, NULL);
    access_log(sv, method, url, e->status, NULL, NULL, t0);
    char *body = api_error_json(e);
    if (e->status == 401 && body) {
        struct MHD_Response *r =
            MHD_create_response_from_buffer(strlen(body), body, MHD_RESPMEM_MUST_FREE);
        if (!r) {
            free(body);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
        MHD_Result_t ret = MHD_queue_response(c, 401, r);
        MHD_destroy_response(r);
        return ret;
    }
    return reply_json(c, e->status, body);
}

/* ---- parallel slots ---------------------------------------------------------------------- */

static int slot_acquire(srv *sv, double deadline, api_error *e)
{
    int rc = 0;
    pthread_mutex_lock(&sv->mu);
    if (sv->active >= sv->o.parallel && sv->waiting >= sv->o.queue) {
        rc = api_fail(e, 503, "server_busy", NULL,
                      "The server is busy (%zu generations running, %zu waiting); try again "
                      "later.", sv->active, sv->waiting);
        goto out;
    }
    sv->waiting++;
    while (sv->active >= sv->o.parallel && !sv->shutdown) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double left = deadline - api_now();
        if (left <= 0)
            break;
        double step = left < 0.25 ? left : 0.25;
        ts.tv_nsec += (long)(step * 1e9);
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&sv->cv, &sv->mu, &ts);
    }
    sv->waiting--;
    if (sv->shutdown)
        rc = api_fail(e, 503, "shutting_down", NULL, "The server is shutting down.");
    else if (sv->active >= sv->o.parallel)
        rc = api_fail(e, 503, "timeout",
                      NULL, "No generation slot became free within the timeout (%g s).",
                      sv->o.timeout);
    else
        sv->active++;
out:
    pthread_mutex_unlock(&sv->mu);
    return rc;
}

static void slot_release(srv *sv)
{
    pthread_mutex_lock(&sv->mu);
    sv->active--;
    pthread_cond_broadcast(&sv->cv);
    pthread_mutex_unlock(&sv->mu);
}

/* ---- streaming --------------------------------------------------------------------------- */

/* A streamed request: the generating thread appends SSE text, the connection's thread reads
 * it out. Freed by whichever of the two lets go last. */
typedef struct job {
    srv *sv;
    api_req r;
    sess *s;
    lm_chat *chat;
    bool fresh;
    double deadline, t0;
    char method[8], url[64];
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char *buf;
    size_t len, cap, off;
    bool done;
    int refs;
    volatile int cancel;
} job;

static void job_unref(job *j)
{
    pthread_mutex_lock(&j->mu);
    int left = --j->refs;
    pthread_mutex_unlock(&j->mu);
    if (left)
        return;
    api_req_free(&j->r);
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    free(j->buf);
    free(j);
}

static void job_write(void *ud, const char *data, size_t n)
{
    job *j = ud;
    pthread_mutex_lock(&j->mu);
    if (j->len + n > j->cap) {
        size_t cap = 2 * (j->len + n);
        char *b = realloc(j->buf, cap);
        if (!b) {
            j->cancel = 1;
            pthread_mutex_unlock(&j->mu);
            return;
        }
        j->buf = b;
        j->cap = cap;
    }
    memcpy(j->buf + j->len, data, n);
    j->len += n;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

static void *job_main(void *arg)
{
    job *j = arg;
    srv *sv = j->sv;
    api_sink sink = {job_write, j, &j->cancel, &sv->shutdown, j->deadline};
    api_result res = {0};
    api_error e = {0};
    int rc = api_run(sv, sv->m, &j->r, j->chat, j->fresh, &sink, &res, &e);
    if (rc) {
        char *body = api_error_json(&e);
        if (body) {
            job_write(j, "data: ", 6);
            job_write(j, body, strlen(body));
            job_write(j, "\n\ndata: [DONE]\n\n", 16);
            free(body);
        }
    }
    if (j->s)
        sess_release(sv->st, j->s, rc == 0);
    count(sv, EP_CHAT - !j->r.chat, rc ? e.status : 200, &res);
    access_log(sv, j->method, j->url, rc ? e.status : 200, &res, j->r.session, j->t0);
    slot_release(sv);
    pthread_mutex_lock(&j->mu);
    j->done = true;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
    job_unref(j);
    return NULL;
}

/* MHD pulls the stream from here (on the connection's own thread, so it may block). */
static ssize_t job_read(void *cls, uint64_t pos, char *out, size_t max)
{
    (void)pos;
    job *j = cls;
    pthread_mutex_lock(&j->mu);
    while (j->off == j->len && !j->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&j->cv, &j->mu, &ts);
    }
    ssize_t n;
    if (j->off == j->len) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        size_t k = j->len - j->off < max ? j->len - j->off : max;
        memcpy(out, j->buf + j->off, k);
        j->off += k;
        if (j->off == j->len)
            j->off = j->len = 0;
        n = (ssize_t)k;
    }
    pthread_mutex_unlock(&j->mu);
    return n;
}

static void job_gone(void *cls)
{
    job *j = cls;
    j->cancel = 1; /* the client went away or the stream ended */
    job_unref(j);
}

/* ---- endpoints --------------------------------------------------------------------------- */

/* Whether a JSON text holds a \u0000 escape (a NUL cJSON would silently cut the string at). */
static bool has_nul_escape(const char *s, size_t n)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (s[i] == '\\') {
            if (s[i + 1] == 'u' && i + 5 < n && !memcmp(s + i + 2, "0000", 4))
                return true;
            i++;
        }
    return false;
}

static MHD_Result_t do_generate(srv *sv, struct MHD_Connection *c, conn *cn, bool chat,
                                const char *method, const char *url, double t0)
{
    api_error e = {0};
    api_req r;
    if (!api_utf8_valid(cn->body ? cn->body : "", cn->len)) {
        api_fail(&e, 400, "invalid_utf8", NULL, "The request body is not valid UTF-8.");
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
    if (has_nul_escape(cn->body, cn->len)) {
        api_fail(&e, 400, "invalid_value", NULL, "Strings must not hold NUL characters.");
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
    if (api_parse(&sv->o, chat, cn->body ? cn->body : "", cn->len, &r, &e))
        return reply_error(sv, c, cn, &e, method, url, t0);
    double deadline = t0 + sv->o.timeout;
    sess *s = NULL;
    lm_chat *ch = NULL;
    bool fresh = true;
    if (r.session[0] && sess_acquire(sv->st, r.session, true, &s, &ch, &fresh, &e)) {
        api_req_free(&r);
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
    if (slot_acquire(sv, deadline, &e)) {
        if (s)
            sess_release(sv->st, s, false);
        api_req_free(&r);
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
    if (!r.stream) {
        api_sink sink = {NULL, NULL, NULL, &sv->shutdown, deadline};
        api_result res = {0};
        int rc = api_run(sv, sv->m, &r, ch, fresh, &sink, &res, &e);
        if (s)
            sess_release(sv->st, s, rc == 0);
        slot_release(sv);
        MHD_Result_t ret;
        if (rc) {
            ret = reply_error(sv, c, cn, &e, method, url, t0);
        } else {
            count(sv, cn->ep, 200, &res);
            access_log(sv, method, url, 200, &res, r.session, t0);
            ret = reply_json(c, 200, res.body);
        }
        api_req_free(&r);
        return ret;
    }
    job *j = calloc(1, sizeof *j);
    if (!j) {
        if (s)
            sess_release(sv->st, s, false);
        slot_release(sv);
        api_req_free(&r);
        api_fail(&e, 500, "server_error", NULL, "out of memory");
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
    j->sv = sv;
    j->r = r;
    j->s = s;
    j->chat = ch;
    j->fresh = fresh;
    j->deadline = deadline;
    j->t0 = t0;
    snprintf(j->method, sizeof j->method, "%s", method);
    snprintf(j->url, sizeof j->url, "%s", url);
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    j->refs = 2;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, job_read, j, job_gone);
    pthread_t th;
    pthread_attr_t at;
    pthread_attr_init(&at);
    pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
    if (!resp || pthread_create(&th, &at, job_main, j)) {
        pthread_attr_destroy(&at);
        if (resp)
            MHD_destroy_response(resp); /* calls job_gone: one reference */
        else
            job_unref(j);
        if (s)
            sess_release(sv->st, s, false);
        slot_release(sv);
        j->r = (api_req){0};
        job_unref(j);
        api_req_free(&r);
        api_fail(&e, 500, "server_error", NULL, "cannot start the generation");
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
    pthread_attr_destroy(&at);
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    MHD_Result_t ret = MHD_queue_response(c, 200, resp);
    MHD_destroy_response(resp);
    return ret;
}

static char *models_json(const srv *sv, bool list)
{
    cJSON *m = cJSON_CreateObject();
    cJSON_AddStringToObject(m, "id", sv->o.model_name);
    cJSON_AddStringToObject(m, "object", "model");
    cJSON_AddNumberToObject(m, "created", (double)(long)sv->started);
    cJSON_AddStringToObject(m, "owned_by", "lstmlm");
    cJSON_AddStringToObject(m, "kind", lm_model_kind(sv->m));
    if (!list) {
        char *s = cJSON_PrintUnformatted(m);
        cJSON_Delete(m);
        return s;
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "object", "list");
    cJSON *d = cJSON_AddArrayToObject(j, "data");
    cJSON_AddItemToArray(d, m);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static char *health_json(srv *sv)
{
    sess_counts sc;
    sess_get_counts(sv->st, &sc);
    pthread_mutex_lock(&sv->mu);
    size_t active = sv->active, waiting = sv->waiting;
    pthread_mutex_unlock(&sv->mu);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "status", "ok");
    cJSON_AddStringToObject(j, "model", sv->o.model_name);
    cJSON_AddStringToObject(j, "kind", lm_model_kind(sv->m));
    cJSON_AddNumberToObject(j, "sessions", (double)sc.open);
    cJSON_AddNumberToObject(j, "active", (double)active);
    cJSON_AddNumberToObject(j, "queued", (double)waiting);
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

static long rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
        rss = 0;
    fclose(f);
    return rss * sysconf(_SC_PAGESIZE);
}

/* Prometheus text format 0.0.4. */
static char *metrics_text(srv *sv)
{
    sess_counts sc;
    sess_get_counts(sv->st, &sc);
    size_t cap = 16384, n = 0;
    char *b = malloc(cap);
    if (!b)
        return NULL;
#define P(...)                                                                                     \
    do {                                                                                           \
        int k_ = snprintf(b + n, n < cap ? cap - n : 0, __VA_ARGS__);                              \
        n += k_ > 0 ? (size_t)k_ : 0;                                                              \
    } while (0)
    pthread_mutex_lock(&sv->mu);
    P("# HELP lstmlm_requests_total HTTP requests answered, by endpoint and status.\n"
      "# TYPE lstmlm_requests_total counter\n");
    for (int e = 0; e < EP_N; e++)
        for (size_t k = 0; k <= N_CODES; k++)
            if (sv->requests[e][k]) {
                if (k < N_CODES)
                    P("lstmlm_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n", ep_names[e],
                      codes[k], (unsigned long long)sv->requests[e][k]);
                else
                    P("lstmlm_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n", ep_names[e],
                      (unsigned long long)sv->requests[e][k]);
            }
    P("# HELP lstmlm_prompt_tokens_total Tokens fed from requests.\n"
      "# TYPE lstmlm_prompt_tokens_total counter\nlstmlm_prompt_tokens_total %llu\n",
      (unsigned long long)sv->prompt_tokens);
    P("# HELP lstmlm_completion_tokens_total Tokens generated.\n"
      "# TYPE lstmlm_completion_tokens_total counter\nlstmlm_completion_tokens_total %llu\n",
      (unsigned long long)sv->completion_tokens);
    P("# HELP lstmlm_generation_seconds_total Time spent in generations (summed over slots).\n"
      "# TYPE lstmlm_generation_seconds_total counter\nlstmlm_generation_seconds_total %.6f\n",
      sv->gen_seconds);
    P("# HELP lstmlm_tokens_per_second Generated tokens per second of generation time.\n"
      "# TYPE lstmlm_tokens_per_second gauge\nlstmlm_tokens_per_second %.3f\n",
      sv->gen_seconds > 0 ? (double)sv->completion_tokens / sv->gen_seconds : 0.0);
    P("# HELP lstmlm_generations_active Generations running now.\n"
      "# TYPE lstmlm_generations_active gauge\nlstmlm_generations_active %zu\n", sv->active);
    P("# HELP lstmlm_generations_queued Requests waiting for a generation slot.\n"
      "# TYPE lstmlm_generations_queued gauge\nlstmlm_generations_queued %zu\n", sv->waiting);
    pthread_mutex_unlock(&sv->mu);
    P("# HELP lstmlm_sessions_open Sessions held in memory.\n"
      "# TYPE lstmlm_sessions_open gauge\nlstmlm_sessions_open %zu\n", sc.open);
    P("# HELP lstmlm_session_state_bytes Bytes of model state the sessions in memory hold.\n"
      "# TYPE lstmlm_session_state_bytes gauge\nlstmlm_session_state_bytes %zu\n",
      sc.state_bytes);
    P("# HELP lstmlm_sessions_created_total Sessions started.\n"
      "# TYPE lstmlm_sessions_created_total counter\nlstmlm_sessions_created_total %llu\n",
      (unsigned long long)sc.created);
    P("# HELP lstmlm_sessions_evicted_total Sessions evicted from memory (least recently used).\n"
      "# TYPE lstmlm_sessions_evicted_total counter\nlstmlm_sessions_evicted_total %llu\n",
      (unsigned long long)sc.evicted);
    P("# HELP lstmlm_sessions_saved_total Session state files written.\n"
      "# TYPE lstmlm_sessions_saved_total counter\nlstmlm_sessions_saved_total %llu\n",
      (unsigned long long)sc.saved);
    P("# HELP lstmlm_sessions_loaded_total Sessions read back from state files.\n"
      "# TYPE lstmlm_sessions_loaded_total counter\nlstmlm_sessions_loaded_total %llu\n",
      (unsigned long long)sc.loaded);
    P("# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
      "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
      rss_bytes());
#undef P
    if (n >= cap) {
        free(b);
        return NULL;
    }
    return b;
}

/* Constant-time comparison of the presented key with the server's. */
static bool key_ok(const char *given, const char *want)
{
    size_t a = strlen(given), b = strlen(want);
    unsigned diff = a != b;
    for (size_t i = 0; i < b; i++)
        diff |= (unsigned)(unsigned char)want[i] ^ (unsigned)(unsigned char)(i < a ? given[i] : 0);
    return diff == 0;
}

static int endpoint_of(const char *url)
{
    if (!strcmp(url, "/health"))
        return EP_HEALTH;
    if (!strcmp(url, "/v1/models") || !strncmp(url, "/v1/models/", 11))
        return EP_MODELS;
    if (!strcmp(url, "/v1/completions"))
        return EP_COMPLETIONS;
    if (!strcmp(url, "/v1/chat/completions"))
        return EP_CHAT;
    if (!strcmp(url, "/metrics"))
        return EP_METRICS;
    if (!strncmp(url, "/v1/sessions/", 13))
        return EP_SESSIONS;
    return EP_OTHER;
}

static MHD_Result_t method_not_allowed(srv *sv, struct MHD_Connection *c, conn *cn,
                                       const char *method, const char *url, const char *allow,
                                       double t0)
{
    api_error e = {0};
    api_fail(&e, 405, "method_not_allowed", NULL, "%s is not allowed on %s (use %s).", method,
             url, allow);
    return reply_error(sv, c, cn, &e, method, url, t0);
}

static MHD_Result_t handle(void *cls, struct MHD_Connection *c, const char *url,
                           const char *method, const char *version, const char *upload,
                           size_t *upload_size, void **con_cls)
{
    (void)version;
    srv *sv = cls;
    conn *cn = *con_cls;
    double t0 = api_now();
    api_error e = {0};
    if (!cn) {
        if (!(cn = calloc(1, sizeof *cn)))
            return MHD_NO;
        *con_cls = cn;
        cn->ep = endpoint_of(url);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > sv->o.max_body) {
            cn->too_big = true;
            cn->responded = true;
            api_fail(&e, 413, "request_too_large", NULL,
                     "The request body is larger than %zu bytes (--max-body).", sv->o.max_body);
            return reply_error(sv, c, cn, &e, method, url, t0);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        if (!cn->too_big) {
            if (cn->len + *upload_size > sv->o.max_body) {
                cn->too_big = true;
                free(cn->body);
                cn->body = NULL;
                cn->len = cn->cap = 0;
            } else {
                if (cn->len + *upload_size + 1 > cn->cap) {
                    size_t cap = 2 * (cn->len + *upload_size + 1);
                    char *b = realloc(cn->body, cap);
                    if (!b)
                        return MHD_NO;
                    cn->body = b;
                    cn->cap = cap;
                }
                memcpy(cn->body + cn->len, upload, *upload_size);
                cn->len += *upload_size;
                cn->body[cn->len] = '\0';
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (cn->responded)
        return MHD_YES;
    cn->responded = true;
    if (cn->too_big) {
        api_fail(&e, 413, "request_too_large", NULL,
                 "The request body is larger than %zu bytes (--max-body).", sv->o.max_body);
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
    if (sv->o.api_key && cn->ep != EP_HEALTH) {
        const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
        if (!h || strncmp(h, "Bearer ", 7)) {
            api_fail(&e, 401, "missing_api_key", NULL,
                     "You didn't provide an API key. Send it in an Authorization header using "
                     "Bearer auth (Authorization: Bearer YOUR_KEY).");
            return reply_error(sv, c, cn, &e, method, url, t0);
        }
        if (!key_ok(h + 7, sv->o.api_key)) {
            api_fail(&e, 401, "invalid_api_key", NULL, "Incorrect API key provided.");
            return reply_error(sv, c, cn, &e, method, url, t0);
        }
    }
    bool get = !strcmp(method, "GET"), post = !strcmp(method, "POST");
    switch (cn->ep) {
    case EP_HEALTH:
    case EP_METRICS:
        if (!get)
            return method_not_allowed(sv, c, cn, method, url, "GET", t0);
        count(sv, cn->ep, 200, NULL);
        if (cn->ep == EP_HEALTH)
            return reply_json(c, 200, health_json(sv));
        return reply_text(c, 200, metrics_text(sv), "text/plain; version=0.0.4");
    case EP_MODELS:
        if (!get)
            return method_not_allowed(sv, c, cn, method, url, "GET", t0);
        if (url[10] == '/' && strcmp(url + 11, sv->o.model_name)) {
            api_fail(&e, 404, "model_not_found", "model", "The model '%.64s' does not exist.",
                     url + 11);
            return reply_error(sv, c, cn, &e, method, url, t0);
        }
        count(sv, cn->ep, 200, NULL);
        return reply_json(c, 200, models_json(sv, url[10] != '/'));
    case EP_COMPLETIONS:
    case EP_CHAT:
        if (!post)
            return method_not_allowed(sv, c, cn, method, url, "POST", t0);
        return do_generate(sv, c, cn, cn->ep == EP_CHAT, method, url, t0);
    case EP_SESSIONS: {
        const char *name = url + 13;
        bool del = !strcmp(method, "DELETE");
        if (!get && !del)
            return method_not_allowed(sv, c, cn, method, url, "GET or DELETE", t0);
        if (!sess_name_valid(name)) {
            api_fail(&e, 400, "invalid_value", "session", "Bad session name.");
            return reply_error(sv, c, cn, &e, method, url, t0);
        }
        char *body = NULL;
        if (del) {
            if (sess_delete(sv->st, name, &e))
                return reply_error(sv, c, cn, &e, method, url, t0);
            cJSON *j = cJSON_CreateObject();
            cJSON_AddStringToObject(j, "id", name);
            cJSON_AddStringToObject(j, "object", "session");
            cJSON_AddBoolToObject(j, "deleted", 1);
            body = cJSON_PrintUnformatted(j);
            cJSON_Delete(j);
        } else if (!(body = sess_info_json(sv->st, name, &e))) {
            return reply_error(sv, c, cn, &e, method, url, t0);
        }
        count(sv, cn->ep, 200, NULL);
        return reply_json(c, 200, body);
    }
    default:
        api_fail(&e, 404, "not_found", NULL, "Invalid URL (%s %.200s).", method, url);
        return reply_error(sv, c, cn, &e, method, url, t0);
    }
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    conn *cn = *con_cls;
    if (cn) {
        free(cn->body);
        free(cn);
        *con_cls = NULL;
    }
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    fputs("lstmlm serve: libmicrohttpd: ", stderr);
    vfprintf(stderr, fmt, ap);
}

int lm_serve_run(const lm_model *m, const lm_serve_opts *o, volatile int *stop)
{
    srv *sv = calloc(1, sizeof *sv);
    if (!sv) {
        fprintf(stderr, "lstmlm: out of memory\n");
        return 1;
    }
    int rc = 1;
    sv->o = *o;
    sv->m = m;
    sv->started = (double)time(NULL);
    pthread_mutex_init(&sv->mu, NULL);
    pthread_cond_init(&sv->cv, NULL);
    lm_rng_seed(&sv->seeds, o->seed);
    lm_chat_opts_init(&sv->chat_defaults);
    sv->chat_defaults.max_tokens = o->default_tokens;
    if (sess_store_create(m, &sv->chat_defaults, o->max_sessions, o->session_dir, &sv->st)) {
        fprintf(stderr, "lstmlm: out of memory\n");
        goto out;
    }
    struct sockaddr_in a4;
    struct sockaddr_in6 a6;
    struct sockaddr *addr;
    unsigned flags = MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD |
                     MHD_USE_ERROR_LOG | MHD_USE_POLL;
    memset(&a4, 0, sizeof a4);
    memset(&a6, 0, sizeof a6);
    if (inet_pton(AF_INET, o->host, &a4.sin_addr) == 1) {
        a4.sin_family = AF_INET;
        a4.sin_port = htons((uint16_t)o->port);
        addr = (struct sockaddr *)&a4;
    } else if (inet_pton(AF_INET6, o->host, &a6.sin6_addr) == 1) {
        a6.sin6_family = AF_INET6;
        a6.sin6_port = htons((uint16_t)o->port);
        addr = (struct sockaddr *)&a6;
        flags |= MHD_USE_IPv6;
    } else {
        fprintf(stderr, "lstmlm: --host: '%s' is not an IPv4 or IPv6 address\n", o->host);
        goto out;
    }
    unsigned limit = (unsigned)(o->parallel + o->queue + 64);
    sv->d = MHD_start_daemon(flags, (uint16_t)o->port, NULL, NULL, handle, sv,
                             MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL, MHD_OPTION_SOCK_ADDR, addr, MHD_OPTION_NOTIFY_COMPLETED, completed,
                             NULL, MHD_OPTION_CONNECTION_LIMIT, limit,
                             MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)(o->timeout + 30),
                             MHD_OPTION_END);
    if (!sv->d) {
        fprintf(stderr, "lstmlm: cannot listen on %s port %u: %s\n", o->host, o->port,
                strerror(errno ? errno : EADDRINUSE));
        goto out;
    }
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(sv->d, MHD_DAEMON_INFO_BIND_PORT);
    unsigned port = di ? di->port : o->port;
    char desc[256];
    lm_model_describe(m, desc, sizeof desc);
    fprintf(stderr, "lstmlm serve: %s (%s) on http://%s%s%s:%u/ (%zu parallel, %zu sessions%s%s)\n",
            o->model_name, desc, strchr(o->host, ':') ? "[" : "", o->host,
            strchr(o->host, ':') ? "]" : "", port, o->parallel, o->max_sessions,
            o->session_dir ? " in " : "", o->session_dir ? o->session_dir : "");
    fflush(stderr);
    while (!*stop) {
        struct timespec ts = {0, 50 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    /* Shutdown: cut the replies short, let them finish, close, save. */
    fprintf(stderr, "lstmlm serve: shutting down\n");
    pthread_mutex_lock(&sv->mu);
    sv->shutdown = 1;
    pthread_cond_broadcast(&sv->cv);
    while (sv->active || sv->waiting) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000 * 1000;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&sv->cv, &sv->mu, &ts);
    }
    pthread_mutex_unlock(&sv->mu);
    MHD_stop_daemon(sv->d);
    sv->d = NULL;
    rc = 0;
    if (o->session_dir) {
        sess_counts sc;
        sess_get_counts(sv->st, &sc);
        size_t failed = sess_store_save_all(sv->st);
        fprintf(stderr, "lstmlm serve: saved %zu sessions to %s%s\n", sc.open - failed,
                o->session_dir, failed ? " (some failed)" : "");
        if (failed)
            rc = 1;
    }
out:
    if (sv->d)
        MHD_stop_daemon(sv->d);
    sess_store_free(sv->st);
    pthread_mutex_destroy(&sv->mu);
    pthread_cond_destroy(&sv->cv);
    free(sv);
    return rc;
}
