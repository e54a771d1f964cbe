/* bandwidth.c - streaming read bandwidth: each of T threads sums its share of a buffer of
 * SIZE bytes (float32, 8 independent accumulators so the adds never limit it), repeated for
 * about SECONDS; prints the best pass in GB/s (10^9 bytes), and the sustained rate: the best
 * of the stretches of a quarter of a second (consecutive passes) the run splits into, which
 * is what a timed run of a few hundred generated tokens can be compared with (one pass can
 * catch a quiet millisecond a longer run does not get). A buffer much larger than the
 * last-level cache measures memory; a buffer the size of a model's weights measures what a
 * batch-1 step that reads every weight once can get at best.
 *
 *   bandwidth SIZE_MIB THREADS [SECONDS]
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

typedef struct job {
    const float *p;
    size_t n;
    pthread_barrier_t *bar;
    int passes, block; /* passes, and passes per stretch */
    double best;       /* seconds of the fastest pass */
    double best_block; /* seconds of the fastest stretch of block passes */
    float sink;
} job;

static float sum(const float *restrict p, size_t n)
{
    float a[8] = {0};
    for (size_t i = 0; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++)
            a[k] += p[i + k];
    return a[0] + a[1] + a[2] + a[3] + a[4] + a[5] + a[6] + a[7];
}

static void *run(void *arg)
{
    job *j = arg;
    j->best = j->best_block = 1e30;
    double acc = 0;
    for (int r = 0; r < j->passes; r++) {
        pthread_barrier_wait(j->bar);
        double t0 = now();
        j->sink += sum(j->p, j->n);
        pthread_barrier_wait(j->bar);
        double dt = now() - t0;
        j->best = dt < j->best ? dt : j->best;
        acc += dt;
        if ((r + 1) % j->block == 0) {
            j->best_block = acc < j->best_block ? acc : j->best_block;
            acc = 0;
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bandwidth SIZE_MIB THREADS [SECONDS]\n");
        return 2;
    }
    double mib = atof(argv[1]), secs = argc > 3 ? atof(argv[3]) : 1.0;
    int T = atoi(argv[2]);
    if (mib <= 0 || T < 1 || T > 64) {
        fprintf(stderr, "bandwidth: bad size or thread count\n");
        return 2;
    }
    size_t n = (size_t)(mib * 1048576.0 / sizeof(float)) / (8 * (size_t)T) * 8 * (size_t)T;
    float *buf = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!buf)
        return 1;
    for (size_t i = 0; i < n; i++)
        buf[i] = (float)(i & 1023);
    /* One untimed pass estimates how many fit in the time. */
    double t0 = now();
    volatile float s = sum(buf, n);
    (void)s;
    double one = now() - t0;
    int passes = one > 0 ? (int)(secs / one) : 100;
    passes = passes < 3 ? 3 : passes > 20000 ? 20000 : passes;
    /* Stretches of a quarter of a second, at least one pass each, at least one stretch. */
    int block = one > 0 ? (int)(0.25 / one) : 1;
    block = block < 1 ? 1 : block > passes ? passes : block;
    pthread_barrier_t bar;
    pthread_barrier_init(&bar, NULL, (unsigned)T);
    job *jobs = calloc((size_t)T, sizeof *jobs);
    pthread_t *tid = calloc((size_t)T, sizeof *tid);
    size_t share = n / (size_t)T;
    for (int i = 0; i < T; i++) {
        jobs[i] = (job){.p = buf + (size_t)i * share, .n = share, .bar = &bar, .passes = passes,
                          .block = block};
        pthread_create(&tid[i], NULL, run, &jobs[i]);
    }
    double best = 0, best_block = 0;
    float sink = 0;
    for (int i = 0; i < T; i++) {
        pthread_join(tid[i], NULL);
        best = jobs[i].best > best ? jobs[i].best : best;
        best_block = jobs[i].best_block > best_block ? jobs[i].best_block : best_block;
        sink += jobs[i].sink;
    }
    double bytes = (double)(n * sizeof(float));
    printf("%.1f MiB, %d thread%s: %.2f GB/s (best of %d passes); sustained %.2f GB/s (best of "
           "%d stretches of %d passes)%s\n",
           mib, T, T > 1 ? "s" : "", bytes / best / 1e9, passes, bytes * block / best_block / 1e9,
           passes / block, block, sink == 12345.0f ? " " : "");
    free(jobs);
    free(tid);
    free(buf);
    return 0;
}
