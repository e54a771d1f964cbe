/* api.c - the OpenAI-compatible requests: a JSON body checked field by field into an api_req
 * (wrong types, unknown fields and out-of-range values are 400s naming the parameter), the
 * generation through the chat API (messages become the toolkit's turns), stop sequences, and
 * the answers: one JSON object, or server-sent events in OpenAI's chunk format. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "serve.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- errors ------------------------------------------------------------------------------ */

int api_fail(api_error *e, int status, const char *code, const char *param, const char *fmt, ...)
{
    e->status = status;
    e->code = code;
    e->type = status >= 500 ? "server_error"
              : status == 401 ? "authentication_error"
              : status == 404 ? "not_found_error"
              : status == 409 ? "conflict_error"
              : status == 429 ? "rate_limit_error"
                              : "invalid_request_error";
    if (!strcmp(code, "invalid_api_key") || !strcmp(code, "missing_api_key"))
        e->type = "invalid_request_error"; /* what OpenAI answers for a bad key */
    snprintf(e->param, sizeof e->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

char *api_error_json(const api_error *e)
{
    cJSON *j = cJSON_CreateObject(), *o = cJSON_AddObjectToObject(j, "error");
    cJSON_AddStringToObject(o, "message", e->message);
    cJSON_AddStringToObject(o, "type", e->type ? e->type : "server_error");
    if (e->param[0])
        cJSON_AddStringToObject(o, "param", e->param);
    else
        cJSON_AddNullToObject(o, "param");
    cJSON_AddStringToObject(o, "code", e->code ? e->code : "server_error");
    char *s = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    return s;
}

bool api_utf8_valid(const char *str, size_t n)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned cp, min;
        if ((c & 0xE0) == 0xC0)
            len = 2, cp = c & 0x1F, min = 0x80;
        else if ((c & 0xF0) == 0xE0)
            len = 3, cp = c & 0x0F, min = 0x800;
        else if ((c & 0xF8) == 0xF0)
            len = 4, cp = c & 0x07, min = 0x10000;
        else
            return false;
        if (i + len > n)
            return false;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += len;
    }
    return true;
}

/* ---- requests ---------------------------------------------------------------------------- */

void api_req_free(api_req *r)
{
    for (size_t i = 0; i < r->n_msgs; i++)
        free(r->msgs[i].text);
    free(r->msgs);
    free(r->prompt);
    for (size_t i = 0; i < r->n_stop; i++)
        free(r->stop[i]);
    memset(r, 0, sizeof *r);
}

static const char *type_name(const cJSON *v)
{
    return cJSON_IsString(v)   ? "a string"
           : cJSON_IsNumber(v) ? "a number"
           : cJSON_IsBool(v)   ? "a boolean"
           : cJSON_IsArray(v)  ? "an array"
           : cJSON_IsObject(v) ? "an object"
                               : "null";
}

static int bad_type(api_error *e, const char *param, const cJSON *v, const char *want)
{
    return api_fail(e, 400, "invalid_type", param, "Invalid type for '%s': expected %s, but got %s.",
                    param, want, type_name(v));
}

static int get_number(const cJSON *v, const char *name, double lo, double hi, double *out,
                      api_error *e)
{
    if (!cJSON_IsNumber(v))
        return bad_type(e, name, v, "a number");
    double x = v->valuedouble;
    if (!isfinite(x) || x < lo || x > hi)
        return api_fail(e, 400, "invalid_value", name,
                        "Invalid '%s': %g is out of range [%g, %g].", name, x, lo, hi);
    *out = x;
    return 0;
}

static int get_int(const cJSON *v, const char *name, double lo, double hi, double *out,
                   api_error *e)
{
    if (!cJSON_IsNumber(v) || v->valuedouble != floor(v->valuedouble))
        return bad_type(e, name, v, "an integer");
    return get_number(v, name, lo, hi, out, e);
}

/* A copy of a string that holds no NUL (a \u0000 escape) and is UTF-8 (escapes give any code
 * point, a lone surrogate included). */
static int dup_text(const cJSON *v, const char *name, char **out, api_error *e)
{
    size_t n = strlen(v->valuestring);
    if (!api_utf8_valid(v->valuestring, n))
        return api_fail(e, 400, "invalid_utf8", name, "'%s' is not valid UTF-8.", name);
    if (!(*out = strdup(v->valuestring)))
        return api_fail(e, 500, "server_error", NULL, "out of memory");
    return 0;
}

