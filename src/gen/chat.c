/* chat.c - a conversation with a model: turns fed in the corpus format (<eoc> opens a
 * conversation, every turn ends with <eot>), replies sampled or beam-searched with the state
 * carried across turns, /retry, reset to the primed start, and save/load in HDF5.
 *
 * Invariant: every token of the conversation has been fed to the state except the last one,
 * `pending` (<eoc> after a reset, else the <eot> closing the latest turn). A reply feeds
 * `pending` to get the next-token logits, so a saved chat needs no logits to continue. */
#include "gen/gen.h"
#include "lm/lm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct lm_chat {
    const lm_model *m;
    lm_chat_opts o;
    size_t V;
    int32_t *banned; /* the user's banned ids; o.sampler.banned points here */
    size_t n_banned, cap_banned;
    int32_t *bans;   /* banned + <eoc> (+ <eot> for the first token of a reply) */
    lm_state *s, *before, *origin;
    int32_t pending, before_pending, origin_pending;
    int has_before;
    int32_t *hist; /* recent words (ids >= LM_N_SPECIAL) for the penalties */
    size_t n_hist, cap_hist, hist_mark;
    int32_t *origin_hist;
    size_t n_origin_hist;
    lm_rng rng;
    float *logits;
    int32_t *scratch;
    char *reply;
    size_t reply_len, reply_cap;
    size_t turns;
};

void lm_chat_opts_init(lm_chat_opts *o)
{
    memset(o, 0, sizeof *o);
    lm_sampler_opts_init(&o->sampler);
    /* Dialogue defaults, chosen on held-out Cornell turns (bench/sampling.sh): plain sampling
     * (temperature 1) matches human replies' diversity but wanders off the prompt; these give
     * shorter, more readable replies. 60 tokens hold 98.6% of Cornell's turns. */
    o->sampler.temperature = 0.8;
    o->sampler.top_p = 0.9;
    o->sampler.repetition_penalty = 1.2;
    o->max_tokens = 60;
    o->beam = 0;
    o->length_alpha = 1.0;
    o->seed = 1;
    o->keep_history = 256;
}

static int check_opts(const lm_chat_opts *o, lm_error *err)
{
    int rc = lm_sampler_check(&o->sampler, err);
    if (rc)
        return rc;
    if (o->max_tokens == 0 || o->max_tokens > ((size_t)1 << 20))
        return lm_fail(err, LM_EINVAL, "reply length limit %zu out of range [1, 1048576]",
                       o->max_tokens);
    if (o->beam > 1024)
        return lm_fail(err, LM_EINVAL, "beam width %zu out of range [0, 1024]", o->beam);
    if (!(o->length_alpha >= 0) || !isfinite(o->length_alpha))
        return lm_fail(err, LM_EINVAL, "length alpha %g must be a finite value >= 0",
                       o->length_alpha);
    return LM_OK;
}

static int set_banned(lm_chat *c, const int32_t *ids, size_t n, lm_error *err)
{
    int self = ids == c->banned;
    if (n + 2 > c->cap_banned) {
        size_t cap = n + 2 > 2 * c->cap_banned ? n + 2 : 2 * c->cap_banned;
        int32_t *b = realloc(c->banned, cap * sizeof *b), *w;
        if (b)
            c->banned = b;
        w = b ? realloc(c->bans, cap * sizeof *w) : NULL;
        if (!w)
            return lm_fail(err, LM_ENOMEM, "out of memory");
        c->bans = w;
        c->cap_banned = cap;
    }
    if (!self && n)
        memmove(c->banned, ids, n * sizeof *ids);
    c->n_banned = n;
    c->o.sampler.banned = c->banned;
    c->o.sampler.n_banned = n;
    return LM_OK;
}

