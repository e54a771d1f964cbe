/* test_shard.c - data-parallel training without MPI: R threads in one process play the ranks,
 * summing through a barrier (every rank gets the same bits, as MPI_Allreduce gives). R shards
 * of a batch train on exactly the windows of one trainer with that batch; a sharded
 * checkpoint resumes exactly with the same rank count and closely with another. */
#include "harness.h"
#include "lm/lm.h"
#include "model/model.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

enum { NTOK = 3000, NVALID = 600, VOC = 20, EPOCHS = 3, MAXR = 4 };
static int32_t corpus[NTOK], valid[NVALID];

/* Relative tolerance on validation perplexity between rank counts (the bound): the
 * sums only change order (two partial GEMMs instead of one). */
#define PPL_RTOL 1e-4

static void make_corpus(void)
{
    lm_rng r;
    lm_rng_seed(&r, 9);
    for (int i = 0; i < NTOK; i++)
        corpus[i] =
            (int32_t)(lm_rng_uniform(&r) < 0.8 ? 3 + i % 7 : 3 + (int)(lm_rng_next(&r) % 17));
    for (int i = 0; i < NVALID; i++)
        valid[i] =
            (int32_t)(lm_rng_uniform(&r) < 0.8 ? 3 + i % 7 : 3 + (int)(lm_rng_next(&r) % 17));
}

static lm_model *model(const char *arch, float dropout)
{
    lm_vocab *v;
    lm_vocab_create(&v, NULL);
    for (int i = LM_N_SPECIAL; i < VOC; i++) {
        char t[8];
        snprintf(t, sizeof t, "t%d", i);
        lm_vocab_add(v, t, strlen(t), 1);
    }
    lm_config c;
    lm_config_init(&c);
    snprintf(c.arch, sizeof c.arch, "%s", arch);
    c.embed = 8;
    c.hidden = 10;
    c.layers = 2;
    c.ffn = 16;
    c.dropout = dropout;
    lm_rng r;
    lm_rng_seed(&r, 1);
    lm_model *m;
    lm_error err;
    return lm_model_create(&c, v, &r, &m, &err) ? NULL : m;
}

/* ---- an in-process all-reduce over R threads ----------------------------------------------- */

typedef struct group {
    pthread_barrier_t bar;
    size_t ranks;
    void *bufs[MAXR];
} group;

typedef struct member {
    group *g;
    size_t rank;
} member;

/* Rank 0 adds the others' buffers into its own in rank order, then everyone copies it. */
static int sum_fn(void *ud, void *buf, size_t n, int type)
{
    member *me = ud;
    group *g = me->g;
    size_t es = type == LM_REDUCE_F64 ? sizeof(double) : sizeof(float);
    g->bufs[me->rank] = buf;
    pthread_barrier_wait(&g->bar);
    if (me->rank == 0)
        for (size_t r = 1; r < g->ranks; r++)
            for (size_t i = 0; i < n; i++) {
                if (type == LM_REDUCE_F64)
                    ((double *)buf)[i] += ((const double *)g->bufs[r])[i];
                else
                    ((float *)buf)[i] += ((const float *)g->bufs[r])[i];
            }
    pthread_barrier_wait(&g->bar);
    if (me->rank != 0)
        memcpy(buf, g->bufs[0], n * es);
    pthread_barrier_wait(&g->bar);
    return LM_OK;
}

/* ---- one rank's run ------------------------------------------------------------------------ */

typedef struct job {
    member me;
    const char *arch;
    float dropout;
    int optimizer;
    size_t batch;
    const char *resume;     /* checkpoint to start from (NULL: a fresh model) */
    const char *stop_write; /* stop in epoch 2 at window 40 and write this checkpoint */
    double ppl[EPOCHS];
    size_t first; /* first epoch run (0-based) */
    lm_model *m;  /* the model after the run (caller frees) */
    int ok;
} job;

static volatile int stop_flags[MAXR];

/* Only rank `ranks - 1` sees the stop: the others must learn it through the reduction. */
static void stopper(void *ud, const lm_progress *p)
{
    job *j = ud;
    if (p->epoch == 2 && p->step == 40)
        stop_flags[j->me.rank] = 1;
}