/* A message's content: a string, or an array of {"type": "text", "text": ...} parts (joined
 * with spaces). */
static int get_content(const cJSON *v, const char *name, char **out, api_error *e)
{
    if (cJSON_IsString(v))
        return dup_text(v, name, out, e);
    if (!cJSON_IsArray(v))
        return bad_type(e, name, v, "a string or an array of text parts");
    size_t len = 0, cap = 64;
    char *s = malloc(cap);
    if (!s)
        return api_fail(e, 500, "server_error", NULL, "out of memory");
    s[0] = '\0';
    const cJSON *p;
    cJSON_ArrayForEach(p, v)
    {
        const cJSON *ty = cJSON_GetObjectItemCaseSensitive(p, "type");
        const cJSON *tx = cJSON_GetObjectItemCaseSensitive(p, "text");
        if (!cJSON_IsObject(p) || !cJSON_IsString(ty) || strcmp(ty->valuestring, "text") ||
            !cJSON_IsString(tx)) {
            free(s);
            return api_fail(e, 400, "invalid_value", name,
                            "'%s': only parts {\"type\": \"text\", \"text\": ...} are supported.",
                            name);
        }
        size_t n = strlen(tx->valuestring);
        if (len + n + 2 > cap) {
            cap = 2 * (len + n + 2);
            char *t = realloc(s, cap);
            if (!t) {
                free(s);
                return api_fail(e, 500, "server_error", NULL, "out of memory");
            }
            s = t;
        }
        if (len)
            s[len++] = ' ';
        memcpy(s + len, tx->valuestring, n + 1);
        len += n;
    }
    if (!api_utf8_valid(s, len)) {
        free(s);
        return api_fail(e, 400, "invalid_utf8", name, "'%s' is not valid UTF-8.", name);
    }
    *out = s;
    return 0;
}

static int parse_messages(const cJSON *v, api_req *r, api_error *e)
{
    if (!cJSON_IsArray(v))
        return bad_type(e, "messages", v, "an array");
    size_t n = (size_t)cJSON_GetArraySize(v);
    if (n == 0)
        return api_fail(e, 400, "invalid_value", "messages", "'messages' must not be empty.");
    if (!(r->msgs = calloc(n, sizeof *r->msgs)))
        return api_fail(e, 500, "server_error", NULL, "out of memory");
    const cJSON *m;
    cJSON_ArrayForEach(m, v)
    {
        char name[64];
        size_t i = r->n_msgs++; /* counted now, so api_req_free frees a half-read message */
        snprintf(name, sizeof name, "messages[%zu]", i);
        if (!cJSON_IsObject(m))
            return bad_type(e, name, m, "an object");
        const cJSON *f;
        bool has_role = false, has_content = false;
        cJSON_ArrayForEach(f, m)
        {
            char fname[96];
            snprintf(fname, sizeof fname, "%s.%s", name, f->string);
            if (!strcmp(f->string, "role")) {
                if (!cJSON_IsString(f))
                    return bad_type(e, fname, f, "a string");
                const char *ro = f->valuestring;
                if (!strcmp(ro, "system") || !strcmp(ro, "developer"))
                    r->msgs[i].role = API_SYSTEM;
                else if (!strcmp(ro, "user"))
                    r->msgs[i].role = API_USER;
                else if (!strcmp(ro, "assistant"))
                    r->msgs[i].role = API_ASSISTANT;
                else
                    return api_fail(e, 400, "invalid_value", fname,
                                    "Invalid value for '%s': '%.40s' (expected system, "
                                    "developer, user or assistant).", fname, ro);
                has_role = true;
            } else if (!strcmp(f->string, "content")) {
                if (r->msgs[i].text)
                    return api_fail(e, 400, "invalid_value", fname, "'%s' given twice.", fname);
                if (get_content(f, fname, &r->msgs[i].text, e))
                    return -1;
                has_content = true;
            } else if (!strcmp(f->string, "name")) {
                if (!cJSON_IsString(f))
                    return bad_type(e, fname, f, "a string");
            } else {
                return api_fail(e, 400, "unknown_parameter", fname,
                                "Unrecognized request argument supplied: %s", fname);
            }
        }
        if (!has_role || !has_content)
            return api_fail(e, 400, "missing_parameter", name,
                            "'%s' needs a 'role' and a 'content'.", name);
    }
    if (r->msgs[n - 1].role != API_USER)
        return api_fail(e, 400, "invalid_value", "messages",
                        "The last message must be the user's: the model answers it.");
    return 0;
}