int lm_chat_create(const lm_model *m, const lm_chat_opts *o, lm_chat **out, lm_error *err)
{
    int rc = check_opts(o, err);
    if (rc)
        return rc;
    lm_chat *c = calloc(1, sizeof *c);
    if (!c)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    c->m = m;
    c->o = *o;
    c->V = lm_vocab_size(lm_model_vocab(m));
    c->o.sampler.banned = NULL;
    c->o.sampler.n_banned = 0;
    if ((rc = set_banned(c, o->sampler.banned, o->sampler.n_banned, err)) ||
        (rc = lm_state_create(m, &c->s, err)) || (rc = lm_state_create(m, &c->before, err)) ||
        (rc = lm_state_create(m, &c->origin, err)))
        goto fail;
    c->logits = malloc(c->V * sizeof *c->logits);
    c->scratch = malloc(2 * c->V * sizeof *c->scratch);
    c->reply_cap = 256;
    c->reply = malloc(c->reply_cap);
    if (!c->logits || !c->scratch || !c->reply) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto fail;
    }
    c->reply[0] = '\0';
    lm_rng_seed(&c->rng, o->seed);
    lm_state_reset(c->origin);
    c->origin_pending = LM_TOK_EOC;
    if ((rc = lm_chat_reset(c, err)))
        goto fail;
    *out = c;
    return LM_OK;
fail:
    lm_chat_free(c);
    return rc;
}

void lm_chat_free(lm_chat *c)
{
    if (!c)
        return;
    lm_state_free(c->s);
    lm_state_free(c->before);
    lm_state_free(c->origin);
    free(c->banned);
    free(c->bans);
    free(c->hist);
    free(c->origin_hist);
    free(c->logits);
    free(c->scratch);
    free(c->reply);
    free(c);
}

const lm_chat_opts *lm_chat_opts_get(const lm_chat *c)
{
    return &c->o;
}

const lm_state *lm_chat_state(const lm_chat *c)
{
    return c->s;
}

const char *lm_chat_last_reply(const lm_chat *c)
{
    return c->reply;
}

void lm_chat_get_stats(const lm_chat *c, lm_chat_stats *st)
{
    st->turns = c->turns;
    st->position = lm_state_position(c->s);
    st->state_bytes = lm_state_bytes(c->s);
    st->history = c->n_hist;
}

/* ---- settings ---------------------------------------------------------------------------- */

int lm_chat_set(lm_chat *c, const char *name, const char *value, lm_error *err)
{
    if (!name)
        return lm_fail(err, LM_EINVAL, "no setting named");
    lm_chat_opts t = c->o;
    const char *v = value ? value : "";
    if (!strcmp(name, "ban") || !strcmp(name, "unban")) {
        int ban = name[0] == 'b';
        if (!ban && !strcmp(v, "all"))
            return set_banned(c, c->banned, 0, err);
        const lm_vocab *voc = lm_model_vocab(c->m);
        int32_t id = lm_vocab_lookup(voc, v, strlen(v));
        if (!*v || (id == LM_TOK_UNK && strcmp(v, lm_vocab_token(voc, LM_TOK_UNK))))
            return lm_fail(err, LM_EINVAL, "'%.64s' is not in the model's vocabulary", v);
        size_t n = 0;
        for (size_t i = 0; i < c->n_banned; i++)
            if (c->banned[i] != id)
                c->banned[n++] = c->banned[i];
        if (!ban)
            return set_banned(c, c->banned, n, err);
        int rc = set_banned(c, c->banned, n, err); /* makes room for one more */
        if (rc)
            return rc;
        c->banned[n] = id;
        return set_banned(c, c->banned, n + 1, err);
    }
    int ok = 1;
    if (!strcmp(name, "tokens")) {
        ok = lm_gen_parse_size(v, &t.max_tokens);
    } else if (!strcmp(name, "beam")) {
        ok = lm_gen_parse_size(v, &t.beam);
    } else if (!strcmp(name, "length-alpha")) {
        char *end;
        t.length_alpha = strtod(v, &end);
        ok = *v && !*end;
    } else if (!strcmp(name, "seed")) {
        size_t s = 0;
        ok = lm_gen_parse_size(v, &s);
        t.seed = s;
    } else {
        int rc = lm_sampler_set(&t.sampler, name, value, err);
        if (rc)
            return rc;
    }
    if (!ok)
        return lm_fail(err, LM_EINVAL, "bad value '%.64s' for %s", v, name);
    int rc = check_opts(&t, err);
    if (rc)
        return rc;
    if (!strcmp(name, "seed"))
        lm_rng_seed(&c->rng, t.seed);
    c->o = t;
    return LM_OK;
}

