/* pool.c - a small persistent thread pool for the element-wise and recurrent work that
 * OpenBLAS does not thread.
 *
 * lm_pool_run(n, fn, ctx) runs fn(ctx, i, n) for i = 0..n-1, part 0 on the calling thread and
 * part i on worker i. Workers spin briefly after a job (the recurrent loops dispatch every few
 * hundred microseconds), then yield, then sleep on a condition variable, so an idle pool costs
 * nothing. A second caller while a job is running (another thread, or a nested call) runs its
 * parts serially instead of waiting. A forked child starts with no workers (pthread_atfork);
 * after the pool has been stopped at exit, jobs run serially. */
#include "base/base.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#define SPIN_PAUSE 4000 /* busy iterations before yielding */
#define SPIN_YIELD 2000 /* sched_yield iterations before sleeping */

typedef struct pool {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    size_t started; /* workers created so far (1..LM_POOL_MAX-1) */
    pthread_t tid[LM_POOL_MAX];
    atomic_int stop;       /* set at exit or unload: workers return */
    atomic_size_t threads; /* parts a job may use, including the caller */
    uint64_t job;          /* number of the current job (written by the caller only) */
    atomic_int sleepers;
    atomic_size_t pending; /* worker parts not finished */
    atomic_flag busy;
    /* The current job, written before the workers' go flags are set. */
    lm_pool_fn fn;
    void *ctx;
    size_t nparts;
} pool;

/* Worker i waits for go to change: the caller sets it to the job number for the workers
 * taking part, so a worker never reads a job it is not part of. */
typedef struct slot {
    _Alignas(64) _Atomic uint64_t go;
} slot;
static slot S[LM_POOL_MAX];
#define STOP_GO UINT64_MAX /* the go value that tells a worker to return (never a job number) */

static pool P = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
    .busy = ATOMIC_FLAG_INIT,
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *worker(void *arg)
{
    size_t id = (size_t)(uintptr_t)arg;
    _Atomic uint64_t *go = &S[id].go;
    uint64_t seen = 0; /* go starts at 0 and changes only for jobs this worker is in */
    for (;;) {
        uint64_t g;
        size_t spins = 0;
        while ((g = atomic_load_explicit(go, memory_order_acquire)) == seen) {
            if (++spins < SPIN_PAUSE)
                cpu_relax();
            else if (spins < SPIN_PAUSE + SPIN_YIELD)
                sched_yield();
            else {
                pthread_mutex_lock(&P.mu);
                atomic_fetch_add(&P.sleepers, 1);
                while ((g = atomic_load(go)) == seen)
                    pthread_cond_wait(&P.cv, &P.mu);
                atomic_fetch_sub(&P.sleepers, 1);
                pthread_mutex_unlock(&P.mu);
                break;
            }
        }
        seen = g;
        if (g == STOP_GO)
            return NULL;
        P.fn(P.ctx, id, P.nparts);
        atomic_fetch_sub_explicit(&P.pending, 1, memory_order_release);
    }
    return NULL;
}

/* The default thread count, by OpenBLAS's own rule, so that both use the same number unless
 * told otherwise: OPENBLAS_NUM_THREADS, else OMP_NUM_THREADS, else one per online core. */
static size_t default_threads(void)
{
    static const char *const vars[] = {"OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS"};
    for (size_t i = 0; i < 2; i++) {
        const char *v = getenv(vars[i]);
        char *end;
        long n = v && *v ? strtol(v, &end, 10) : 0;
        if (v && *v && !*end && n > 0)
            return (size_t)n;
    }
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (size_t)n : 1;
}

size_t lm_pool_threads(void)
{
    size_t n = atomic_load(&P.threads);
    if (n == 0) {
        size_t def = default_threads(), zero = 0;
        def = def > LM_POOL_MAX ? LM_POOL_MAX : def;
        /* A concurrent lm_pool_set_threads wins over the default. */
        n = atomic_compare_exchange_strong(&P.threads, &zero, def) ? def : zero;
    }
    return n;
}

void lm_pool_set_threads(size_t n)
{
    if (n < 1)
        n = 1;
    if (n > LM_POOL_MAX)
        n = LM_POOL_MAX;
    atomic_store(&P.threads, n);
}

