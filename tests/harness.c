/* harness.c - shared helpers for the CUnit test programs. */
#include "harness.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int th_close(double a, double b, double atol, double rtol)
{
    return isfinite(a) && isfinite(b) && fabs(a - b) <= atol + rtol * fabs(b);
}

const char *th_close_msg(const char *what, double a, double b)
{
    static char buf[8][256];
    static int slot;
    char *s = buf[slot++ & 7];
    snprintf(s, 256, "%s = %.9g, expected %.9g", what, a, b);
    return s;
}

int th_check_tensor(const char *name, const float *a, const float *b, size_t n, double atol,
                    double rtol)
{
    double worst = 0;
    size_t at = 0;
    int ok = 1;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - b[i]);
        double rel = d / (fabs((double)b[i]) + 1e-12);
        if (!(d <= atol + rtol * fabs((double)b[i])))
            ok = 0;
        if (rel > worst || d != d) {
            worst = rel;
            at = i;
        }
    }
    if (!ok)
        printf("\n  %s: max rel diff %.3g at [%zu] (%.9g vs %.9g)\n", name, worst, at,
               (double)a[at], (double)b[at]);
    return ok;
}

const char *th_srcpath(const char *rel)
{
    static char buf[8][4096];
    static int slot;
    char *s = buf[slot++ & 7];
    const char *src = getenv("srcdir");
    snprintf(s, 4096, "%s/%s", src && *src ? src : ".", rel);
    return s;
}

const char *th_shared(const char *rel)
{
    static char buf[8][4096];
    static int slot;
    char *s = buf[slot++ & 7];
    const char *src = getenv("srcdir");
    char base[3000];
    snprintf(base, sizeof base, "%s/../shared", src && *src ? src : ".");
    struct stat st;
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) {
        /* make distcheck builds in a nested folder: look further up. */
        snprintf(base, sizeof base, "%s/../../shared", src && *src ? src : ".");
        if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) {
            snprintf(base, sizeof base, "%s/../../../shared", src && *src ? src : ".");
            if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode))
                return NULL;
        }
    }
    snprintf(s, 4096, "%s/%s", base, rel);
    return s;
}

static char tmpdir[256];

const char *th_tmpdir(void)
{
    if (!tmpdir[0]) {
        snprintf(tmpdir, sizeof tmpdir, "/tmp/lstmlm-test-XXXXXX");
        if (!mkdtemp(tmpdir)) {
            perror("mkdtemp");
            exit(TEST_ERROR);
        }
    }
    return tmpdir;
}

int th_run(const char *suite, const th_test *tests)
{
    if (CU_initialize_registry() != CUE_SUCCESS)
        return TEST_ERROR;
    CU_pSuite s = CU_add_suite(suite, NULL, NULL);
    if (!s) {
        CU_cleanup_registry();
        return TEST_ERROR;
    }
    for (const th_test *t = tests; t->name; t++)
        if (!CU_add_test(s, t->name, t->fn)) {
            CU_cleanup_registry();
            return TEST_ERROR;
        }
    CU_basic_set_mode(CU_BRM_VERBOSE);
    CU_basic_run_tests();
    unsigned failed = CU_get_number_of_failures() + CU_get_number_of_tests_failed();
    unsigned ran = CU_get_number_of_tests_run();
    CU_cleanup_registry();
    if (tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
        if (system(cmd) != 0)
            fprintf(stderr, "could not remove %s\n", tmpdir);
    }
    if (failed)
        return TEST_FAIL;
    return ran ? TEST_PASS : TEST_SKIP;
}

/* Central difference of f in x[i] with step h. */
static double central(float *x, size_t i, double h, th_loss_fn f, void *ud)
{
    float keep = x[i], up = keep + (float)h, down = keep - (float)h;
    x[i] = up;
    double lp = f(ud);
    x[i] = down;
    double lm = f(ud);
    x[i] = keep;
    /* The steps float can take, not the ones asked for: at h = 1e-4 beside a weight near 1
     * they differ by 0.1%. */
    return (lp - lm) / ((double)up - down);
}

/* The float rounding noise of f around x[i]: the largest change of f over steps of a few
 * ulps of x[i] (of 1e-6 at least), which move the true f by a negligible g * 1e-6. A central
 * difference with step h carries up to about noise / h of it. */
static double noise(float *x, size_t i, th_loss_fn f, void *ud)
{
    float keep = x[i];
    double f0 = f(ud), worst = 0;
    float ulp = fmaxf(fabsf(keep) * FLT_EPSILON, 1e-6f);
    for (int k = -3; k <= 3; k++) {
        if (!k)
            continue;
        x[i] = keep + (float)k * ulp;
        worst = fmax(worst, fabs(f(ud) - f0));
    }
    x[i] = keep;
    return worst;
}