static int parse_stop(const cJSON *v, api_req *r, api_error *e)
{
    if (cJSON_IsNull(v))
        return 0;
    const cJSON *one[1] = {v};
    size_t n = 1;
    if (cJSON_IsArray(v)) {
        n = (size_t)cJSON_GetArraySize(v);
        if (n > API_MAX_STOP)
            return api_fail(e, 400, "invalid_value", "stop",
                            "'stop' holds at most %d sequences.", API_MAX_STOP);
    } else if (!cJSON_IsString(v)) {
        return bad_type(e, "stop", v, "a string or an array of strings");
    }
    for (size_t i = 0; i < n; i++) {
        const cJSON *s = cJSON_IsArray(v) ? cJSON_GetArrayItem(v, (int)i) : one[0];
        if (!cJSON_IsString(s))
            return bad_type(e, "stop", s, "a string");
        if (!s->valuestring[0] || strlen(s->valuestring) > 256)
            return api_fail(e, 400, "invalid_value", "stop",
                            "A stop sequence has 1 to 256 bytes.");
        if (dup_text(s, "stop", &r->stop[r->n_stop], e))
            return -1;
        r->n_stop++;
    }
    return 0;
}

int api_parse(const lm_serve_opts *o, bool chat, const char *body, size_t len, api_req *r,
              api_error *e)
{
    memset(r, 0, sizeof *r);
    r->chat = chat;
    r->n = 1;
    r->max_tokens = chat ? o->default_tokens : 16;
    r->temperature = 1.0;
    r->top_p = 1.0;
    r->repetition_penalty = 1.0;
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(body, len, &end, 0);
    int rc = -1;
    if (!j) {
        size_t at = end && end >= body ? (size_t)(end - body) : 0;
        api_fail(e, 400, "invalid_json", NULL,
                 "We could not parse the JSON body of your request (at byte %zu).", at);
        goto out;
    }
    while (end && end < body + len && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t'))
        end++;
    if (end && end < body + len) {
        api_fail(e, 400, "invalid_json", NULL,
                 "We could not parse the JSON body of your request (text after the value at "
                 "byte %zu).", (size_t)(end - body));
        goto out;
    }
    if (!cJSON_IsObject(j)) {
        bad_type(e, "body", j, "an object");
        goto out;
    }
    const char *required = chat ? "messages" : "prompt";
    bool has_required = false;
    const cJSON *f;
    cJSON_ArrayForEach(f, j)
    {
        const char *k = f->string;
        for (const cJSON *g = j->child; g != f; g = g->next)
            if (!strcmp(g->string, k)) {
                api_fail(e, 400, "invalid_json", k, "'%s' given twice.", k);
                goto out;
            }
        double x;
        if (cJSON_IsNull(f) && strcmp(k, required))
            continue; /* null = absent, as OpenAI reads it */
        if (!strcmp(k, "model")) {
            if (!cJSON_IsString(f)) {
                bad_type(e, k, f, "a string");
                goto out;
            }
            if (strcmp(f->valuestring, o->model_name)) {
                api_fail(e, 404, "model_not_found", "model",
                         "The model '%.64s' does not exist; this server has '%s'.",
                         f->valuestring, o->model_name);
                goto out;
            }
        } else if (chat && !strcmp(k, "messages")) {
            if (parse_messages(f, r, e))
                goto out;
            has_required = true;
        } else if (!chat && !strcmp(k, "prompt")) {
            const cJSON *p = f;
            if (cJSON_IsArray(f) && cJSON_GetArraySize(f) == 1)
                p = cJSON_GetArrayItem(f, 0);
            if (!cJSON_IsString(p)) {
                bad_type(e, k, f, "a string (or an array of one string)");
                goto out;
            }
            if (dup_text(p, k, &r->prompt, e))
                goto out;
            has_required = true;
        } else if (!strcmp(k, "max_tokens") || !strcmp(k, "max_completion_tokens")) {
            if (get_int(f, k, 1, 1e15, &x, e))
                goto out;
            if (x > (double)o->max_tokens) {
                api_fail(e, 400, "invalid_value", k,
                         "'%s' is %.0f; this server allows at most %zu (--max-tokens).", k, x,
                         o->max_tokens);
                goto out;
            }
            r->max_tokens = (size_t)x;
        } else if (!strcmp(k, "temperature")) {
            if (get_number(f, k, 0, 2, &r->temperature, e))
                goto out;
        } else if (!strcmp(k, "top_p")) {
            if (get_number(f, k, 0, 1, &r->top_p, e))
                goto out;
            if (r->top_p <= 0) {
                api_fail(e, 400, "invalid_value", k, "'top_p' must be above 0.");
                goto out;
            }
        } else if (!strcmp(k, "presence_penalty")) {
            if (get_number(f, k, -2, 2, &r->presence_penalty, e))
                goto out;
        } else if (!strcmp(k, "repetition_penalty")) {
            if (get_number(f, k, 0, 100, &r->repetition_penalty, e))
                goto out;
            if (r->repetition_penalty <= 0) {
                api_fail(e, 400, "invalid_value", k, "'repetition_penalty' must be above 0.");
                goto out;
            }
        } else if (!strcmp(k, "top_k")) {
            if (get_int(f, k, 0, 1e9, &x, e))
                goto out;
            r->top_k = (size_t)x;
        } else if (!strcmp(k, "seed")) {
            /* Integers a double holds exactly; negative seeds are taken modulo 2^64. */
            if (get_int(f, k, -9007199254740992.0, 9007199254740992.0, &x, e))
                goto out;
            r->has_seed = true;
            r->seed = x < 0 ? (uint64_t)(int64_t)x : (uint64_t)x;
        } else if (!strcmp(k, "stop")) {
            if (parse_stop(f, r, e))
                goto out;
        } else if (!strcmp(k, "n")) {
            if (get_int(f, k, 1, (double)o->max_n, &x, e))
                goto out;
            r->n = (size_t)x;
        } else if (!strcmp(k, "stream") || !strcmp(k, "ignore_eos")) {
            if (!cJSON_IsBool(f)) {
                bad_type(e, k, f, "a boolean");
                goto out;
            }
            *(k[0] == 's' ? &r->stream : &r->ignore_eos) = cJSON_IsTrue(f);
        } else if (!strcmp(k, "stream_options")) {
            if (!cJSON_IsObject(f)) {
                bad_type(e, k, f, "an object");
                goto out;
            }
            const cJSON *u;
            cJSON_ArrayForEach(u, f)
            {
                if (strcmp(u->string, "include_usage")) {
                    api_fail(e, 400, "unknown_parameter", "stream_options",
                             "Unrecognized request argument supplied: stream_options.%s",
                             u->string);
                    goto out;
                }
                if (!cJSON_IsBool(u)) {
                    bad_type(e, "stream_options.include_usage", u, "a boolean");
                    goto out;
                }
                r->include_usage = cJSON_IsTrue(u);
            }
        } else if (chat && !strcmp(k, "session")) {
            if (!cJSON_IsString(f)) {
                bad_type(e, k, f, "a string");
                goto out;
            }
            if (!sess_name_valid(f->valuestring)) {
                api_fail(e, 400, "invalid_value", k,
                         "A session name has 1 to %d characters of A-Z a-z 0-9 _ . - and does "
                         "not start with '.'.", API_SESSION_MAX);
                goto out;
            }
            snprintf(r->session, sizeof r->session, "%s", f->valuestring);
        } else if (!strcmp(k, "user")) {
            if (!cJSON_IsString(f)) {
                bad_type(e, k, f, "a string");
                goto out;
            }
        } else {
            api_fail(e, 400, "unknown_parameter", k, "Unrecognized request argument supplied: %s",
                     k);
            goto out;
        }
    }
    if (!has_required) {
        api_fail(e, 400, "missing_parameter", required, "Missing required parameter: '%s'.",
                 required);
        goto out;
    }
    if (r->include_usage && !r->stream) {
        api_fail(e, 400, "invalid_value", "stream_options",
                 "'stream_options' is only allowed with 'stream': true.");
        goto out;
    }
    if (r->session[0] && r->n > 1) {
        api_fail(e, 400, "invalid_value", "n",
                 "'n' must be 1 with a session: a session keeps one conversation.");
        goto out;
    }
    rc = 0;
out:
    cJSON_Delete(j);
    if (rc)
        api_req_free(r);
    return rc;
}

/* ---- generation -------------------------------------------------------------------------- */

double api_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* One reply being produced: the text so far, what has been streamed, the stop sequences. */
typedef struct gen {
    const api_req *r;
    const api_sink *sink;
    const char *id, *object;
    long created;
    const char *model;
    size_t choice;
    char *text;
    size_t len, cap, sent;
    size_t tokens;
    bool stopped;         /* a stop sequence matched */
    volatile int stop;    /* passed to lm_chat_reply */
    bool oom;
} gen;

static bool append(gen *g, const char *s, size_t n)
{
    if (g->len + n + 1 > g->cap) {
        size_t cap = 2 * (g->len + n + 1);
        char *t = realloc(g->text, cap);
        if (!t)
            return false;
        g->text = t;
        g->cap = cap;
    }
    memcpy(g->text + g->len, s, n);
    g->len += n;
    g->text[g->len] = '\0';
    return true;
}

/* "data: {...}\n\n" to the sink. */
static void send_event(const api_sink *sink, cJSON *j)
{
    char *s = cJSON_PrintUnformatted(j);
    if (!s)
        return;
    sink->write(sink->ud, "data: ", 6);
    sink->write(sink->ud, s, strlen(s));
    sink->write(sink->ud, "\n\n", 2);
    free(s);
}

static const char *fingerprint(void)
{
    static char buf[48];
    if (!buf[0])
        snprintf(buf, sizeof buf, "lstmlm-%s", lm_version_string());
    return buf;
}

static cJSON *chunk_head(const gen *g)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", g->id);
    cJSON_AddStringToObject(j, "object", g->object);
    cJSON_AddNumberToObject(j, "created", (double)g->created);
    cJSON_AddStringToObject(j, "model", g->model);
    cJSON_AddStringToObject(j, "system_fingerprint", fingerprint());
    return j;
}