size_t lm_chat_describe(const lm_chat *c, char *buf, size_t cap)
{
    size_t n = lm_sampler_describe(&c->o.sampler, buf, cap);
    int k = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0,
                     " tokens=%zu beam=%zu length-alpha=%g seed=%llu ban=", c->o.max_tokens,
                     c->o.beam, c->o.length_alpha, (unsigned long long)c->o.seed);
    n += k > 0 ? (size_t)k : 0;
    const lm_vocab *voc = lm_model_vocab(c->m);
    for (size_t i = 0; i < c->n_banned; i++) {
        k = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "%s%s", i ? "," : "",
                     lm_vocab_token(voc, c->banned[i]));
        n += k > 0 ? (size_t)k : 0;
    }
    if (!c->n_banned) {
        k = snprintf(n < cap ? buf + n : NULL, n < cap ? cap - n : 0, "-");
        n += k > 0 ? (size_t)k : 0;
    }
    return n;
}

/* ---- feeding ----------------------------------------------------------------------------- */

static int hist_reserve(lm_chat *c, size_t extra, lm_error *err)
{
    if (c->n_hist + extra <= c->cap_hist)
        return LM_OK;
    size_t cap = c->n_hist + extra > 2 * c->cap_hist ? c->n_hist + extra : 2 * c->cap_hist;
    int32_t *h = realloc(c->hist, cap * sizeof *h);
    if (!h)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    c->hist = h;
    c->cap_hist = cap;
    return LM_OK;
}

/* Appends a word (specials are not kept). When the array holds more than twice what the
 * penalties can look at, the oldest words are dropped, so memory stays bounded however long
 * the conversation or a reply runs. */
static int hist_push(lm_chat *c, int32_t tok, lm_error *err)
{
    if (tok < LM_N_SPECIAL)
        return LM_OK;
    size_t keep = c->o.keep_history > c->o.sampler.penalty_window ? c->o.keep_history
                                                                    : c->o.sampler.penalty_window;
    if (c->n_hist >= 2 * keep + 64) {
        size_t d = c->n_hist - keep;
        memmove(c->hist, c->hist + d, keep * sizeof *c->hist);
        c->n_hist = keep;
        c->hist_mark = c->hist_mark > d ? c->hist_mark - d : 0;
    }
    int rc = hist_reserve(c, 1, err);
    if (rc)
        return rc;
    c->hist[c->n_hist++] = tok;
    return LM_OK;
}

/* Feeds pending then ids[0..n) except the last, which becomes pending. */
static int feed(lm_chat *c, const int32_t *ids, size_t n, lm_error *err)
{
    int rc;
    for (size_t i = 0; i < n; i++) {
        if ((rc = lm_step(c->m, c->s, c->pending, NULL, err)) || (rc = hist_push(c, ids[i], err)))
            return rc;
        c->pending = ids[i];
    }
    return LM_OK;
}

static lm_text_opts text_opts(const lm_chat *c)
{
    lm_text_opts t;
    lm_model_text_opts(c->m, &t);
    return t;
}

/* Tokenizes text (every line a turn ending with <eot> when lines_are_turns, else one turn
 * closed with <eot>) and feeds it. */
static int feed_text(lm_chat *c, const char *text, int lines_are_turns, lm_error *err)
{
    lm_text_opts t = text_opts(c);
    int32_t *ids = NULL;
    size_t n = 0;
    int rc = lm_text_to_ids(text, &t, lm_model_vocab(c->m), lines_are_turns, &ids, &n, err);
    if (rc)
        return rc;
    if (!lines_are_turns) {
        int32_t *all = realloc(ids, (n + 1) * sizeof *all);
        if (!all) {
            free(ids);
            return lm_fail(err, LM_ENOMEM, "out of memory");
        }
        ids = all;
        ids[n++] = LM_TOK_EOT;
    }
    c->has_before = 0;
    rc = feed(c, ids, n, err);
    free(ids);
    return rc;
}

