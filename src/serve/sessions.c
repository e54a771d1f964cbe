/* sessions.c - the server's conversations: one lm_chat per named session, held in memory in
 * least-recently-used order. Beyond the limit the oldest idle session is evicted: saved as a
 * state file DIR/NAME.h5 (lm_chat_save) when there is a folder, else forgotten, its name kept
 * in a bounded list so that a client continuing it gets 404 instead of a conversation that
 * silently starts over. A request holds its session alone (a second one gets 409), so no two
 * threads ever touch one chat. Every lookup, load and save runs under the store's lock: state
 * files are small (kilobytes for recurrent models) and HDF5 wants one caller at a time. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#include "serve.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct sess {
    char name[API_SESSION_MAX + 1];
    lm_chat *chat;
    bool busy;
    bool fresh;         /* made by the request holding it */
    size_t state_bytes; /* at the last release */
    sess *prev, *next;  /* prev: more recently used */
};

struct sess_store {
    pthread_mutex_t mu;
    const lm_model *m;
    lm_chat_opts defaults;
    size_t max;
    char *dir;
    sess *head, *tail; /* most and least recently used */
    size_t count;
    char (*gone)[API_SESSION_MAX + 1]; /* names evicted without a folder, a ring */
    size_t n_gone, cap_gone, next_gone;
    sess_counts counts;
};

bool sess_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > API_SESSION_MAX || name[0] == '.')
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = name[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.'))
            return false;
    }
    return true;
}

int sess_store_create(const lm_model *m, const lm_chat_opts *defaults, size_t max,
                      const char *dir, sess_store **out)
{
    sess_store *st = calloc(1, sizeof *st);
    if (!st)
        return -1;
    pthread_mutex_init(&st->mu, NULL);
    st->m = m;
    st->defaults = *defaults;
    st->max = max ? max : 1;
    st->cap_gone = 4 * st->max < 1024 ? 1024 : 4 * st->max;
    if ((dir && !(st->dir = strdup(dir))) || !(st->gone = calloc(st->cap_gone, sizeof *st->gone))) {
        sess_store_free(st);
        return -1;
    }
    *out = st;
    return 0;
}

static void path_of(const sess_store *st, const char *name, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s/%s.h5", st->dir, name);
}

static void unlink_sess(sess_store *st, sess *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        st->head = s->next;
    if (s->next)
        s->next->prev = s->prev;
    else
        st->tail = s->prev;
    s->prev = s->next = NULL;
    st->count--;
}

static void push_front(sess_store *st, sess *s)
{
    s->prev = NULL;
    s->next = st->head;
    if (st->head)
        st->head->prev = s;
    st->head = s;
    if (!st->tail)
        st->tail = s;
    st->count++;
}

static sess *find(sess_store *st, const char *name)
{
    for (sess *s = st->head; s; s = s->next)
        if (!strcmp(s->name, name))
            return s;
    return NULL;
}

static long gone_index(const sess_store *st, const char *name)
{
    for (size_t i = 0; i < st->n_gone; i++)
        if (!strcmp(st->gone[i], name))
            return (long)i;
    return -1;
}

static void forget_gone(sess_store *st, const char *name)
{
    long i = gone_index(st, name);
    if (i >= 0)
        st->gone[i][0] = '\0';
}

/* Saves s when there is a folder. Called with the lock held. */
static int save_locked(sess_store *st, sess *s)
{
    if (!st->dir)
        return 0;
    char path[4096];
    path_of(st, s->name, path, sizeof path);
    lm_error err = {0};
    if (lm_chat_save(s->chat, path, &err)) {
        fprintf(stderr, "lstmlm serve: session %s: %s\n", s->name, err.msg);
        return -1;
    }
    st->counts.saved++;
    return 0;
}

static void free_sess(sess *s)
{
    if (s) {
        lm_chat_free(s->chat);
        free(s);
    }
}

/* Evicts idle sessions from the old end while more than the limit are held. */
static void evict_locked(sess_store *st, size_t limit)
{
    sess *s = st->tail;
    while (st->count > limit && s) {
        sess *prev = s->prev;
        if (!s->busy) {
            if (st->dir) {
                save_locked(st, s);
            } else {
                snprintf(st->gone[st->next_gone], sizeof st->gone[0], "%s", s->name);
                st->next_gone = (st->next_gone + 1) % st->cap_gone;
                if (st->n_gone < st->cap_gone)
                    st->n_gone++;
            }
            unlink_sess(st, s);
            free_sess(s);
            st->counts.evicted++;
        }
        s = prev;
    }
}