/* A chunk carrying text (may be NULL) and a finish reason (NULL while going). */
static void send_chunk(const gen *g, const char *text, size_t n, bool role, const char *finish)
{
    cJSON *j = chunk_head(g), *cs = cJSON_AddArrayToObject(j, "choices"), *c = cJSON_CreateObject();
    cJSON_AddItemToArray(cs, c);
    cJSON_AddNumberToObject(c, "index", (double)g->choice);
    char *t = NULL;
    if (text && (t = malloc(n + 1))) {
        memcpy(t, text, n);
        t[n] = '\0';
    }
    if (g->r->chat) {
        cJSON *d = cJSON_AddObjectToObject(c, "delta");
        if (role)
            cJSON_AddStringToObject(d, "role", "assistant");
        if (t || role)
            cJSON_AddStringToObject(d, "content", t ? t : "");
    } else {
        cJSON_AddStringToObject(c, "text", t ? t : "");
    }
    cJSON_AddNullToObject(c, "logprobs");
    if (finish)
        cJSON_AddStringToObject(c, "finish_reason", finish);
    else
        cJSON_AddNullToObject(c, "finish_reason");
    free(t);
    send_event(g->sink, j);
    cJSON_Delete(j);
}

/* Bytes at the end of the text that could begin a stop sequence: held back from the stream. */
static size_t held_back(const gen *g)
{
    size_t keep = 0;
    for (size_t i = 0; i < g->r->n_stop; i++) {
        const char *s = g->r->stop[i];
        size_t sl = strlen(s);
        for (size_t k = sl - 1; k > keep; k--)
            if (k <= g->len && !memcmp(g->text + g->len - k, s, k)) {
                keep = k;
                break;
            }
    }
    return keep;
}