int lm_chat_prime(lm_chat *c, const char *text, lm_error *err)
{
    int rc = feed_text(c, text, 1, err);
    if (rc)
        return rc;
    int32_t *oh = malloc((c->n_hist ? c->n_hist : 1) * sizeof *oh);
    if (!oh || (rc = lm_state_copy(c->origin, c->s, err))) {
        free(oh);
        return rc ? rc : lm_fail(err, LM_ENOMEM, "out of memory");
    }
    memcpy(oh, c->hist, c->n_hist * sizeof *oh);
    free(c->origin_hist);
    c->origin_hist = oh;
    c->n_origin_hist = c->n_hist;
    c->origin_pending = c->pending;
    return LM_OK;
}

int lm_chat_user(lm_chat *c, const char *line, lm_error *err)
{
    return feed_text(c, line, 0, err);
}

int lm_chat_reset(lm_chat *c, lm_error *err)
{
    int rc = lm_state_copy(c->s, c->origin, err);
    if (rc)
        return rc;
    if ((rc = hist_reserve(c, c->n_origin_hist, err)))
        return rc;
    c->n_hist = c->n_origin_hist;
    if (c->n_origin_hist)
        memcpy(c->hist, c->origin_hist, c->n_origin_hist * sizeof *c->hist);
    c->pending = c->origin_pending;
    c->has_before = 0;
    c->turns = 0;
    c->reply_len = 0;
    c->reply[0] = '\0';
    return LM_OK;
}

/* ---- replies ----------------------------------------------------------------------------- */

/* Appends a token's display text to the reply and passes it to emit. */
static int add_piece(lm_chat *c, int32_t tok, const char *prev, lm_chat_emit_fn emit, void *ud,
                     lm_error *err)
{
    const lm_vocab *voc = lm_model_vocab(c->m);
    const char *w = lm_vocab_token(voc, tok);
    size_t need = c->reply_len + strlen(w) + 2;
    if (need > c->reply_cap) {
        size_t cap = need > 2 * c->reply_cap ? need : 2 * c->reply_cap;
        char *r = realloc(c->reply, cap);
        if (!r)
            return lm_fail(err, LM_ENOMEM, "out of memory");
        c->reply = r;
        c->reply_cap = cap;
    }
    char *at = c->reply + c->reply_len;
    lm_detok_piece(text_opts(c).tokenize, prev, w, at, c->reply_cap - c->reply_len);
    c->reply_len += strlen(at);
    if (emit)
        emit(ud, at);
    return LM_OK;
}

static int reply_sampled(lm_chat *c, lm_chat_emit_fn emit, void *ud, volatile int *stop,
                         lm_error *err)
{
    const lm_vocab *voc = lm_model_vocab(c->m);
    lm_sampler_opts so = c->o.sampler;
    memcpy(c->bans, c->banned, c->n_banned * sizeof *c->bans);
    c->bans[c->n_banned] = LM_TOK_EOC;
    c->bans[c->n_banned + 1] = LM_TOK_EOT;
    so.banned = c->bans;
    const char *prev = NULL;
    int rc;
    for (size_t i = 0; i < c->o.max_tokens; i++) {
        if (stop && *stop)
            return lm_fail(err, LM_EINTR, "interrupted");
        so.n_banned = c->n_banned + (i == 0 ? 2 : 1);
        int32_t tok = lm_sample(&so, c->logits, c->V, c->hist, c->n_hist, &c->rng, c->scratch);
        if (tok == LM_ENOMEM)
            return lm_fail(err, LM_ENOMEM, "out of memory");
        if (tok < 0)
            return lm_fail(err, LM_EINVAL, "every token is banned");
        if (tok == LM_TOK_EOT)
            break;
        if ((rc = hist_push(c, tok, err)) || (rc = add_piece(c, tok, prev, emit, ud, err)))
            return rc;
        prev = lm_vocab_token(voc, tok);
        float *lg = i + 1 < c->o.max_tokens ? c->logits : NULL;
        if ((rc = lm_step(c->m, c->s, tok, lg, err)))
            return rc;
    }
    return LM_OK;
}

