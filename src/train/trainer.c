/* trainer.c - epochs of truncated BPTT, validation, schedules, checkpoints and resume. */
#include "model/model.h"
#include "lm/lm.h"
#include "train/train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void lm_train_opts_init(lm_train_opts *o)
{
    memset(o, 0, sizeof *o);
    o->batch = 20;
    o->bptt = 20;
    o->epochs = 13;
    o->optimizer = LM_OPT_SGD;
    o->lr = 1.0;
    o->decay_start = 4;
    o->decay = 0.5;
    o->plateau_decay = 1.0;
    o->patience = 0;
    o->clip = 5.0;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = 0.01;
    o->seed = 1;
    o->max_steps = 0;
    o->shift_windows = -1;
    o->asgd = 0;
    o->asgd_patience = 5;
}

struct lm_trainer {
    lm_net *m;
    char note_key[LM_TRAINER_NOTES][32];
    char note_val[LM_TRAINER_NOTES][1024];
    size_t n_notes;
    const lm_model *model; /* the handle around m, for validation */
    lm_train_opts o;
    const int32_t *train, *valid;
    size_t n_train, n_valid;
    lm_batcher bt;
    lm_ws ws;
    float *grads, *m1, *m2, *best;
    float *state;
    size_t state_floats;
    int32_t *x, *y;
    lm_rng rng;
    /* Position: epochs completed, windows done in the current epoch. */
    size_t epoch, step;
    uint64_t adam_t;
    double plateau_mult, best_ppl;
    size_t bad_epochs;
    int finished;
    /* Accumulators of the current epoch. */
    double ep_nll, ep_seconds;
    uint64_t ep_n, ep_tokens, total_tokens;
    uint64_t corpus_hash;
    double (*now)(void);
    lm_progress_fn progress;
    void *progress_ud;
    size_t every;
    /* Data-parallel shard (lm_trainer_set_shard): this rank trains streams [lo, lo + bl) of
     * o.batch; reduce == NULL when not sharded (then bl == o.batch). */
    size_t rank, ranks, lo, bl;
    lm_allreduce_fn reduce;
    void *reduce_ud;
    int stop_agreed; /* some rank saw the stop flag in the last window */
    /* NT-ASGD (o.asgd): the running average of the parameters after each step since the end
     * of epoch asgd_start (0 = not averaging yet), over asgd_n steps. */
    float *avg;
    size_t asgd_start;
    uint64_t asgd_n;
};

/* ---- NT-ASGD (Merity et al. 2017) ------------------------------------------------------------ */

/* avg += (params - avg) / (n + 1) after a step. */
static void asgd_accumulate(lm_trainer *t)
{
    size_t P = t->m->table.total;
    float k = 1.0f / (float)(t->asgd_n + 1), *a = t->avg;
    const float *p = t->m->params;
    for (size_t i = 0; i < P; i++)
        a[i] += (p[i] - a[i]) * k;
    t->asgd_n++;
}

/* Exchanges the parameters and their average (validation and the best copy see the average). */
static void asgd_swap(lm_trainer *t)
{
    size_t P = t->m->table.total;
    float *a = t->avg, *p = t->m->params;
    for (size_t i = 0; i < P; i++) {
        float x = a[i];
        a[i] = p[i];
        p[i] = x;
    }
}

/* The non-monotone trigger: averaging starts once validation has not improved for
 * asgd_patience epochs (the counter restarts so early stopping waits for the average). */
static void asgd_maybe_start(lm_trainer *t, size_t e)
{
    if (!t->o.asgd || t->asgd_start || !t->n_valid || t->bad_epochs < t->o.asgd_patience)
        return;
    t->asgd_start = e;
    t->asgd_n = 0;
    t->bad_epochs = 0;
    memcpy(t->avg, t->m->params, t->m->table.total * sizeof(float));
}