int th_fd_check(const th_fd *o, const char *name, float *x, const float *g, size_t n, th_loss_fn f,
                void *ud)
{
    int ok = 1;
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double num = o->method == TH_FD_RICHARDSON
                         ? (4 * central(x, i, o->eps / 2, f, ud) - central(x, i, o->eps, f, ud)) / 3
                         : central(x, i, o->eps, f, ud);
        double d = fabs(num - g[i]);
        double h = o->eps, tol = o->atol + o->rtol * fabs(num);
        for (double h2 = o->eps / 4; o->method == TH_FD_RETRY && d > tol && h2 > o->eps / 100;
             h2 /= 4) {
            double num2 = central(x, i, h2, f, ud), d2 = fabs(num2 - g[i]);
            if (d2 < d) {
                num = num2;
                d = d2;
                h = h2;
                tol = o->atol + o->rtol * fabs(num);
            }
        }
        /* A miss within what the rounding of f explains at that step is no miss: a whole
         * model's loss in float32 moves by about 1e-6 of itself at random, which a step of
         * 1e-2 turns into 1e-4 of the gradient (Richardson's combination adds a factor 3). */
        if (d > tol)
            tol += (o->method == TH_FD_RICHARDSON ? 3 : 1) * 2 * noise(x, i, f, ud) / h;
        double rel = d / (fabs(num) + fabs(g[i]) + 1e-8);
        if (d > tol) {
            if (ok)
                printf("\n  %s[%zu]: analytic %.6g numeric %.6g", name, i, (double)g[i], num);
            ok = 0;
        }
        if (rel > worst && d > o->atol)
            worst = rel;
    }
    if (!ok)
        printf("\n  %s: worst relative error %.3g\n", name, worst);
    return ok;
}

void th_fd_direction(float *x, const float *g, const float *dir, size_t n, double h, th_loss_fn f,
                     void *ud, double *analytic, double *numeric)
{
    float *keep = malloc(n * sizeof *keep);
    CU_ASSERT_PTR_NOT_NULL_FATAL(keep);
    memcpy(keep, x, n * sizeof *keep);
    double an = 0;
    for (size_t i = 0; i < n; i++)
        an += (double)dir[i] * g[i];
    /* Richardson's combination of steps h and h / 2: a random direction over every weight
     * at once meets the curvature of LayerNorm and attention, which one step of 1e-3 does not
     * resolve to 2%. */
    double d[2];
    for (int k = 0; k < 2; k++) {
        float s = (float)(k ? h / 2 : h);
        for (size_t i = 0; i < n; i++)
            x[i] = keep[i] + s * dir[i];
        double lp = f(ud);
        for (size_t i = 0; i < n; i++)
            x[i] = keep[i] - s * dir[i];
        double lm = f(ud);
        d[k] = (lp - lm) / (2.0 * s);
    }
    memcpy(x, keep, n * sizeof *keep);
    free(keep);
    *analytic = an;
    *numeric = (4 * d[1] - d[0]) / 3;
}

/* ---- borrowed handles ------------------------------------------------------------------- */

#include "model/kind.h"
#include "lm/lm.h"

static void borrow_free(void *impl)
{
    (void)impl;
}

#define TH_MAX_HANDLES 256
static lm_model *handles[TH_MAX_HANDLES];
static size_t n_handles;
static lm_kind borrowed, borrowed_ngram;

static void free_handles(void)
{
    for (size_t i = 0; i < n_handles; i++)
        lm_model_free(handles[i]);
    n_handles = 0;
}

static lm_model *borrow(lm_kind *k, const lm_kind *base, void *impl)
{
    for (size_t i = 0; i < n_handles; i++)
        if (handles[i]->impl == impl)
            return handles[i];
    if (!k->step) {
        *k = *base;
        k->free = borrow_free;
        if (!borrowed.step || !borrowed_ngram.step)
            atexit(free_handles);
    }
    LM_ASSERT(n_handles < TH_MAX_HANDLES);
    lm_model *m = NULL;
    LM_ASSERT(lm_model_wrap(k, impl, &m, NULL) == LM_OK);
    handles[n_handles++] = m;
    return m;
}

lm_model *th_ngram_model(lm_ngram *g)
{
    return borrow(&borrowed_ngram, &lm_kind_ngram, g);
}


lm_model *th_model(struct lm_net *n)
{
    return borrow(&borrowed, &lm_kind_neural, n);
}