static int reply_beam(lm_chat *c, lm_chat_emit_fn emit, void *ud, volatile int *stop,
                      lm_error *err)
{
    const lm_vocab *voc = lm_model_vocab(c->m);
    lm_beam_opts bo;
    lm_beam_opts_init(&bo);
    bo.beam = c->o.beam;
    bo.max_tokens = c->o.max_tokens;
    bo.min_tokens = 1;
    bo.length_alpha = c->o.length_alpha;
    bo.allow_unk = c->o.sampler.allow_unk;
    memcpy(c->bans, c->banned, c->n_banned * sizeof *c->bans);
    c->bans[c->n_banned] = LM_TOK_EOC;
    bo.banned = c->bans;
    bo.n_banned = c->n_banned + 1;
    int32_t *toks = NULL;
    size_t n = 0;
    int rc = lm_beam_search(c->m, c->s, c->logits, &bo, &toks, &n, NULL, NULL, stop, err);
    if (rc)
        return rc;
    const char *prev = NULL;
    for (size_t i = 0; i < n; i++) {
        if ((rc = hist_push(c, toks[i], err)) ||
            (rc = add_piece(c, toks[i], prev, emit, ud, err)) ||
            (rc = lm_step(c->m, c->s, toks[i], NULL, err)))
            goto out;
        prev = lm_vocab_token(voc, toks[i]);
    }
out:
    free(toks);
    return rc;
}

int lm_chat_reply(lm_chat *c, lm_chat_emit_fn emit, void *ud, volatile int *stop, lm_error *err)
{
    int rc = lm_state_copy(c->before, c->s, err);
    if (rc)
        return rc;
    c->before_pending = c->pending;
    c->hist_mark = c->n_hist;
    c->has_before = 1;
    c->reply_len = 0;
    c->reply[0] = '\0';
    if ((rc = lm_step(c->m, c->s, c->pending, c->logits, err)))
        return rc;
    rc = c->o.beam > 1 ? reply_beam(c, emit, ud, stop, err) : reply_sampled(c, emit, ud, stop, err);
    /* Whatever happened after the first step, the model's turn is closed here. */
    c->pending = LM_TOK_EOT;
    c->turns++;
    return rc;
}

int lm_chat_retry(lm_chat *c, lm_chat_emit_fn emit, void *ud, volatile int *stop, lm_error *err)
{
    if (!c->has_before)
        return lm_fail(err, LM_EINVAL, "no reply to retry");
    int rc = lm_state_copy(c->s, c->before, err);
    if (rc)
        return rc;
    c->pending = c->before_pending;
    c->n_hist = c->hist_mark;
    if (c->turns)
        c->turns--;
    return lm_chat_reply(c, emit, ud, stop, err);
}

/* ---- save and load ----------------------------------------------------------------------- */