static uint64_t hash_ids(const int32_t *ids, size_t n)
{
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) {
        h ^= (uint32_t)ids[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A window whose loss per token exceeds this many nats (twice a uniform guess over V types,
 * plus a margin) has exploded: training is stopped even while the loss is finite. Also
 * applied to the log of the validation perplexity. */
static double explode_bound(size_t V)
{
    return 2.0 * log((double)(V > 1 ? V : 2)) + 10.0;
}

static int check_opts(const lm_train_opts *o, lm_error *err)
{
    if (o->batch == 0 || o->batch > 65536)
        return lm_fail(err, LM_EINVAL, "batch %zu out of range [1, 65536]", o->batch);
    if (o->bptt == 0 || o->bptt > 65536)
        return lm_fail(err, LM_EINVAL, "bptt %zu out of range [1, 65536]", o->bptt);
    if (o->optimizer < LM_OPT_SGD || o->optimizer > LM_OPT_ADAMW)
        return lm_fail(err, LM_EINVAL, "unknown optimizer %d", o->optimizer);
    if (!(o->lr > 0 && o->lr < 1e6))
        return lm_fail(err, LM_EINVAL, "learning rate %g out of range", o->lr);
    if (!(o->decay > 0 && o->decay <= 1) || !(o->plateau_decay > 0 && o->plateau_decay <= 1))
        return lm_fail(err, LM_EINVAL, "decay factors must lie in (0, 1]");
    if (!(o->clip >= 0))
        return lm_fail(err, LM_EINVAL, "clip must be >= 0");
    if (!(o->beta1 >= 0 && o->beta1 < 1 && o->beta2 >= 0 && o->beta2 < 1 && o->eps > 0))
        return lm_fail(err, LM_EINVAL, "Adam betas must lie in [0, 1) and eps be positive");
    return LM_OK;
}

int lm_trainer_create(lm_model *model, const lm_train_opts *o, const int32_t *train,
                      size_t n_train, const int32_t *valid, size_t n_valid, lm_trainer **out,
                      lm_error *err)
{
    lm_net *m = lm_model_net(model);
    if (!m)
        return lm_fail(err, LM_EINVAL, "a %s model is not trained by gradient (see lstmlm ngram "
                       "train for n-grams)", lm_model_kind(model));
    int rc = check_opts(o, err);
    if (rc || (rc = lm_precision_check(m->cfg.precision, err)))
        return rc;
    for (size_t i = 0; i < n_train; i++)
        if (train[i] < 0 || (size_t)train[i] >= m->cfg.vocab)
            return lm_fail(err, LM_EMISMATCH, "training token id %d outside the vocabulary",
                           (int)train[i]);
    if (n_train / o->batch < 2)
        return lm_fail(err, LM_EINVAL,
                       "the training corpus (%zu tokens) is too small for %zu streams", n_train,
                       o->batch);
    /* A window longer than a stream would only allocate workspace it never uses. */
    if (o->bptt > n_train / o->batch - 1)
        return lm_fail(err, LM_EINVAL,
                       "bptt %zu is longer than the streams: %zu tokens in %zu streams give "
                       "windows of at most %zu steps", o->bptt, n_train, o->batch,
                       n_train / o->batch - 1);
    lm_trainer *t = calloc(1, sizeof *t);
    if (!t)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    t->m = m;
    t->model = model;
    t->o = *o;
    if (t->o.shift_windows < 0)
        t->o.shift_windows = m->arch->positional;
    t->train = train;
    t->n_train = n_train;
    t->valid = valid;
    t->n_valid = valid ? n_valid : 0;
    lm_batcher_init(&t->bt, train, n_train, o->batch, o->bptt);
    size_t P = m->table.total;
    t->state_floats = m->arch->state_floats(&m->cfg, o->batch, 0);
    rc = lm_ws_init(&t->ws, m, o->bptt, o->batch, err);
    if (rc) {
        free(t);
        return rc;
    }
    t->grads = lm_alloc_floats(P);
    t->best = lm_alloc_floats(P);
    t->state = lm_alloc_floats(t->state_floats);
    t->x = malloc(o->bptt * o->batch * sizeof *t->x);
    t->y = malloc(o->bptt * o->batch * sizeof *t->y);
    if (o->optimizer != LM_OPT_SGD) {
        t->m1 = lm_alloc_floats(P);
        t->m2 = lm_alloc_floats(P);
    }
    if (o->asgd && !(t->avg = lm_alloc_floats(P))) {
        lm_trainer_free(t);
        return lm_fail(err, LM_ENOMEM, "out of memory for the parameter average");
    }
    if (!t->grads || !t->best || !t->state || !t->x || !t->y ||
        (o->optimizer != LM_OPT_SGD && (!t->m1 || !t->m2))) {
        lm_trainer_free(t);
        return lm_fail(err, LM_ENOMEM, "out of memory for training buffers");
    }
    memcpy(t->best, m->params, P * sizeof(float));
    lm_rng_seed(&t->rng, o->seed);
    m->arch->state_reset(&m->cfg, t->state, o->batch);
    t->plateau_mult = 1.0;
    t->best_ppl = INFINITY;
    t->corpus_hash = hash_ids(train, n_train);
    t->every = 50;
    t->ranks = 1;
    t->bl = o->batch;
    *out = t;
    return LM_OK;
}

void lm_trainer_free(lm_trainer *t)
{
    if (!t)
        return;
    lm_ws_free(&t->ws);
    lm_free(t->grads);
    lm_free(t->m1);
    lm_free(t->m2);
    lm_free(t->best);
    lm_free(t->avg);
    lm_free(t->state);
    free(t->x);
    free(t->y);
    free(t);
}

void lm_trainer_set_progress(lm_trainer *t, lm_progress_fn fn, void *ud, size_t every)
{
    t->progress = fn;
    t->progress_ud = ud;
    t->every = every ? every : 1;
}

void lm_trainer_set_clock(lm_trainer *t, double (*now)(void))
{
    t->now = now;
}

size_t lm_trainer_epoch(const lm_trainer *t)
{
    return t->epoch;
}

double lm_trainer_best_ppl(const lm_trainer *t)
{
    return t->best_ppl;
}

void lm_trainer_set_epochs(lm_trainer *t, size_t epochs)
{
    t->o.epochs = epochs;
    if (t->epoch < epochs)
        t->finished = 0;
}

const lm_train_opts *lm_trainer_opts(const lm_trainer *t)
{
    return &t->o;
}

/* Learning rate of epoch e (1-based): the step schedule times the plateau factor. */
static double epoch_lr(const lm_trainer *t, size_t e)
{
    double lr = t->o.lr * t->plateau_mult;
    if (t->o.decay_start && e > t->o.decay_start)
        lr *= pow(t->o.decay, (double)(e - t->o.decay_start));
    return lr;
}

static double clock_now(const lm_trainer *t)
{
    return t->now ? t->now() : 0.0;
}

/* Where epoch e's windows start: 0, or with shift_windows an offset in [0, bptt) that
 * depends only on the seed and e (so a resumed run finds the same one). */
static size_t epoch_offset(const lm_trainer *t, size_t e)
{
    if (!t->o.shift_windows || t->o.bptt < 2)
        return 0;
    lm_rng r;
    lm_rng_seed(&r, t->o.seed ^ (0x9e3779b97f4a7c15ull * (uint64_t)e));
    return (size_t)(lm_rng_next(&r) % t->o.bptt);
}

/* ---- data-parallel shards ------------------------------------------------------------------ */

/* The carried state is `groups` blocks of (B, width) rows, as the architecture declares. */
static size_t state_groups(const lm_net *m)
{
    return m->arch->state_groups ? m->arch->state_groups(&m->cfg) : 1;
}

/* Copies this shard's rows between a full state (o.batch streams) and a local one (bl). */
static void state_rows(const lm_trainer *t, float *full, float *local, int to_local)
{
    const lm_net *m = t->m;
    size_t G = state_groups(m), B = t->o.batch, one = m->arch->state_floats(&m->cfg, 1, 0);
    LM_ASSERT(one % G == 0 && m->arch->state_floats(&m->cfg, B, 0) == B * one);
    size_t w = one / G, n = t->bl * w * sizeof(float);
    for (size_t g = 0; g < G; g++) {
        float *f = full + (g * B + t->lo) * w, *l = local + g * t->bl * w;
        memcpy(to_local ? l : f, to_local ? f : l, n);
    }
}

int lm_trainer_set_shard(lm_trainer *t, size_t rank, size_t ranks, lm_allreduce_fn fn, void *ud,
                         lm_error *err)
{
    size_t B = t->o.batch;
    if (t->reduce)
        return lm_fail(err, LM_EINVAL, "the trainer is already sharded");
    if (!fn || ranks == 0 || rank >= ranks || ranks > B)
        return lm_fail(err, LM_EINVAL,
                       "rank %zu of %zu: the batch (%zu streams) must give every rank a stream",
                       rank, ranks, B);
    lm_net *m = t->m;
    size_t lo = rank * B / ranks, bl = (rank + 1) * B / ranks - lo;
    size_t sf = m->arch->state_floats(&m->cfg, bl, 0);
    float *state = lm_alloc_floats(sf);
    lm_ws ws;
    if (!state)
        return lm_fail(err, LM_ENOMEM, "out of memory for the carried state");
    int rc = lm_ws_init(&ws, m, t->o.bptt, bl, err);
    if (rc) {
        lm_free(state);
        return rc;
    }
    lm_ws_free(&t->ws);
    t->ws = ws;
    t->rank = rank;
    t->ranks = ranks;
    t->lo = lo;
    t->bl = bl;
    state_rows(t, t->state, state, 1);
    lm_free(t->state);
    t->state = state;
    t->state_floats = sf;
    size_t len = t->n_train / B;
    lm_batcher_init(&t->bt, t->train + lo * len, bl * len, bl, t->o.bptt);
    t->reduce = fn;
    t->reduce_ud = ud;
    return LM_OK;
}

/* Dropout masks of window t->step of epoch e on this rank: a stream of its own, so a resumed
 * run (with the same rank count) draws the same masks. */
static void shard_rng(lm_trainer *t, size_t e)
{
    uint64_t k = t->o.seed;
    k ^= 0x9e3779b97f4a7c15ull * (uint64_t)e;
    k ^= 0xbf58476d1ce4e5b9ull * (uint64_t)(t->step + 1);
    k ^= 0x94d049bb133111ebull * (uint64_t)(t->rank + 1);
    lm_rng_seed(&t->rng, k);
}

/* Sums the window's gradient block, loss sums and stop flags over the ranks. */
static int shard_reduce(lm_trainer *t, lm_ce_acc *acc, volatile int *stop, lm_error *err)
{
    double s[3] = {acc->nll, (double)acc->n, stop && *stop ? 1.0 : 0.0};
    int rc = t->reduce(t->reduce_ud, t->grads, t->m->table.total, LM_REDUCE_F32);
    if (!rc)
        rc = t->reduce(t->reduce_ud, s, 3, LM_REDUCE_F64);
    if (rc) {
        memset(t->grads, 0, t->m->table.total * sizeof(float));
        return lm_fail(err, rc, "all-reduce failed at epoch %zu, window %zu", t->epoch + 1,
                       t->step);
    }
    acc->nll = s[0];
    acc->n = (size_t)s[1];
    t->stop_agreed = s[2] > 0;
    return LM_OK;
}

/* Validation split like training: this rank's valid streams, sums reduced. A text too short
 * for B streams is scored whole (one stream) by every rank, as lm_model_eval does. */
static int shard_eval(lm_trainer *t, lm_eval_result *ev, lm_error *err)
{
    size_t B = t->o.batch, len = t->n_valid / B;
    if (len < 2)
        return lm_model_eval(t->model, t->valid, t->n_valid, B, t->o.bptt, ev, err);
    int rc = lm_model_eval(t->model, t->valid + t->lo * len, t->bl * len, t->bl, t->o.bptt, ev, err);
    double s[3] = {rc ? 0 : ev->nll, rc ? 0 : (double)ev->tokens, rc ? 1.0 : 0.0};
    /* Every rank takes part in the sum even when its own share failed. */
    int rr = t->reduce(t->reduce_ud, s, 3, LM_REDUCE_F64);
    if (rc)
        return rc;
    if (rr)
        return lm_fail(err, rr, "all-reduce failed in validation");
    if (s[2] > 0)
        return lm_fail(err, LM_EIO, "validation failed on another rank");
    ev->nll = s[0];
    ev->tokens = (size_t)s[1];
    ev->ppl = ev->tokens ? exp(ev->nll / (double)ev->tokens) : 0;
    return LM_OK;
}

int lm_trainer_run_epoch(lm_trainer *t, volatile int *stop, lm_epoch_result *res, lm_error *err)
{
    if (t->finished || t->epoch >= t->o.epochs)
        return lm_fail(err, LM_EINVAL, "training already finished after %zu epochs", t->epoch);
    lm_net *m = t->m;
    size_t e = t->epoch + 1, B = t->o.batch, P = m->table.total, Bl = t->bl;
    lm_batcher_set_offset(&t->bt, epoch_offset(t, e));
    size_t windows = t->bt.windows;
    if (t->o.max_steps && t->o.max_steps < windows)
        windows = t->o.max_steps;
    float lr = (float)epoch_lr(t, e);
    float scale = 1.0f / (float)B;
    if (t->step == 0) {
        m->arch->state_reset(&m->cfg, t->state, Bl);
        t->ep_nll = 0;
        t->ep_n = 0;
        t->ep_tokens = 0;
        t->ep_seconds = 0;
    }
    double t0 = clock_now(t);
    while (t->step < windows) {
        if (t->reduce ? t->stop_agreed : stop && *stop) {
            t->stop_agreed = 0;
            t->ep_seconds += clock_now(t) - t0;
            return lm_fail(err, LM_EINTR, "interrupted at epoch %zu, window %zu of %zu", e,
                           t->step, windows);
        }
        size_t T = lm_batcher_window(&t->bt, t->step, t->x, t->y);
        /* The gradient block is zero here: the optimizer step clears it as it reads it. */
        lm_ce_acc acc = {0};
        if (t->ranks > 1)
            shard_rng(t, e);
        lm_net_window(m, &t->ws, t->x, t->y, T, Bl, t->state, t->step * t->o.bptt, 1, &t->rng,
                        t->grads, scale, &acc);
        if (t->reduce) {
            int rc = shard_reduce(t, &acc, stop, err);
            if (rc)
                return rc;
        }
        double norm = lm_grad_norm(t->grads, P);
        if (!isfinite(acc.nll) || !isfinite(norm)) {
            memset(t->grads, 0, P * sizeof(float));
            t->ep_seconds += clock_now(t) - t0;
            return lm_fail(err, LM_EDIVERGED,
                           "the loss diverged (%s) at epoch %zu, window %zu of %zu; lower the "
                           "learning rate (now %g) or the clip bound",
                           isfinite(acc.nll) ? "infinite gradient" : "NaN or infinite loss", e,
                           t->step + 1, windows, (double)lr);
        }
        double per_token = acc.n ? acc.nll / (double)acc.n : 0;
        if (per_token > explode_bound(m->cfg.vocab)) {
            memset(t->grads, 0, P * sizeof(float));
            t->ep_seconds += clock_now(t) - t0;
            return lm_fail(err, LM_EDIVERGED,
                           "the loss diverged (exploded to %.4g nats per token; a uniform guess "
                           "is %.3g) at epoch %zu, window %zu of %zu; lower the learning rate "
                           "(now %g) or the clip bound",
                           per_token, log((double)m->cfg.vocab), e, t->step + 1, windows,
                           (double)lr);
        }
        float gscale = t->o.clip > 0 && norm > t->o.clip ? (float)(t->o.clip / norm) : 1.0f;
        if (t->o.optimizer == LM_OPT_SGD)
            lm_sgd_step(m->params, t->grads, P, lr * gscale);
        else
            lm_adam_step(m->params, t->grads, t->m1, t->m2, P, lr, (float)t->o.beta1,
                         (float)t->o.beta2, (float)t->o.eps,
                         t->o.optimizer == LM_OPT_ADAMW ? (float)t->o.weight_decay : 0.0f,
                         ++t->adam_t, gscale);
        if (t->asgd_start)
            asgd_accumulate(t);
        t->ep_nll += acc.nll;
        t->ep_n += acc.n;
        t->ep_tokens += acc.n;
        t->step++;
        if (t->progress && (t->step % t->every == 0 || t->step == windows)) {
            lm_progress p = {e, t->step, windows, t->ep_tokens, t->ep_nll / (double)t->ep_n, lr};
            t->progress(t->progress_ud, &p);
        }
    }
    t->ep_seconds += clock_now(t) - t0;
    t->total_tokens += t->ep_tokens;
    lm_epoch_result r = {0};
    r.epoch = e;
    r.train_loss = t->ep_n ? t->ep_nll / (double)t->ep_n : 0;
    r.lr = lr;
    r.tokens = t->ep_tokens;
    r.seconds = t->ep_seconds;
    if (t->n_valid) {
        lm_eval_result ev;
        if (t->asgd_start) /* validate the average */
            asgd_swap(t);
        int rc = t->reduce ? shard_eval(t, &ev, err)
                           : lm_model_eval(t->model, t->valid, t->n_valid, B, t->o.bptt, &ev,
                                           err);
        if (t->asgd_start)
            asgd_swap(t);
        if (rc)
            return rc;
        r.valid_ppl = ev.ppl;
        if (!isfinite(ev.ppl) || log(ev.ppl) > explode_bound(m->cfg.vocab))
            return lm_fail(err, LM_EDIVERGED,
                           "training diverged: the validation perplexity is %s (%.4g) after "
                           "epoch %zu, window %zu of %zu (its last); lower the learning rate "
                           "(now %g) or the clip bound",
                           isfinite(ev.ppl) ? "exploding" : "not finite", ev.ppl, e, windows,
                           windows, (double)lr);
    }
    int improved = !t->n_valid || r.valid_ppl < t->best_ppl;
    if (improved) {
        if (t->n_valid)
            t->best_ppl = r.valid_ppl;
        t->bad_epochs = 0;
        memcpy(t->best, t->asgd_start ? t->avg : m->params, P * sizeof(float));
    } else {
        t->bad_epochs++;
        t->plateau_mult *= t->o.plateau_decay;
    }
    asgd_maybe_start(t, e);
    r.averaging = t->asgd_start;
    r.improved = improved;
    lm_history_row row = {(uint32_t)e, t->total_tokens, r.train_loss, r.valid_ppl, lr,
                          r.seconds > 0 ? (double)r.tokens / r.seconds : 0, r.seconds};
    if (lm_net_add_history(m, &row))
        return lm_fail(err, LM_ENOMEM, "out of memory");
    t->epoch = e;
    t->step = 0;
    if (t->epoch >= t->o.epochs || (t->o.patience && t->bad_epochs >= t->o.patience))
        t->finished = 1;
    r.stop = t->finished;
    *res = r;
    return LM_OK;
}

int lm_trainer_save_best(const lm_trainer *t, const char *path, lm_error *err)
{
    lm_net *m = t->m;
    size_t P = m->table.total;
    float *cur = lm_alloc_floats(P);
    if (!cur)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    memcpy(cur, m->params, P * sizeof(float));
    memcpy(m->params, t->best, P * sizeof(float));
    int rc = lm_net_save(m, path, err);
    memcpy(m->params, cur, P * sizeof(float));
    lm_free(cur);
    return rc;
}

/* ---- checkpoints ------------------------------------------------------------------------- */

/* NT-ASGD in a checkpoint: the options, the averaging position and /train/avg. */
static int asgd_write(const lm_trainer *t, lm_h5 *h, lm_error *err)
{
    int rc;
    if ((rc = lm_h5_attr_set_u64(h, "/train", "asgd", (uint64_t)(t->o.asgd != 0), err)) ||
        (rc = lm_h5_attr_set_u64(h, "/train", "asgd_patience", t->o.asgd_patience, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/train", "asgd_start", t->asgd_start, err)) ||
        (rc = lm_h5_attr_set_u64(h, "/train", "asgd_n", t->asgd_n, err)))
        return rc;
    return t->asgd_start ? lm_block_write(t->m, h, "/train/avg", t->avg, err) : LM_OK;
}

/* Reads an optional /train attribute; *v keeps its value when the attribute is absent (a
 * checkpoint from before the option existed). */
static int opt_u64(lm_h5 *h, const char *name, uint64_t *v, lm_error *err)
{
    return lm_h5_has_attr(h, "/train", name) ? lm_h5_attr_u64(h, "/train", name, v, err) : LM_OK;
}

static int asgd_read(lm_trainer *t, lm_h5 *h, lm_error *err)
{
    uint64_t start = 0, n = 0;
    int rc;
    if ((rc = opt_u64(h, "asgd_start", &start, err)) || (rc = opt_u64(h, "asgd_n", &n, err)))
        return rc;
    if (start && (!t->avg || start > t->epoch))
        return lm_fail(err, LM_EFORMAT, "%s: averaging from epoch %llu is not possible here",
                       lm_h5_path(h), (unsigned long long)start);
    t->asgd_start = (size_t)start;
    t->asgd_n = n;
    return start ? lm_block_read(t->m, h, "/train/avg", t->avg, err) : LM_OK;
}

/* The carried state of all o.batch streams, summed over the shards (zero outside each one's
 * rows, so the sum is exact). *full: caller frees with lm_free. */
static int shard_gather_state(const lm_trainer *t, float **full, lm_error *err)
{
    const lm_net *m = t->m;
    size_t n = m->arch->state_floats(&m->cfg, t->o.batch, 0);
    float *f = lm_alloc_floats(n);
    if (!f)
        return lm_fail(err, LM_ENOMEM, "out of memory for the carried state");
    memset(f, 0, n * sizeof(float));
    state_rows(t, f, t->state, 0);
    int rc = t->reduce(t->reduce_ud, f, n, LM_REDUCE_F32);
    if (rc) {
        lm_free(f);
        return lm_fail(err, rc, "all-reduce failed gathering the carried state");
    }
    *full = f;
    return LM_OK;
}

int lm_trainer_save_checkpoint(const lm_trainer *t, const char *path, lm_error *err)
{
    lm_h5 *h;
    float *full = NULL;
    int rc;
    if (t->reduce && (rc = shard_gather_state(t, &full, err)))
        return rc;
    if (!path) {
        lm_free(full);
        return t->reduce ? LM_OK : lm_fail(err, LM_EINVAL, "no checkpoint path");
    }
    if ((rc = lm_h5_create(path, &h, err))) {
        lm_free(full);
        return rc;
    }
    const lm_train_opts *o = &t->o;
    const lm_net *m = t->m;
    size_t ds[1] = {full ? m->arch->state_floats(&m->cfg, o->batch, 0) : t->state_floats};
    struct {
        const char *name;
        uint64_t v;
    } u[] = {{"epoch", t->epoch},           {"step", t->step},
             {"adam_t", t->adam_t},         {"bad_epochs", t->bad_epochs},
             {"finished", (uint64_t)t->finished}, {"rng_state", t->rng.s},
             {"ep_n", t->ep_n},             {"ep_tokens", t->ep_tokens},
             {"total_tokens", t->total_tokens}, {"corpus_checksum", t->corpus_hash},
             {"train_tokens", t->n_train},  {"valid_tokens", t->n_valid},
             {"batch", o->batch},           {"bptt", o->bptt},
             {"epochs", o->epochs},         {"optimizer", (uint64_t)o->optimizer},
             {"decay_start", o->decay_start}, {"patience", o->patience},
             {"seed", o->seed},             {"max_steps", o->max_steps},
             {"shift_windows", (uint64_t)o->shift_windows}};
    struct {
        const char *name;
        double v;
    } f[] = {{"ep_nll", t->ep_nll},       {"ep_seconds", t->ep_seconds},
             {"plateau_mult", t->plateau_mult}, {"best_ppl", t->best_ppl},
             {"lr", o->lr},               {"decay", o->decay},
             {"plateau_decay", o->plateau_decay}, {"clip", o->clip},
             {"beta1", o->beta1},         {"beta2", o->beta2},
             {"eps", o->eps},             {"weight_decay", o->weight_decay}};
    if ((rc = lm_net_write(m, h, err)))
        goto fail;
    for (size_t i = 0; i < t->n_notes; i++) {
        char name[48];
        snprintf(name, sizeof name, "note_%s", t->note_key[i]);
        if ((rc = lm_h5_attr_set_str(h, "/train", name, t->note_val[i], err)))
            goto fail;
    }
    for (size_t i = 0; i < sizeof u / sizeof u[0]; i++)
        if ((rc = lm_h5_attr_set_u64(h, "/train", u[i].name, u[i].v, err)))
            goto fail;
    for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
        if ((rc = lm_h5_attr_set_f64(h, "/train", f[i].name, f[i].v, err)))
            goto fail;
    if ((rc = lm_h5_write(h, "/train/carry", LM_H5_F32, full ? full : t->state, 1, ds, err)) ||
        (rc = lm_block_write(m, h, "/train/best", t->best, err)) || (rc = asgd_write(t, h, err)))
        goto fail;
    if (t->m1 && ((rc = lm_block_write(m, h, "/optim/m", t->m1, err)) ||
                  (rc = lm_block_write(m, h, "/optim/v", t->m2, err))))
        goto fail;
    rc = lm_h5_commit(h, err);
    lm_free(full);
    return rc;
fail:
    lm_h5_close(h);
    lm_free(full);
    return rc;
}

int lm_trainer_resume(const char *path, const int32_t *train, size_t n_train,
                      const int32_t *valid, size_t n_valid, lm_model **model, lm_trainer **out,
                      lm_error *err)
{
    lm_h5 *h;
    lm_net *m = NULL;
    lm_model *gm = NULL;
    lm_trainer *t = NULL;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    if (!lm_h5_has_attr(h, "/train", "step")) {
        rc = lm_fail(err, LM_EFORMAT, "%s: a model file, not a checkpoint (no trainer state)",
                     path);
        goto fail;
    }
    if ((rc = lm_net_read(h, &m, err)))
        goto fail;
    lm_train_opts o;
    lm_train_opts_init(&o);
    uint64_t v[20];
    const char *un[] = {"epoch", "step", "adam_t", "bad_epochs", "finished", "rng_state", "ep_n",
                        "ep_tokens", "total_tokens", "corpus_checksum", "train_tokens",
                        "valid_tokens", "batch", "bptt", "epochs", "optimizer", "decay_start",
                        "patience", "seed", "max_steps"};
    double d[12];
    const char *fn[] = {"ep_nll", "ep_seconds", "plateau_mult", "best_ppl", "lr", "decay",
                        "plateau_decay", "clip", "beta1", "beta2", "eps", "weight_decay"};
    for (size_t i = 0; i < 20; i++)
        if ((rc = lm_h5_attr_u64(h, "/train", un[i], &v[i], err)))
            goto fail;
    for (size_t i = 0; i < 12; i++)
        if ((rc = lm_h5_attr_f64(h, "/train", fn[i], &d[i], err)))
            goto fail;
    o.batch = v[12];
    o.bptt = v[13];
    o.epochs = v[14];
    o.optimizer = (int)v[15];
    o.decay_start = v[16];
    o.patience = v[17];
    o.seed = v[18];
    o.max_steps = v[19];
    o.lr = d[4];
    o.decay = d[5];
    o.plateau_decay = d[6];
    o.clip = d[7];
    o.beta1 = d[8];
    o.beta2 = d[9];
    o.eps = d[10];
    o.weight_decay = d[11];
    /* Checkpoints from before window shifting started every epoch at 0. */
    uint64_t shift = 0;
    if (lm_h5_has_attr(h, "/train", "shift_windows") &&
        (rc = lm_h5_attr_u64(h, "/train", "shift_windows", &shift, err)))
        goto fail;
    o.shift_windows = shift != 0;
    uint64_t asgd = 0, asgd_patience = o.asgd_patience;
    if ((rc = opt_u64(h, "asgd", &asgd, err)) ||
        (rc = opt_u64(h, "asgd_patience", &asgd_patience, err)))
        goto fail;
    o.asgd = asgd != 0;
    o.asgd_patience = (size_t)asgd_patience;
    if (v[9] != hash_ids(train, n_train) || v[10] != n_train || v[11] != (valid ? n_valid : 0)) {
        rc = lm_fail(err, LM_EMISMATCH,
                     "%s: the checkpoint was made on a different training or validation corpus "
                     "(or vocabulary)", path);
        goto fail;
    }
    rc = lm_model_wrap(&lm_kind_neural, m, &gm, err);
    m = NULL;
    if (rc || (rc = lm_trainer_create(gm, &o, train, n_train, valid, n_valid, &t, err)))
        goto fail;
    m = t->m;
    t->epoch = v[0];
    t->step = v[1];
    t->adam_t = v[2];
    t->bad_epochs = v[3];
    t->finished = (int)v[4];
    t->rng.s = v[5];
    t->ep_n = v[6];
    t->ep_tokens = v[7];
    t->total_tokens = v[8];
    t->ep_nll = d[0];
    t->ep_seconds = d[1];
    t->plateau_mult = d[2];
    t->best_ppl = d[3];
    if (t->step > t->bt.windows) {
        rc = lm_fail(err, LM_EFORMAT, "%s: step %zu beyond the epoch's %zu windows", path, t->step,
                     t->bt.windows);
        goto fail;
    }
    size_t ds[1] = {t->state_floats};
    if ((rc = lm_h5_read(h, "/train/carry", LM_H5_F32, t->state, 1, ds, err)) ||
        (rc = lm_block_read(m, h, "/train/best", t->best, err)))
        goto fail;
    if (t->m1 && ((rc = lm_block_read(m, h, "/optim/m", t->m1, err)) ||
                  (rc = lm_block_read(m, h, "/optim/v", t->m2, err))))
        goto fail;
    if ((rc = asgd_read(t, h, err)))
        goto fail;
    lm_h5_close(h);
    *model = gm;
    *out = t;
    return LM_OK;
fail:
    lm_h5_close(h);
    lm_trainer_free(t);
    if (gm)
        lm_model_free(gm);
    else
        lm_net_free(m);
    return rc;
}

int lm_trainer_set_note(lm_trainer *t, const char *key, const char *value, lm_error *err)
{
    size_t kl = strlen(key);
    if (!kl || kl > 31 || strspn(key, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_") != kl || strlen(value) > 1023)
        return lm_fail(err, LM_EINVAL, "bad trainer note '%.40s'", key);
    size_t i = 0;
    while (i < t->n_notes && strcmp(t->note_key[i], key))
        i++;
    if (i == LM_TRAINER_NOTES)
        return lm_fail(err, LM_EINVAL, "more than %d trainer notes", LM_TRAINER_NOTES);
    snprintf(t->note_key[i], sizeof t->note_key[i], "%s", key);
    snprintf(t->note_val[i], sizeof t->note_val[i], "%s", value);
    if (i == t->n_notes)
        t->n_notes++;
    return LM_OK;
}

int lm_checkpoint_note(const char *path, const char *key, char *buf, size_t cap, lm_error *err)
{
    lm_h5 *h;
    int rc = lm_h5_open(path, &h, err);
    if (rc)
        return rc;
    char name[48];
    snprintf(name, sizeof name, "note_%.31s", key);
    if (!lm_h5_has_attr(h, "/train", "step"))
        rc = lm_fail(err, LM_EFORMAT, "%s: a model file, not a checkpoint (no trainer state)",
                     path);
    else if (!lm_h5_has_attr(h, "/train", name))
        rc = 1;
    else
        rc = lm_h5_attr_str(h, "/train", name, buf, cap, err);
    lm_h5_close(h);
    return rc;
}
