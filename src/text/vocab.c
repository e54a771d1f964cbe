/* vocab.c - vocabulary: token strings <-> ids with counts, open-addressing hash table. */
#include "text/text.h"

#include <stdlib.h>
#include <string.h>

struct lm_vocab {
    char **tok;        /* id -> NUL-terminated text */
    uint64_t *count;   /* id -> count */
    size_t n, cap;     /* types, capacity of tok/count */
    int32_t *slots;    /* hash table of ids, -1 = empty */
    size_t nslots;     /* power of two */
};

static const char *const specials[LM_N_SPECIAL] = {"<unk>", "<eot>", "<eoc>"};

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 1099511628211ull;
    }
    return h;
}

static int32_t find(const lm_vocab *v, const char *s, size_t n, size_t *slot)
{
    size_t mask = v->nslots - 1;
    size_t i = (size_t)hash(s, n) & mask;
    for (;;) {
        int32_t id = v->slots[i];
        if (id < 0) {
            if (slot)
                *slot = i;
            return -1;
        }
        if (strlen(v->tok[id]) == n && !memcmp(v->tok[id], s, n))
            return id;
        i = (i + 1) & mask;
    }
}

static int rehash(lm_vocab *v, size_t nslots)
{
    int32_t *s = malloc(nslots * sizeof *s);
    if (!s)
        return LM_ENOMEM;
    memset(s, 0xFF, nslots * sizeof *s);
    free(v->slots);
    v->slots = s;
    v->nslots = nslots;
    for (size_t id = 0; id < v->n; id++) {
        size_t slot;
        find(v, v->tok[id], strlen(v->tok[id]), &slot);
        v->slots[slot] = (int32_t)id;
    }
    return LM_OK;
}

int32_t lm_vocab_add(lm_vocab *v, const char *tok, size_t len, uint64_t count)
{
    size_t slot;
    int32_t id = find(v, tok, len, &slot);
    if (id >= 0) {
        v->count[id] += count;
        return id;
    }
    if (v->n >= INT32_MAX - 1)
        return LM_ENOMEM;
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 64;
        char **t = realloc(v->tok, cap * sizeof *t);
        if (!t)
            return LM_ENOMEM;
        v->tok = t;
        uint64_t *c = realloc(v->count, cap * sizeof *c);
        if (!c)
            return LM_ENOMEM;
        v->count = c;
        v->cap = cap;
    }
    char *s = malloc(len + 1);
    if (!s)
        return LM_ENOMEM;
    memcpy(s, tok, len);
    s[len] = '\0';
    id = (int32_t)v->n++;
    v->tok[id] = s;
    v->count[id] = count;
    v->slots[slot] = id;
    if (v->n * 2 > v->nslots && rehash(v, v->nslots * 2) != LM_OK)
        return LM_ENOMEM;
    return id;
}

int lm_vocab_create(lm_vocab **out, lm_error *err)
{
    lm_vocab *v = calloc(1, sizeof *v);
    if (!v || rehash(v, 256) != LM_OK) {
        free(v);
        return lm_fail(err, LM_ENOMEM, "out of memory");
    }
    for (int i = 0; i < LM_N_SPECIAL; i++)
        if (lm_vocab_add(v, specials[i], strlen(specials[i]), 0) != i) {
            lm_vocab_free(v);
            return lm_fail(err, LM_ENOMEM, "out of memory");
        }
    *out = v;
    return LM_OK;
}

void lm_vocab_free(lm_vocab *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        free(v->tok[i]);
    free(v->tok);
    free(v->count);
    free(v->slots);
    free(v);
}

size_t lm_vocab_size(const lm_vocab *v)
{
    return v->n;
}

int32_t lm_vocab_lookup(const lm_vocab *v, const char *tok, size_t len)
{
    int32_t id = find(v, tok, len, NULL);
    return id < 0 ? LM_TOK_UNK : id;
}

const char *lm_vocab_token(const lm_vocab *v, int32_t id)
{
    if (id < 0 || (size_t)id >= v->n)
        return specials[LM_TOK_UNK];
    return v->tok[id];
}

uint64_t lm_vocab_count(const lm_vocab *v, int32_t id)
{
    if (id < 0 || (size_t)id >= v->n)
        return 0;
    return v->count[id];
}

int lm_vocab_set_count(lm_vocab *v, int32_t id, uint64_t count)
{
    if (id < 0 || (size_t)id >= v->n)
        return LM_EINVAL;
    v->count[id] = count;
    return LM_OK;
}

int lm_vocab_equal(const lm_vocab *a, const lm_vocab *b)
{
    if (a->n != b->n)
        return 0;
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->tok[i], b->tok[i]))
            return 0;
    return 1;
}

