/* state_buf.c - one stream's state buffer of an architecture (a recurrent state, or a key/value
 * cache that grows with the position), shared by every kind that runs an architecture's step:
 * growth, copies, its bytes, and its dataset in state files (validated when read). */
#include "model/model.h"

#include <math.h>
#include <string.h>

int lm_sbuf_reserve(float **buf, size_t *cap, const lm_arch *a, const lm_config *c, size_t pos,
                    lm_error *err)
{
    size_t need = a->state_floats(c, 1, pos);
    if (need <= *cap && *buf)
        return LM_OK;
    size_t n = need > 2 * *cap ? need : 2 * *cap;
    /* Never beyond the largest state the architecture can need (a full cache). */
    size_t most = a->state_floats(c, 1, SIZE_MAX);
    n = n > most && most >= need ? most : n;
    float *b = lm_alloc_floats(n ? n : 1);
    if (!b)
        return lm_fail(err, LM_ENOMEM, "out of memory for a state of %zu floats", n);
    if (*buf)
        memcpy(b, *buf, *cap * sizeof(float));
    lm_free(*buf);
    *buf = b;
    *cap = n;
    return LM_OK;
}

int lm_sbuf_copy(float **dst, size_t *cap, const float *src, const lm_arch *a,
                 const lm_config *c, size_t pos, lm_error *err)
{
    int rc = lm_sbuf_reserve(dst, cap, a, c, pos, err);
    if (!rc)
        memcpy(*dst, src, a->state_floats(c, 1, pos) * sizeof(float));
    return rc;
}

size_t lm_sbuf_bytes(const lm_arch *a, const lm_config *c, size_t pos)
{
    return a->state_floats(c, 1, pos) * sizeof(float);
}

int lm_sbuf_write(const float *buf, const lm_arch *a, const lm_config *c, size_t pos, lm_h5 *h,
                  const char *group, lm_error *err)
{
    size_t dims[1] = {a->state_floats(c, 1, pos)};
    char path[256];
    lm_h5_join(path, sizeof path, group, "state");
    return lm_h5_write(h, path, LM_H5_F32, buf, 1, dims, err);
}

int lm_sbuf_read(float **buf, size_t *cap, const lm_arch *a, const lm_config *c, size_t pos,
                 lm_h5 *h, const char *group, lm_error *err)
{
    char path[256];
    lm_h5_join(path, sizeof path, group, "state");
    /* Read into a temporary block so that a failed load leaves the state as it was. */
    size_t dims[1] = {a->state_floats(c, 1, pos)};
    float *tmp = lm_alloc_floats(dims[0] ? dims[0] : 1);
    if (!tmp)
        return lm_fail(err, LM_ENOMEM, "out of memory for a state of %zu floats", dims[0]);
    int rc;
    if (!(rc = lm_h5_read(h, path, LM_H5_F32, tmp, 1, dims, err))) {
        /* A damaged state is refused here rather than stepped from. */
        bool ok = true;
        for (size_t i = 0; ok && i < dims[0]; i++)
            ok = isfinite(tmp[i]);
        if (!ok || (a->state_ok && !a->state_ok(c, tmp, pos)))
            rc = lm_fail(err, LM_EFORMAT, "%s: %s holds values no %s state can hold",
                         lm_h5_path(h), path, a->name);
    }
    if (!rc && !(rc = lm_sbuf_reserve(buf, cap, a, c, pos, err)))
        memcpy(*buf, tmp, dims[0] * sizeof(float));
    lm_free(tmp);
    return rc;
}
