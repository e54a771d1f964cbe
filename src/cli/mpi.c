/* mpi.c - the only file that speaks MPI: data-parallel `lstmlm train` under mpirun.
 *
 * The library stays MPI-free; the trainer gets cli_mpi_allreduce as its lm_allreduce_fn. MPI
 * is initialised only when the process was started by a launcher (mpirun sets
 * OMPI_COMM_WORLD_SIZE, PMIx/PMI set PMIX_RANK/PMI_SIZE), so a plain `lstmlm train` never
 * touches it. Built without MPI (configure --without-mpi or no Open MPI), a launch with more
 * than one process is refused with a message instead of running N independent trainings. */
#include "cli.h"
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef HAVE_MPI
#include <limits.h>
#include <mpi.h>
#endif

#ifdef HAVE_MPI

static int initialized;
static double reduce_s, barrier_s;
static uint64_t reduce_calls, reduce_bytes;
static int use_barrier = -1;

bool cli_mpi_init(size_t *rank, size_t *ranks)
{
    *rank = 0;
    *ranks = 1;
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK"))
        return true; /* not started by a launcher */
    if (MPI_Init(NULL, NULL) != MPI_SUCCESS) {
        fprintf(stderr, "lstmlm: MPI_Init failed\n");
        return false;
    }
    initialized = 1;
    /* A rank whose peer fails is ended by the runtime; errors returned here are reported by
     * the trainer ("all-reduce failed") and end the job through cli_mpi_abort. */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    int r, n;
    MPI_Comm_rank(MPI_COMM_WORLD, &r);
    MPI_Comm_size(MPI_COMM_WORLD, &n);
    *rank = (size_t)r;
    *ranks = (size_t)n;
    return true;
}

int cli_mpi_allreduce(void *ud, void *buf, size_t n, int type)
{
    (void)ud;
    if (use_barrier < 0)
        use_barrier = getenv("LSTMLM_MPI_BARRIER") != NULL;
    size_t es = type == LM_REDUCE_F64 ? sizeof(double) : sizeof(float);
    MPI_Datatype dt = type == LM_REDUCE_F64 ? MPI_DOUBLE : MPI_FLOAT;
    double t0 = MPI_Wtime();
    if (use_barrier) {
        /* Benchmarks: waiting for the slowest rank is counted apart from the transfer. */
        MPI_Barrier(MPI_COMM_WORLD);
        double t1 = MPI_Wtime();
        barrier_s += t1 - t0;
        t0 = t1;
    }
    char *p = buf;
    for (size_t done = 0; done < n;) {
        size_t k = n - done > (size_t)INT_MAX / 2 ? (size_t)INT_MAX / 2 : n - done;
        int rc = MPI_Allreduce(MPI_IN_PLACE, p + done * es, (int)k, dt, MPI_SUM, MPI_COMM_WORLD);
        if (rc != MPI_SUCCESS)
            return LM_EIO;
        done += k;
    }
    reduce_s += MPI_Wtime() - t0;
    reduce_calls++;
    reduce_bytes += n * es;
    return LM_OK;
}

void cli_mpi_stats(double *reduce_seconds, double *wait_seconds, uint64_t *calls, uint64_t *bytes)
{
    *reduce_seconds = reduce_s;
    *wait_seconds = barrier_s;
    *calls = reduce_calls;
    *bytes = reduce_bytes;
}

void cli_mpi_abort(int code)
{
    if (initialized) {
        fflush(stdout);
        fflush(stderr);
        MPI_Abort(MPI_COMM_WORLD, code);
    }
}

void cli_mpi_finalize(void)
{
    if (initialized)
        MPI_Finalize();
    initialized = 0;
}

#else /* !HAVE_MPI */

static int launched_size(void)
{
    const char *names[] = {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *v = getenv(names[i]);
        if (v && atoi(v) > 0)
            return atoi(v);
    }
    return getenv("PMIX_RANK") ? 2 : 1; /* a PMIx launch of unknown size */
}

static int launched_rank(void)
{
    const char *v = getenv("OMPI_COMM_WORLD_RANK");
    if (!v)
        v = getenv("PMIX_RANK");
    if (!v)
        v = getenv("PMI_RANK");
    return v ? atoi(v) : 0;
}

bool cli_mpi_init(size_t *rank, size_t *ranks)
{
    *rank = 0;
    *ranks = 1;
    if (launched_size() <= 1)
        return true;
    if (launched_rank() == 0)
        fprintf(stderr,
                "lstmlm: this lstmlm was built without MPI, so under mpirun each of the "
                "%d processes would train alone; rebuild with Open MPI installed "
                "(./configure --with-mpi) for data-parallel training\n",
                launched_size());
    return false;
}

int cli_mpi_allreduce(void *ud, void *buf, size_t n, int type)
{
    (void)ud;
    (void)buf;
    (void)n;
    (void)type;
    return LM_OK; /* one process: the sum over ranks is the buffer itself */
}

void cli_mpi_stats(double *reduce_seconds, double *wait_seconds, uint64_t *calls, uint64_t *bytes)
{
    *reduce_seconds = *wait_seconds = 0;
    *calls = *bytes = 0;
}

void cli_mpi_abort(int code)
{
    (void)code;
}

void cli_mpi_finalize(void)
{
}

#endif

size_t cli_mpi_threads(size_t ranks)
{
    /* Ranks on this node share its cores: each gets cores / local ranks (at least 1). */
    const char *v = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long local = v ? atol(v) : (long)ranks;
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (local < 1)
        local = 1;
    if (cores < 1)
        cores = 1;
    return cores / local > 0 ? (size_t)(cores / local) : 1;
}
