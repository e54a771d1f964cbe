/* error.c - error codes, messages and the log callback. */
#include "base/base.h"

#include <stdatomic.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static lm_log_fn log_fn;
static void *log_ud;

const char *lm_version_string(void)
{
    return "0.1.0";
}

const char *lm_strerror(int code)
{
    switch (code) {
    case LM_OK: return "success";
    case LM_ENOMEM: return "out of memory";
    case LM_EINVAL: return "invalid argument";
    case LM_EIO: return "input/output error";
    case LM_EFORMAT: return "malformed file";
    case LM_EHDF5: return "HDF5 error";
    case LM_EDIVERGED: return "training diverged";
    case LM_EINTR: return "interrupted";
    case LM_EMISMATCH: return "mismatch";
    default: return "unknown error";
    }
}

void lm_assert_fail(const char *file, int line, const char *expr)
{
    fprintf(stderr, "lstmlm: %s:%d: assertion failed: %s\n", file, line, expr);
    abort();
}

int lm_fail(lm_error *err, int code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
        va_end(ap);
    }
    return code;
}

void lm_error_prefix(lm_error *err, const char *fmt, ...)
{
    if (!err)
        return;
    char pre[128], old[sizeof err->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%.127s: %.380s", pre, old);
}

void lm_set_log_fn(lm_log_fn fn, void *ud)
{
    log_fn = fn;
    log_ud = ud;
}

void lm_log(const char *fmt, ...)
{
    if (!log_fn)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    log_fn(log_ud, line);
}

float *lm_alloc_floats(size_t n)
{
    size_t bytes;
    if (!lm_mul_ok(n ? n : 1, sizeof(float), &bytes))
        return NULL;
    bytes = (bytes + 63) & ~(size_t)63;
    float *p = aligned_alloc(64, bytes);
    if (p)
        memset(p, 0, bytes);
    return p;
}

void lm_free(void *p)
{
    free(p);
}

int lm_grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n <= *cap)
        return LM_OK;
    size_t c = *cap ? *cap : 16, bytes;
    while (c < n) {
        if (c > SIZE_MAX / 2)
            return LM_ENOMEM;
        c *= 2;
    }
    if (!lm_mul_ok(c, size, &bytes))
        return LM_ENOMEM;
    void *q = realloc(*p, bytes);
    if (!q)
        return LM_ENOMEM;
    *p = q;
    *cap = c;
    return LM_OK;
}

int lm_kernel_get(lm_kernel_choice *k)
{
    int c = atomic_load_explicit(&k->chosen, memory_order_relaxed);
    if (c < 0) {
        int unset = -1, d = k->detect();
        /* A concurrent lm_kernel_force wins over the detected default. */
        c = atomic_compare_exchange_strong(&k->chosen, &unset, d) ? d : unset;
    }
    return c;
}

bool lm_kernel_force(lm_kernel_choice *k, int want)
{
    int best = k->detect();
    if (want > best)
        return false;
    atomic_store(&k->chosen, want < 0 ? best : want);
    return true;
}