bool api_sink_cancelled(const api_sink *s)
{
    return (s->cancel && *s->cancel) || (s->shutdown && *s->shutdown) ||
           (s->deadline > 0 && api_now() > s->deadline);
}

static void on_piece(void *ud, const char *piece)
{
    gen *g = ud;
    g->tokens++;
    if (g->stopped)
        return;
    size_t from = g->len;
    if (!append(g, piece, strlen(piece))) {
        g->oom = true;
        g->stop = 1;
        return;
    }
    /* The earliest stop sequence that ends in the new text. */
    size_t cut = (size_t)-1;
    for (size_t i = 0; i < g->r->n_stop; i++) {
        size_t sl = strlen(g->r->stop[i]);
        size_t start = from >= sl ? from - sl + 1 : 0;
        const char *hit = strstr(g->text + start, g->r->stop[i]);
        if (hit && (size_t)(hit - g->text) < cut)
            cut = (size_t)(hit - g->text);
    }
    if (cut != (size_t)-1) {
        g->len = cut;
        g->text[cut] = '\0';
        g->stopped = true;
        g->stop = 1;
    }
    if (g->r->stream) {
        size_t upto = g->stopped ? g->len : g->len - held_back(g);
        if (upto > g->sent) {
            send_chunk(g, g->text + g->sent, upto - g->sent, false, NULL);
            g->sent = upto;
        }
    }
    if (api_sink_cancelled(g->sink))
        g->stop = 1;
}