static void opts(const job *j, lm_train_opts *o)
{
    lm_train_opts_init(o);
    o->batch = j->batch;
    o->bptt = 8;
    o->epochs = EPOCHS;
    o->optimizer = j->optimizer;
    o->lr = j->optimizer == LM_OPT_SGD ? 1.0 : 0.01;
    o->decay_start = j->optimizer == LM_OPT_SGD ? 2 : 0;
    o->clip = 1.0; /* active: the norm of the summed gradient decides */
}

static void *run_rank(void *arg)
{
    job *j = arg;
    lm_error err;
    lm_trainer *t = NULL;
    size_t r = j->me.rank;
    j->ok = 0;
    j->m = NULL;
    if (j->resume) {
        if (lm_trainer_resume(j->resume, corpus, NTOK, valid, NVALID, &j->m, &t, &err))
            return NULL;
    } else {
        lm_train_opts o;
        opts(j, &o);
        if (!(j->m = model(j->arch, j->dropout)) ||
            lm_trainer_create(j->m, &o, corpus, NTOK, valid, NVALID, &t, &err))
            return NULL;
    }
    if (j->me.g && lm_trainer_set_shard(t, j->me.rank, j->me.g->ranks, sum_fn, &j->me, &err))
        goto out;
    stop_flags[r] = 0;
    if (j->stop_write && j->me.g && r == j->me.g->ranks - 1)
        lm_trainer_set_progress(t, stopper, j, 1);
    j->first = lm_trainer_epoch(t);
    for (size_t e = j->first; e < EPOCHS; e++) {
        lm_epoch_result res;
        int rc = lm_trainer_run_epoch(t, &stop_flags[r], &res, &err);
        if (rc == LM_EINTR && j->stop_write) {
            rc = lm_trainer_save_checkpoint(t, r == 0 ? j->stop_write : NULL, &err);
            j->ok = rc == LM_OK;
            goto out;
        }
        if (rc)
            goto out;
        j->ppl[e] = res.valid_ppl;
    }
    j->ok = 1;
out:
    if (!j->ok)
        fprintf(stderr, "rank %zu: %s\n", r, err.msg);
    lm_trainer_free(t);
    return NULL;
}

/* Runs `ranks` threads (0: one unsharded trainer) with the settings of proto. */
static void run_group(size_t ranks, const job *proto, job *jobs)
{
    group g;
    g.ranks = ranks;
    size_t n = ranks ? ranks : 1;
    if (ranks)
        pthread_barrier_init(&g.bar, NULL, (unsigned)ranks);
    pthread_t tid[MAXR];
    for (size_t r = 0; r < n; r++) {
        jobs[r] = *proto;
        jobs[r].me.g = ranks ? &g : NULL;
        jobs[r].me.rank = r;
        pthread_create(&tid[r], NULL, run_rank, &jobs[r]);
    }
    for (size_t r = 0; r < n; r++) {
        pthread_join(tid[r], NULL);
        CU_ASSERT_FATAL(jobs[r].ok);
    }
    if (ranks)
        pthread_barrier_destroy(&g.bar);
    /* Every rank ends with the same parameters. */
    for (size_t r = 1; r < n; r++)
        CU_ASSERT(memcmp(lm_model_net(jobs[0].m)->params, lm_model_net(jobs[r].m)->params,
                         lm_model_net(jobs[0].m)->table.total * sizeof(float)) == 0);
}

static void free_group(job *jobs, size_t n)
{
    for (size_t r = 0; r < (n ? n : 1); r++)
        lm_model_free(jobs[r].m);
}

/* R shards against one trainer of the same total batch: same validation perplexities. */
static void same_as_one(const char *arch, int optimizer, size_t batch, size_t ranks)
{
    job proto = {.arch = arch, .optimizer = optimizer, .batch = batch};
    job one[1], many[MAXR];
    run_group(0, &proto, one);
    run_group(ranks, &proto, many);
    for (int e = 0; e < EPOCHS; e++) {
        LM_ASSERT_CLOSE(many[0].ppl[e], one[0].ppl[e], 0, PPL_RTOL);
        CU_ASSERT(one[0].ppl[e] < VOC);
    }
    CU_ASSERT(th_check_tensor("params", lm_model_net(many[0].m)->params, lm_model_net(one[0].m)->params, lm_model_net(one[0].m)->table.total,
                              1e-4, 1e-3));
    free_group(one, 0);
    free_group(many, ranks);
}