/* fork: the child has none of the parent's workers, and P.mu may have been held by one. */
static void before_fork(void)
{
    pthread_mutex_lock(&P.mu);
}

static void after_fork_parent(void)
{
    pthread_mutex_unlock(&P.mu);
}

static void after_fork_child(void)
{
    pthread_mutex_init(&P.mu, NULL);
    pthread_cond_init(&P.cv, NULL);
    P.started = 0;
    atomic_store(&P.sleepers, 0);
    atomic_store(&P.pending, 0);
    for (size_t i = 0; i < LM_POOL_MAX; i++)
        atomic_store(&S[i].go, 0);
    atomic_flag_clear(&P.busy);
}

static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

static void register_atfork(void)
{
    pthread_atfork(before_fork, after_fork_parent, after_fork_child);
}

/* Starts workers 1..n-1 that do not exist yet; returns how many parts can run. */
static size_t ensure_workers(size_t n)
{
    pthread_once(&atfork_once, register_atfork);
    pthread_mutex_lock(&P.mu);
    if (P.started == 0)
        P.started = 1;
    while (P.started < n) {
        if (pthread_create(&P.tid[P.started], NULL, worker, (void *)(uintptr_t)P.started) != 0)
            break;
        P.started++;
    }
    size_t have = P.started;
    pthread_mutex_unlock(&P.mu);
    return have < n ? have : n;
}

void lm_pool_run(size_t n, lm_pool_fn fn, void *ctx)
{
    size_t threads = lm_pool_threads();
    if (n > threads)
        n = threads;
    if (n <= 1 || atomic_load(&P.stop) || atomic_flag_test_and_set(&P.busy)) {
        for (size_t i = 0; i < n; i++)
            fn(ctx, i, n);
        return;
    }
    n = ensure_workers(n);
    if (n <= 1) {
        fn(ctx, 0, 1);
        atomic_flag_clear(&P.busy);
        return;
    }
    P.fn = fn;
    P.ctx = ctx;
    P.nparts = n;
    atomic_store(&P.pending, n - 1);
    P.job++;
    for (size_t i = 1; i < n; i++)
        atomic_store(&S[i].go, P.job); /* publishes the job (sequentially consistent) */
    if (atomic_load(&P.sleepers) > 0) {
        pthread_mutex_lock(&P.mu);
        pthread_cond_broadcast(&P.cv);
        pthread_mutex_unlock(&P.mu);
    }
    fn(ctx, 0, n);
    size_t spins = 0;
    while (atomic_load_explicit(&P.pending, memory_order_acquire) != 0)
        if (++spins < SPIN_PAUSE)
            cpu_relax();
        else
            sched_yield();
    atomic_flag_clear(&P.busy);
}

/* At exit or unload: wake every worker with the stop flag set and join it, so the process
 * ends with no thread of ours running (and Valgrind sees their stacks freed). */
__attribute__((destructor)) static void pool_stop(void)
{
    atomic_store(&P.stop, 1); /* from now on lm_pool_run runs serially */
    /* A job in flight on another thread (exit called during it): leave the workers be. */
    if (atomic_flag_test_and_set(&P.busy))
        return;
    pthread_mutex_lock(&P.mu);
    size_t n = P.started;
    for (size_t i = 1; i < n; i++)
        atomic_store(&S[i].go, STOP_GO);
    pthread_cond_broadcast(&P.cv);
    pthread_mutex_unlock(&P.mu);
    for (size_t i = 1; i < n; i++)
        pthread_join(P.tid[i], NULL);
    pthread_mutex_lock(&P.mu);
    P.started = n > 0 ? 1 : 0;
    pthread_mutex_unlock(&P.mu);
}

void lm_pool_range(size_t n, size_t part, size_t nparts, size_t *lo, size_t *hi)
{
    *lo = n * part / nparts;
    *hi = n * (part + 1) / nparts;
}

bool lm_pool_range16(size_t n, size_t part, size_t nparts, size_t *lo, size_t *hi)
{
    lm_pool_range((n + 15) / 16, part, nparts, lo, hi);
    *lo *= 16;
    *hi = *hi * 16 < n ? *hi * 16 : n;
    return *lo < *hi;
}