static int lm_err(api_error *e, const lm_error *err)
{
    return api_fail(e, err->code == LM_EINVAL ? 400 : 500,
                    err->code == LM_EINVAL ? "invalid_value" : "server_error", NULL, "%s",
                    err->msg[0] ? err->msg : lm_strerror(err->code));
}

static int set_num(lm_chat *c, const char *name, double v, api_error *e)
{
    char buf[64];
    snprintf(buf, sizeof buf, "%.17g", v);
    lm_error err = {0};
    return lm_chat_set(c, name, buf, &err) ? lm_err(e, &err) : 0;
}

/* The request's settings on the chat: what the request says, else the server's defaults, so a
 * session carries no setting from one request to the next. */
static int apply_settings(srv *sv, lm_chat *c, const api_req *r, bool fresh, api_error *e)
{
    if (set_num(c, "temperature", r->temperature, e) || set_num(c, "top-p", r->top_p, e) ||
        set_num(c, "top-k", (double)r->top_k, e) ||
        set_num(c, "presence-penalty", r->presence_penalty, e) ||
        set_num(c, "repetition-penalty", r->repetition_penalty, e) ||
        set_num(c, "tokens", (double)r->max_tokens, e))
        return -1;
    /* A seed starts the sampling stream of a new conversation (without one, a seed is drawn
     * from the server's stream). A session's stream runs on across its turns, as in lstmlm
     * chat --seed, through evictions and restarts (its state file holds the stream), so the
     * seed of a later turn is not used. */
    if (fresh) {
        char buf[32];
        snprintf(buf, sizeof buf, "%llu",
                 (unsigned long long)(r->has_seed ? r->seed : srv_next_seed(sv)));
        lm_error err = {0};
        if (lm_chat_set(c, "seed", buf, &err))
            return lm_err(e, &err);
    }
    lm_error err = {0};
    if (lm_chat_set(c, r->ignore_eos ? "ban" : "unban", "<eot>", &err) && r->ignore_eos)
        return lm_err(e, &err);
    return 0;
}

/* A message as one turn: its lines joined with spaces (a turn is one line). */
static char *one_line(const char *s)
{
    char *t = strdup(s);
    if (t)
        for (char *p = t; *p; p++)
            if (*p == '\n' || *p == '\r')
                *p = ' ';
    return t;
}

static int feed_messages(lm_chat *c, const api_req *r, bool fresh, api_error *e)
{
    lm_error err = {0};
    bool opening = fresh;
    for (size_t i = 0; i < r->n_msgs; i++) {
        const api_msg *m = &r->msgs[i];
        int rc;
        if (m->role == API_SYSTEM && opening) {
            /* Opening text as lstmlm chat --system feeds it: each line a turn. */
            rc = lm_chat_prime(c, m->text, &err);
        } else {
            opening = false;
            char *line = one_line(m->text);
            if (!line)
                return api_fail(e, 500, "server_error", NULL, "out of memory");
            rc = lm_chat_user(c, line, &err);
            free(line);
        }
        if (rc)
            return lm_err(e, &err);
    }
    return 0;
}

static size_t position(const lm_chat *c)
{
    lm_chat_stats st;
    lm_chat_get_stats(c, &st);
    return st.position;
}

static const char *finish_of(const gen *g, size_t max_tokens)
{
    return g->stopped || g->tokens < max_tokens ? "stop" : "length";
}