int lm_vocab_copy(const lm_vocab *v, lm_vocab **out, lm_error *err)
{
    lm_vocab *c;
    int rc = lm_vocab_create(&c, err);
    if (rc)
        return rc;
    for (size_t i = 0; i < v->n; i++) {
        int32_t id = lm_vocab_add(c, v->tok[i], strlen(v->tok[i]), 0);
        if (id != (int32_t)i) {
            lm_vocab_free(c);
            return lm_fail(err, id < 0 ? id : LM_EFORMAT, "vocabulary copy: token %zu", i);
        }
        c->count[i] = v->count[i];
    }
    *out = c;
    return LM_OK;
}

void lm_vocab_opts_init(lm_vocab_opts *o)
{
    o->max_vocab = 0;
    o->min_count = 1;
}

typedef struct count_ctx {
    lm_vocab *v;
    int failed;
} count_ctx;

static void count_token(void *ud, const char *tok, size_t len)
{
    count_ctx *c = ud;
    if (lm_vocab_add(c->v, tok, len, 1) < 0)
        c->failed = 1;
}

typedef struct build_ctx {
    const lm_text_opts *t;
    count_ctx cc;
    size_t turns_pending; /* lines since the last blank line */
} build_ctx;

static int count_line(void *ud, const char *line, size_t len, size_t lineno)
{
    (void)lineno;
    build_ctx *b = ud;
    if (lm_tokenize_line(b->t, line, len, count_token, &b->cc) == 0) {
        size_t i = 0;
        while (i < len && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r'))
            i++;
        if (i == len && b->turns_pending) {
            b->cc.v->count[LM_TOK_EOC]++;
            b->turns_pending = 0;
        }
        return b->cc.failed ? LM_ENOMEM : 0;
    }
    b->cc.v->count[LM_TOK_EOT]++;
    b->turns_pending++;
    return b->cc.failed ? LM_ENOMEM : 0;
}

/* A word to rank: the comparator needs no global state, so builds may run in parallel. */
typedef struct ranked {
    uint64_t count;
    const char *tok;
    int32_t id;
} ranked;

/* More frequent first, then by bytes. */
static int by_count(const void *pa, const void *pb)
{
    const ranked *a = pa, *b = pb;
    if (a->count != b->count)
        return a->count > b->count ? -1 : 1;
    return strcmp(a->tok, b->tok);
}

int lm_vocab_build(const char *const *paths, size_t n_paths, const lm_text_opts *t,
                   const lm_vocab_opts *o, lm_vocab **out, lm_error *err)
{
    lm_vocab *all = NULL, *v = NULL;
    ranked *order = NULL;
    if (o && o->max_vocab && o->max_vocab <= LM_N_SPECIAL)
        return lm_fail(err, LM_EINVAL, "a vocabulary of at most %zu types has no room beside "
                       "the %d special tokens", o->max_vocab, LM_N_SPECIAL);
    int rc = lm_vocab_create(&all, err);
    if (rc)
        return rc;
    for (size_t p = 0; p < n_paths; p++) {
        char *buf;
        size_t len;
        if ((rc = lm_read_text(paths[p], &buf, &len, err)))
            goto out;
        build_ctx b = {.t = t, .cc = {.v = all}};
        rc = lm_for_each_line(buf, len, count_line, &b);
        free(buf);
        if (rc) {
            rc = lm_fail(err, LM_ENOMEM, "out of memory counting %s", paths[p]);
            goto out;
        }
    }
    if ((rc = lm_vocab_create(&v, err)))
        goto out;
    for (int i = 0; i < LM_N_SPECIAL; i++)
        v->count[i] = all->count[i];
    size_t nw = all->n - LM_N_SPECIAL;
    order = malloc((nw ? nw : 1) * sizeof *order);
    if (!order) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nw; i++) {
        int32_t id = (int32_t)(i + LM_N_SPECIAL);
        order[i] = (ranked){all->count[id], all->tok[id], id};
    }
    qsort(order, nw, sizeof *order, by_count);
    size_t min_count = o && o->min_count ? o->min_count : 1;
    size_t max = o && o->max_vocab ? o->max_vocab : SIZE_MAX;
    for (size_t i = 0; i < nw; i++) {
        int32_t id = order[i].id;
        const char *s = all->tok[id];
        if (all->count[id] < min_count || v->n >= max) {
            v->count[LM_TOK_UNK] += all->count[id];
            continue;
        }
        if (lm_vocab_add(v, s, strlen(s), all->count[id]) < 0) {
            rc = lm_fail(err, LM_ENOMEM, "out of memory");
            goto out;
        }
    }
    *out = v;
    v = NULL;
out:
    free(order);
    lm_vocab_free(all);
    lm_vocab_free(v);
    return rc;
}