int sess_acquire(sess_store *st, const char *name, bool create, sess **out, lm_chat **chat,
                 bool *fresh, api_error *e)
{
    int rc = -1;
    lm_error err = {0};
    pthread_mutex_lock(&st->mu);
    sess *s = find(st, name);
    if (s) {
        if (s->busy) {
            api_fail(e, 409, "session_busy", "session",
                     "session '%s' is answering another request; send one turn at a time", name);
            goto out;
        }
        unlink_sess(st, s);
        push_front(st, s);
        s->busy = true;
        s->fresh = false;
        *out = s;
        *chat = s->chat;
        *fresh = false;
        rc = 0;
        goto out;
    }
    char path[4096] = "";
    bool on_disk = false;
    if (st->dir) {
        path_of(st, name, path, sizeof path);
        on_disk = access(path, F_OK) == 0;
    }
    if (!on_disk && gone_index(st, name) >= 0) {
        api_fail(e, 404, "session_expired", "session",
                 "session '%s' was evicted (more than --max-sessions) and there is no session "
                 "folder; send the whole conversation under a new session name", name);
        goto out;
    }
    if (!on_disk && !create) {
        api_fail(e, 404, "session_not_found", "session", "no session '%s'", name);
        goto out;
    }
    evict_locked(st, st->max > 0 ? st->max - 1 : 0);
    if (!(s = calloc(1, sizeof *s)) || lm_chat_create(st->m, &st->defaults, &s->chat, &err)) {
        free_sess(s);
        api_fail(e, 500, "server_error", NULL, "cannot make a chat: %s",
                 err.msg[0] ? err.msg : "out of memory");
        goto out;
    }
    if (on_disk) {
        if (lm_chat_load(s->chat, path, &err)) {
            free_sess(s);
            api_fail(e, 500, "session_unreadable", "session", "session '%s': %s", name, err.msg);
            goto out;
        }
        st->counts.loaded++;
    } else {
        st->counts.created++;
    }
    snprintf(s->name, sizeof s->name, "%s", name);
    s->busy = true;
    s->fresh = !on_disk;
    lm_chat_stats cs;
    lm_chat_get_stats(s->chat, &cs);
    s->state_bytes = cs.state_bytes;
    push_front(st, s);
    *out = s;
    *chat = s->chat;
    *fresh = !on_disk;
    rc = 0;
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void sess_release(sess_store *st, sess *s, bool ok)
{
    pthread_mutex_lock(&st->mu);
    s->busy = false;
    if (!ok && s->fresh) {
        unlink_sess(st, s);
        free_sess(s);
    } else {
        lm_chat_stats cs;
        lm_chat_get_stats(s->chat, &cs);
        s->state_bytes = cs.state_bytes;
    }
    evict_locked(st, st->max);
    pthread_mutex_unlock(&st->mu);
}

size_t sess_store_save_all(sess_store *st)
{
    size_t failed = 0;
    pthread_mutex_lock(&st->mu);
    for (sess *s = st->head; s; s = s->next)
        if (!s->busy && save_locked(st, s))
            failed++;
    pthread_mutex_unlock(&st->mu);
    return failed;
}

void sess_store_free(sess_store *st)
{
    if (!st)
        return;
    for (sess *s = st->head, *n; s; s = n) {
        n = s->next;
        free_sess(s);
    }
    pthread_mutex_destroy(&st->mu);
    free(st->dir);
    free(st->gone);
    free(st);
}

char *sess_info_json(sess_store *st, const char *name, api_error *e)
{
    char *out = NULL;
    lm_chat *tmp = NULL;
    lm_error err = {0};
    pthread_mutex_lock(&st->mu);
    sess *s = find(st, name);
    lm_chat_stats cs = {0};
    bool in_memory = s != NULL;
    if (s && s->busy) {
        api_fail(e, 409, "session_busy", "session", "session '%s' is answering a request", name);
        goto out;
    }
    if (s) {
        lm_chat_get_stats(s->chat, &cs);
    } else {
        char path[4096];
        if (!st->dir || (path_of(st, name, path, sizeof path), access(path, F_OK) != 0)) {
            api_fail(e, 404, "session_not_found", "session", "no session '%s'", name);
            goto out;
        }
        if (lm_chat_create(st->m, &st->defaults, &tmp, &err) ||
            lm_chat_load(tmp, path, &err)) {
            api_fail(e, 500, "session_unreadable", "session", "session '%s': %s", name,
                     err.msg);
            goto out;
        }
        lm_chat_get_stats(tmp, &cs);
    }
    cJSON *j = cJSON_CreateObject();
    cJSON_AddStringToObject(j, "id", name);
    cJSON_AddStringToObject(j, "object", "session");
    cJSON_AddNumberToObject(j, "turns", (double)cs.turns);
    cJSON_AddNumberToObject(j, "position", (double)cs.position);
    cJSON_AddNumberToObject(j, "state_bytes", (double)cs.state_bytes);
    cJSON_AddBoolToObject(j, "in_memory", in_memory);
    out = cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (!out)
        api_fail(e, 500, "server_error", NULL, "out of memory");
out:
    pthread_mutex_unlock(&st->mu);
    lm_chat_free(tmp);
    return out;
}

int sess_delete(sess_store *st, const char *name, api_error *e)
{
    int rc = -1;
    pthread_mutex_lock(&st->mu);
    sess *s = find(st, name);
    if (s && s->busy) {
        api_fail(e, 409, "session_busy", "session", "session '%s' is answering a request", name);
        goto out;
    }
    bool found = false;
    if (s) {
        unlink_sess(st, s);
        free_sess(s);
        found = true;
    }
    if (st->dir) {
        char path[4096];
        path_of(st, name, path, sizeof path);
        if (unlink(path) == 0)
            found = true;
    }
    if (gone_index(st, name) >= 0) {
        forget_gone(st, name);
        found = true;
    }
    if (!found) {
        api_fail(e, 404, "session_not_found", "session", "no session '%s'", name);
        goto out;
    }
    rc = 0;
out:
    pthread_mutex_unlock(&st->mu);
    return rc;
}

void sess_get_counts(sess_store *st, sess_counts *c)
{
    pthread_mutex_lock(&st->mu);
    *c = st->counts;
    c->open = st->count;
    c->state_bytes = 0;
    for (sess *s = st->head; s; s = s->next)
        c->state_bytes += s->state_bytes;
    pthread_mutex_unlock(&st->mu);
}