static void test_lstm_two(void)
{
    same_as_one("lstm", LM_OPT_SGD, 4, 2);
}

static void test_rwkv_two(void)
{
    same_as_one("rwkv", LM_OPT_ADAM, 4, 2);
}

static void test_uneven_three(void)
{
    same_as_one("lstm", LM_OPT_ADAM, 4, 3);
}

/* A 2-rank run stopped mid-epoch (the stop seen by one rank only) and resumed with 2 ranks
 * equals the uninterrupted 2-rank run bit for bit, dropout included; resumed with 1 rank or
 * 4 ranks (no dropout) it stays within PPL_RTOL. */
static void resume_case(float dropout, size_t resume_ranks)
{
    char path[512];
    snprintf(path, sizeof path, "%s/shard-ckpt.h5", th_tmpdir());
    job proto = {.arch = "lstm", .optimizer = LM_OPT_ADAM, .batch = 4, .dropout = dropout};
    job straight[MAXR], first[MAXR], second[MAXR];
    run_group(2, &proto, straight);
    job p1 = proto;
    p1.stop_write = path;
    run_group(2, &p1, first);
    free_group(first, 2);
    job p2 = proto;
    p2.resume = path;
    run_group(resume_ranks, &p2, second);
    CU_ASSERT_EQUAL(second[0].first, 1);
    for (int e = 1; e < EPOCHS; e++) {
        if (resume_ranks == 2)
            CU_ASSERT_EQUAL(second[0].ppl[e], straight[0].ppl[e]);
        LM_ASSERT_CLOSE(second[0].ppl[e], straight[0].ppl[e], 0, PPL_RTOL);
    }
    if (resume_ranks == 2)
        CU_ASSERT(memcmp(lm_model_net(second[0].m)->params, lm_model_net(straight[0].m)->params,
                         lm_model_net(straight[0].m)->table.total * sizeof(float)) == 0);
    free_group(straight, 2);
    free_group(second, resume_ranks);
}

static void test_resume_same_ranks(void)
{
    resume_case(0.2f, 2);
}

static void test_resume_other_ranks(void)
{
    resume_case(0, 0);
    resume_case(0, 4);
}

static void test_bad_shard(void)
{
    lm_model *m = model("lstm", 0);
    lm_train_opts o;
    job j = {.batch = 4};
    opts(&j, &o);
    lm_trainer *t;
    lm_error err;
    CU_ASSERT_FATAL(lm_trainer_create(m, &o, corpus, NTOK, NULL, 0, &t, &err) == LM_OK);
    member me = {NULL, 0};
    CU_ASSERT_EQUAL(lm_trainer_set_shard(t, 0, 5, sum_fn, &me, &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_trainer_set_shard(t, 2, 2, sum_fn, &me, &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_trainer_set_shard(t, 0, 2, NULL, &me, &err), LM_EINVAL);
    CU_ASSERT_EQUAL(lm_trainer_save_checkpoint(t, NULL, &err), LM_EINVAL);
    lm_trainer_free(t);
    lm_model_free(m);
}

int main(void)
{
    make_corpus();
    static const th_test tests[] = {
        {"2 shards = 1 trainer, same total batch (lstm, sgd)", test_lstm_two},
        {"2 shards = 1 trainer, same total batch (rwkv, adam)", test_rwkv_two},
        {"3 uneven shards of 4 streams = 1 trainer", test_uneven_three},
        {"2-shard checkpoint resumes exactly with 2 shards (dropout)", test_resume_same_ranks},
        {"2-shard checkpoint resumes with 1 or 4 ranks", test_resume_other_ranks},
        {"bad shard arguments", test_bad_shard},
        {NULL, NULL},
    };
    return th_run("shard", tests);
}