static void add_usage(cJSON *j, size_t prompt, size_t completion)
{
    cJSON *u = cJSON_AddObjectToObject(j, "usage");
    cJSON_AddNumberToObject(u, "prompt_tokens", (double)prompt);
    cJSON_AddNumberToObject(u, "completion_tokens", (double)completion);
    cJSON_AddNumberToObject(u, "total_tokens", (double)(prompt + completion));
}

/* A completion: the prompt continued (as lstmlm generate --stop-at-eot continues it) until
 * <eot> or max_tokens, with a fresh state. */
static int complete(srv *sv, const lm_model *m, const api_req *r, gen *g, lm_rng *rng,
                    size_t *prompt_tokens, api_error *e)
{
    const lm_vocab *v = lm_model_vocab(m);
    size_t V = lm_vocab_size(v);
    lm_text_opts t;
    lm_model_text_opts(m, &t);
    lm_error err = {0};
    lm_state *s = NULL;
    float *logits = malloc(V * sizeof *logits);
    int32_t *scratch = malloc(2 * V * sizeof *scratch), *ids = NULL, *hist = NULL;
    size_t n_ids = 0, n_hist = 0;
    int rc = -1;
    (void)sv;
    if (!logits || !scratch) {
        api_fail(e, 500, "server_error", NULL, "out of memory");
        goto out;
    }
    if (lm_state_create(m, &s, &err) || lm_text_to_ids(r->prompt, &t, v, 1, &ids, &n_ids, &err)) {
        lm_err(e, &err);
        goto out;
    }
    size_t pl = strlen(r->prompt);
    if (n_ids && ids[n_ids - 1] == LM_TOK_EOT && pl && r->prompt[pl - 1] != '\n')
        n_ids--; /* the last line is continued, not closed */
    *prompt_tokens = n_ids;
    if (!(hist = malloc((n_ids + r->max_tokens + 1) * sizeof *hist))) {
        api_fail(e, 500, "server_error", NULL, "out of memory");
        goto out;
    }
    if (lm_step(m, s, LM_TOK_EOT, logits, &err)) {
        lm_err(e, &err);
        goto out;
    }
    for (size_t i = 0; i < n_ids; i++) {
        hist[n_hist++] = ids[i];
        if (lm_step(m, s, ids[i], logits, &err)) {
            lm_err(e, &err);
            goto out;
        }
    }
    lm_sampler_opts so;
    lm_sampler_opts_init(&so);
    so.temperature = r->temperature;
    so.top_p = r->top_p;
    so.top_k = r->top_k;
    so.presence_penalty = r->presence_penalty;
    so.repetition_penalty = r->repetition_penalty;
    int32_t eot = LM_TOK_EOT;
    if (r->ignore_eos) {
        so.banned = &eot;
        so.n_banned = 1;
    }
    const char *prev = NULL;
    for (size_t i = 0; i < r->max_tokens && !g->stop; i++) {
        int32_t tok = lm_sample(&so, logits, V, hist, n_hist, rng, scratch);
        if (tok < 0) {
            api_fail(e, 500, "server_error", NULL, "sampling failed");
            goto out;
        }
        hist[n_hist++] = tok;
        if (tok == LM_TOK_EOT || tok == LM_TOK_EOC)
            break;
        const char *w = lm_vocab_token(v, tok);
        char piece[1100];
        on_piece(g, lm_detok_piece(t.tokenize, prev, w, piece, sizeof piece));
        prev = w;
        if (i + 1 < r->max_tokens && lm_step(m, s, tok, logits, &err)) {
            lm_err(e, &err);
            goto out;
        }
    }
    rc = 0;
out:
    lm_state_free(s);
    free(logits);
    free(scratch);
    free(ids);
    free(hist);
    return rc;
}