int lm_chat_save(const lm_chat *c, const char *path, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_create(path, &h, err);
    if (rc)
        return rc;
    if ((rc = lm_state_write(c->s, h, "/", err)) ||
        (rc = lm_h5_attr_set_u64(h, "/chat", "format_version", 1, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/chat", "pending", (uint64_t)c->pending, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/chat", "rng", c->rng.s, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/chat", "turns", c->turns, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/chat", "history", c->n_hist, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/chat", "has_before", (uint64_t)c->has_before, err)))
        goto fail;
    if (c->n_hist) {
        size_t dims[1] = {c->n_hist};
        if ((rc = lm_h5_write(h, "/chat/history", LM_H5_I32, c->hist, 1, dims, err)))
            goto fail;
    }
    if (c->has_before &&
        ((rc = lm_h5_attr_set_u64(h, "/chat", "before_pending", (uint64_t)c->before_pending,
                                  err)) ||
         (rc = lm_h5_attr_set_u64(h, "/chat", "history_mark", c->hist_mark, err)) ||
         (rc = lm_state_write(c->before, h, "/chat/before", err))))
        goto fail;
    return lm_h5_commit(h, err);
fail:
    lm_h5_close(h);
    return rc;
}

int lm_chat_load(lm_chat *c, const char *path, lm_error *err)
{
    lm_h5 *h = NULL;
    lm_state *s = NULL, *before = NULL;
    int32_t *hist = NULL;
    uint64_t version = 1, pending = LM_TOK_EOT, rng = c->rng.s, turns = 0, n_hist = 0;
    uint64_t has_before = 0, before_pending = LM_TOK_EOT, mark = 0;
    int rc;
    if ((rc = lm_h5_open(path, &h, err)) || (rc = lm_state_create(c->m, &s, err)) ||
        (rc = lm_state_create(c->m, &before, err)) || (rc = lm_state_read(s, h, "/", err)))
        goto out;
    if (lm_h5_has_attr(h, "/chat", "format_version")) {
        if ((rc = lm_h5_attr_u64(h, "/chat", "format_version", &version, err)) ||
            (rc = lm_h5_attr_u64(h, "/chat", "pending", &pending, err)) ||
            (rc = lm_h5_attr_u64(h, "/chat", "rng", &rng, err)) ||
            (rc = lm_h5_attr_u64(h, "/chat", "turns", &turns, err)) ||
            (rc = lm_h5_attr_u64(h, "/chat", "history", &n_hist, err)) ||
            (rc = lm_h5_attr_u64(h, "/chat", "has_before", &has_before, err)))
            goto out;
        if (version != 1) {
            rc = lm_fail(err, LM_EFORMAT, "%s: chat format version %llu is not supported",
                         path, (unsigned long long)version);
            goto out;
        }
        if (pending >= c->V || rng == 0 || n_hist > ((uint64_t)1 << 24) || has_before > 1) {
            rc = lm_fail(err, LM_EFORMAT, "%s: damaged chat record", path);
            goto out;
        }
        if (n_hist) {
            size_t dims[1] = {(size_t)n_hist};
            if (!(hist = malloc(dims[0] * sizeof *hist))) {
                rc = lm_fail(err, LM_ENOMEM, "out of memory");
                goto out;
            }
            if ((rc = lm_h5_read(h, "/chat/history", LM_H5_I32, hist, 1, dims, err)))
                goto out;
            for (size_t i = 0; i < dims[0]; i++)
                if (hist[i] < 0 || (size_t)hist[i] >= c->V) {
                    rc = lm_fail(err, LM_EFORMAT, "%s: history token %d out of range", path,
                                 (int)hist[i]);
                    goto out;
                }
        }
        if (has_before &&
            ((rc = lm_h5_attr_u64(h, "/chat", "before_pending", &before_pending, err)) ||
             (rc = lm_h5_attr_u64(h, "/chat", "history_mark", &mark, err)) ||
             (rc = lm_state_read(before, h, "/chat/before", err))))
            goto out;
        if (has_before && (before_pending >= c->V || mark > n_hist)) {
            rc = lm_fail(err, LM_EFORMAT, "%s: damaged chat record", path);
            goto out;
        }
    }
    /* Everything read: commit it to the chat. */
    if ((rc = hist_reserve(c, (size_t)n_hist > c->n_hist ? (size_t)n_hist - c->n_hist : 0,
                           err)) ||
        (rc = lm_state_copy(c->s, s, err)) ||
        (has_before && (rc = lm_state_copy(c->before, before, err))))
        goto out;
    if (n_hist)
        memcpy(c->hist, hist, (size_t)n_hist * sizeof *hist);
    c->n_hist = (size_t)n_hist;
    c->pending = (int32_t)pending;
    c->rng.s = rng;
    c->turns = (size_t)turns;
    c->has_before = (int)has_before;
    c->before_pending = (int32_t)before_pending;
    c->hist_mark = (size_t)mark;
    c->reply_len = 0;
    c->reply[0] = '\0';
out:
    lm_h5_close(h);
    lm_state_free(s);
    lm_state_free(before);
    free(hist);
    return rc;
}