int api_run(srv *sv, const lm_model *m, const api_req *r, lm_chat *chat, bool fresh,
            const api_sink *sink, api_result *res, api_error *e)
{
    static unsigned long counter;
    char id[64];
    snprintf(id, sizeof id, "%s-%lx%04lx", r->chat ? "chatcmpl" : "cmpl", (unsigned long)time(NULL),
             __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED) & 0xffff);
    gen g = {.r = r, .sink = sink, .id = id, .created = (long)time(NULL),
             .object = r->chat ? (r->stream ? "chat.completion.chunk" : "chat.completion")
                               : "text_completion",
             .model = srv_model_name(sv)};
    lm_chat *own = NULL;
    lm_error err = {0};
    cJSON *out = NULL, *choices = NULL;
    int rc = -1;
    double t0 = api_now();
    size_t prompt_tokens = 0, completion_tokens = 0;
    if (r->chat && !chat) {
        if (lm_chat_create(m, srv_chat_defaults(sv), &own, &err)) {
            lm_err(e, &err);
            goto out;
        }
        chat = own;
        fresh = true;
    }
    if (r->chat) {
        size_t p0 = position(chat);
        if (apply_settings(sv, chat, r, fresh, e) || feed_messages(chat, r, fresh, e))
            goto out;
        /* Each feed steps the token before it (the last <eot> is stepped by the reply), so the
         * change of position is the number of new tokens. */
        prompt_tokens = position(chat) - p0;
    }
    if (!r->stream) {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "id", id);
        cJSON_AddStringToObject(out, "object", g.object);
        cJSON_AddNumberToObject(out, "created", (double)g.created);
        cJSON_AddStringToObject(out, "model", g.model);
        cJSON_AddStringToObject(out, "system_fingerprint", fingerprint());
        choices = cJSON_AddArrayToObject(out, "choices");
    }
    lm_rng rng = {0};
    if (!r->chat)
        lm_rng_seed(&rng, r->has_seed ? r->seed : srv_next_seed(sv));
    for (size_t k = 0; k < r->n; k++) {
        g.choice = k;
        g.len = g.sent = g.tokens = 0;
        g.stopped = false;
        g.stop = api_sink_cancelled(sink);
        if (g.text)
            g.text[0] = '\0';
        if (r->stream && r->chat)
            send_chunk(&g, NULL, 0, true, NULL);
        if (r->chat) {
            int x = k == 0 ? lm_chat_reply(chat, on_piece, &g, &g.stop, &err)
                           : lm_chat_retry(chat, on_piece, &g, &g.stop, &err);
            if (x && x != LM_EINTR) {
                lm_err(e, &err);
                goto out;
            }
        } else {
            size_t pt = 0;
            if (complete(sv, m, r, &g, &rng, &pt, e))
                goto out;
            prompt_tokens = pt;
        }
        if (g.oom) {
            api_fail(e, 500, "server_error", NULL, "out of memory");
            goto out;
        }
        completion_tokens += g.tokens;
        const char *fin = finish_of(&g, r->max_tokens);
        if (r->stream) {
            if (g.len > g.sent)
                send_chunk(&g, g.text + g.sent, g.len - g.sent, false, NULL);
            send_chunk(&g, NULL, 0, false, fin);
        } else {
            cJSON *c = cJSON_CreateObject();
            cJSON_AddItemToArray(choices, c);
            cJSON_AddNumberToObject(c, "index", (double)k);
            if (r->chat) {
                cJSON *msg = cJSON_AddObjectToObject(c, "message");
                cJSON_AddStringToObject(msg, "role", "assistant");
                cJSON_AddStringToObject(msg, "content", g.text ? g.text : "");
            } else {
                cJSON_AddStringToObject(c, "text", g.text ? g.text : "");
            }
            cJSON_AddNullToObject(c, "logprobs");
            cJSON_AddStringToObject(c, "finish_reason", fin);
        }
    }
    if (r->stream) {
        if (r->include_usage) {
            cJSON *j = chunk_head(&g);
            cJSON_AddArrayToObject(j, "choices");
            add_usage(j, prompt_tokens, completion_tokens);
            send_event(sink, j);
            cJSON_Delete(j);
        }
        sink->write(sink->ud, "data: [DONE]\n\n", 14);
    } else {
        add_usage(out, prompt_tokens, completion_tokens);
        if (r->session[0])
            cJSON_AddStringToObject(out, "session", r->session);
        if (!(res->body = cJSON_PrintUnformatted(out))) {
            api_fail(e, 500, "server_error", NULL, "out of memory");
            goto out;
        }
    }
    rc = 0;
out:
    res->prompt_tokens = prompt_tokens;
    res->completion_tokens = completion_tokens;
    res->seconds = api_now() - t0;
    cJSON_Delete(out);
    lm_chat_free(own);
    free(g.text);
    return rc;
}
