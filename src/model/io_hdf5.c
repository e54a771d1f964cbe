/* io_hdf5.c - the one file that includes <hdf5.h>: the small HDF5 layer of h5.h. */
#include "model/h5.h"

#include <errno.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct lm_h5 {
    hid_t f;
    int writing;
    char path[4096];
    char tmp[4200];
    H5E_auto2_t old_fn;
    void *old_data;
};

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *ud)
{
    if (n == 0 && e->desc)
        snprintf(ud, 256, "%s", e->desc);
    return 0;
}

/* Fails with the innermost message of the HDF5 error stack. */
static int h5_fail(lm_error *err, int code, const char *path, const char *what)
{
    char desc[256] = "";
    H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, walk_cb, desc);
    H5Eclear2(H5E_DEFAULT);
    if (desc[0])
        return lm_fail(err, code, "%s: %s (%s)", path, what, desc);
    return lm_fail(err, code, "%s: %s", path, what);
}

static void quiet(lm_h5 *h)
{
    H5Eget_auto2(H5E_DEFAULT, &h->old_fn, &h->old_data);
    H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void loud(lm_h5 *h)
{
    H5Eset_auto2(H5E_DEFAULT, h->old_fn, h->old_data);
}

const char *lm_h5_path(const lm_h5 *h)
{
    return h->path;
}

int lm_h5_create(const char *path, lm_h5 **out, lm_error *err)
{
    lm_h5 *h = calloc(1, sizeof *h);
    if (!h)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    if (strlen(path) >= sizeof h->path) {
        free(h);
        return lm_fail(err, LM_EINVAL, "%s: path too long", path);
    }
    snprintf(h->path, sizeof h->path, "%s", path);
    snprintf(h->tmp, sizeof h->tmp, "%s.tmp", path);
    quiet(h);
    h->f = H5Fcreate(h->tmp, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    if (h->f < 0) {
        int rc = lm_fail(err, LM_EIO, "%s: cannot create file (%s)", h->tmp,
                         errno ? strerror(errno) : "HDF5 error");
        H5Eclear2(H5E_DEFAULT);
        loud(h);
        free(h);
        return rc;
    }
    h->writing = 1;
    *out = h;
    return LM_OK;
}

int lm_h5_commit(lm_h5 *h, lm_error *err)
{
    int rc = LM_OK;
    if (H5Fclose(h->f) < 0)
        rc = h5_fail(err, LM_EIO, h->tmp, "cannot finish writing");
    h->f = H5I_INVALID_HID;
    if (rc == LM_OK && rename(h->tmp, h->path) != 0)
        rc = lm_fail(err, LM_EIO, "%s: cannot rename %s into place: %s", h->path, h->tmp,
                     strerror(errno));
    if (rc != LM_OK)
        unlink(h->tmp);
    loud(h);
    free(h);
    return rc;
}

void lm_h5_close(lm_h5 *h)
{
    if (!h)
        return;
    if (h->f >= 0)
        H5Fclose(h->f);
    if (h->writing)
        unlink(h->tmp);
    H5Eclear2(H5E_DEFAULT);
    loud(h);
    free(h);
}

int lm_h5_open(const char *path, lm_h5 **out, lm_error *err)
{
    lm_h5 *h = calloc(1, sizeof *h);
    if (!h)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    snprintf(h->path, sizeof h->path, "%s", path);
    if (access(path, R_OK) != 0) {
        int rc = lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
        free(h);
        return rc;
    }
    quiet(h);
    htri_t is = H5Fis_hdf5(path);
    if (is <= 0) {
        H5Eclear2(H5E_DEFAULT);
        loud(h);
        free(h);
        return lm_fail(err, LM_EFORMAT, "%s: not an HDF5 file", path);
    }
    h->f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    if (h->f < 0) {
        int rc = h5_fail(err, LM_EFORMAT, path, "damaged HDF5 file");
        loud(h);
        free(h);
        return rc;
    }
    *out = h;
    return LM_OK;
}

/* Opens (creating when writing) the group at obj. */
static hid_t group(lm_h5 *h, const char *obj, int create)
{
    if (!strcmp(obj, "/"))
        return H5Gopen2(h->f, "/", H5P_DEFAULT);
    if (H5Lexists(h->f, obj, H5P_DEFAULT) > 0)
        return H5Oopen(h->f, obj, H5P_DEFAULT);
    if (!create)
        return H5I_INVALID_HID;
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t g = H5Gcreate2(h->f, obj, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return g;
}

static int attr_write(lm_h5 *h, const char *obj, const char *name, hid_t type, const void *v,
                      lm_error *err)
{
    hid_t g = group(h, obj, 1), sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
    int rc = LM_OK;
    if (g < 0) {
        rc = h5_fail(err, LM_EHDF5, h->path, obj);
        goto out;
    }
    sp = H5Screate(H5S_SCALAR);
    if (H5Aexists(g, name) > 0)
        H5Adelete(g, name);
    a = H5Acreate2(g, name, type, sp, H5P_DEFAULT, H5P_DEFAULT);
    if (a < 0 || H5Awrite(a, type, v) < 0)
        rc = h5_fail(err, LM_EHDF5, h->path, name);
out:
    if (a >= 0)
        H5Aclose(a);
    if (sp >= 0)
        H5Sclose(sp);
    if (g >= 0)
        H5Oclose(g);
    return rc;
}

int lm_h5_attr_set_str(lm_h5 *h, const char *obj, const char *name, const char *val,
                       lm_error *err)
{
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, strlen(val) + 1);
    H5Tset_cset(t, H5T_CSET_UTF8);
    int rc = attr_write(h, obj, name, t, val, err);
    H5Tclose(t);
    return rc;
}

int lm_h5_attr_set_u64(lm_h5 *h, const char *obj, const char *name, uint64_t val, lm_error *err)
{
    return attr_write(h, obj, name, H5T_NATIVE_UINT64, &val, err);
}

int lm_h5_attr_set_f64(lm_h5 *h, const char *obj, const char *name, double val, lm_error *err)
{
    return attr_write(h, obj, name, H5T_NATIVE_DOUBLE, &val, err);
}

int lm_h5_has_attr(lm_h5 *h, const char *obj, const char *name)
{
    hid_t g = group(h, obj, 0);
    if (g < 0) {
        H5Eclear2(H5E_DEFAULT);
        return 0;
    }
    int r = H5Aexists(g, name) > 0;
    H5Oclose(g);
    H5Eclear2(H5E_DEFAULT);
    return r;
}

int lm_h5_exists(lm_h5 *h, const char *path)
{
    /* H5Lexists needs every parent to exist: check each prefix. */
    char buf[512];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = '\0';
            int e = H5Lexists(h->f, buf, H5P_DEFAULT) > 0;
            *p = '/';
            if (!e) {
                H5Eclear2(H5E_DEFAULT);
                return 0;
            }
        }
    int r = H5Lexists(h->f, path, H5P_DEFAULT) > 0;
    H5Eclear2(H5E_DEFAULT);
    return r;
}

/* Opens attribute name of obj for reading. */
static hid_t attr_open(lm_h5 *h, const char *obj, const char *name, hid_t *g, lm_error *err)
{
    *g = group(h, obj, 0);
    if (*g < 0 || H5Aexists(*g, name) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        if (*g >= 0)
            H5Oclose(*g);
        *g = H5I_INVALID_HID;
        lm_fail(err, LM_EFORMAT, "%s: missing attribute %s%s%s", h->path, obj,
                strcmp(obj, "/") ? "/" : "", name);
        return H5I_INVALID_HID;
    }
    return H5Aopen(*g, name, H5P_DEFAULT);
}

int lm_h5_attr_str(lm_h5 *h, const char *obj, const char *name, char *buf, size_t cap,
                   lm_error *err)
{
    hid_t g, a = attr_open(h, obj, name, &g, err), t = H5I_INVALID_HID;
    int rc = LM_OK;
    if (a < 0)
        return g >= 0 ? h5_fail(err, LM_EFORMAT, h->path, name) : LM_EFORMAT;
    t = H5Aget_type(a);
    if (H5Tget_class(t) != H5T_STRING) {
        rc = lm_fail(err, LM_EFORMAT, "%s: attribute %s is not a string", h->path, name);
        goto out;
    }
    if (H5Tis_variable_str(t) > 0) {
        char *s = NULL;
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, H5T_VARIABLE);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (H5Aread(a, mt, &s) < 0)
            rc = h5_fail(err, LM_EFORMAT, h->path, name);
        else
            snprintf(buf, cap, "%s", s ? s : "");
        if (s)
            H5free_memory(s);
        H5Tclose(mt);
    } else {
        size_t sz = H5Tget_size(t);
        char *s = calloc(1, sz + 1);
        hid_t mt = H5Tcopy(H5T_C_S1);
        H5Tset_size(mt, sz + 1);
        H5Tset_cset(mt, H5Tget_cset(t));
        if (!s || H5Aread(a, mt, s) < 0)
            rc = h5_fail(err, LM_EFORMAT, h->path, name);
        else
            snprintf(buf, cap, "%s", s);
        free(s);
        H5Tclose(mt);
    }
out:
    H5Tclose(t);
    H5Aclose(a);
    H5Oclose(g);
    return rc;
}

static int attr_num(lm_h5 *h, const char *obj, const char *name, hid_t mt, void *v,
                    lm_error *err)
{
    hid_t g, a = attr_open(h, obj, name, &g, err);
    if (a < 0)
        return g >= 0 ? h5_fail(err, LM_EFORMAT, h->path, name) : LM_EFORMAT;
    int rc = LM_OK;
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    if ((H5Tget_class(t) != H5T_INTEGER && H5Tget_class(t) != H5T_FLOAT) ||
        H5Sget_simple_extent_npoints(sp) != 1)
        rc = lm_fail(err, LM_EFORMAT, "%s: attribute %s is not a number", h->path, name);
    else if (H5Aread(a, mt, v) < 0)
        rc = h5_fail(err, LM_EFORMAT, h->path, name);
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    H5Oclose(g);
    return rc;
}

int lm_h5_attr_u64(lm_h5 *h, const char *obj, const char *name, uint64_t *val, lm_error *err)
{
    return attr_num(h, obj, name, H5T_NATIVE_UINT64, val, err);
}

int lm_h5_attr_f64(lm_h5 *h, const char *obj, const char *name, double *val, lm_error *err)
{
    return attr_num(h, obj, name, H5T_NATIVE_DOUBLE, val, err);
}

static hid_t mem_type(int type)
{
    switch (type) {
    case LM_H5_F32: return H5T_NATIVE_FLOAT;
    case LM_H5_F64: return H5T_NATIVE_DOUBLE;
    case LM_H5_I32: return H5T_NATIVE_INT32;
    case LM_H5_U64: return H5T_NATIVE_UINT64;
    case LM_H5_I8: return H5T_NATIVE_INT8;
    case LM_H5_U16: return H5T_NATIVE_UINT16;
    default: return H5T_NATIVE_UINT8;
    }
}

static hid_t file_type(int type)
{
    switch (type) {
    case LM_H5_F32: return H5T_IEEE_F32LE;
    case LM_H5_F64: return H5T_IEEE_F64LE;
    case LM_H5_I32: return H5T_STD_I32LE;
    case LM_H5_U64: return H5T_STD_U64LE;
    case LM_H5_I8: return H5T_STD_I8LE;
    case LM_H5_U16: return H5T_STD_U16LE;
    default: return H5T_STD_U8LE;
    }
}

static hid_t create_dataset(lm_h5 *h, const char *path, hid_t ftype, hid_t space)
{
    hid_t lcpl = H5Pcreate(H5P_LINK_CREATE);
    H5Pset_create_intermediate_group(lcpl, 1);
    hid_t d = H5Dcreate2(h->f, path, ftype, space, lcpl, H5P_DEFAULT, H5P_DEFAULT);
    H5Pclose(lcpl);
    return d;
}

int lm_h5_write(lm_h5 *h, const char *path, int type, const void *data, int rank,
                const size_t *dims, lm_error *err)
{
    hsize_t hd[4];
    LM_ASSERT(rank >= 1 && rank <= 4);
    for (int i = 0; i < rank; i++)
        hd[i] = dims[i];
    hid_t sp = H5Screate_simple(rank, hd, NULL);
    hid_t d = create_dataset(h, path, file_type(type), sp);
    int rc = LM_OK;
    if (d < 0 || H5Dwrite(d, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = h5_fail(err, LM_EIO, h->tmp, path);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    return rc;
}

int lm_h5_shape(lm_h5 *h, const char *path, int *rank, size_t *dims, lm_error *err)
{
    if (!lm_h5_exists(h, path))
        return lm_fail(err, LM_EFORMAT, "%s: missing dataset %s", h->path, path);
    hid_t d = H5Dopen2(h->f, path, H5P_DEFAULT);
    if (d < 0)
        return h5_fail(err, LM_EFORMAT, h->path, path);
    hid_t sp = H5Dget_space(d);
    int r = H5Sget_simple_extent_ndims(sp);
    int rc = LM_OK;
    if (r < 0 || r > 4)
        rc = lm_fail(err, LM_EFORMAT, "%s: dataset %s has an unsupported rank", h->path, path);
    else {
        hsize_t hd[4];
        H5Sget_simple_extent_dims(sp, hd, NULL);
        for (int i = 0; i < r; i++)
            dims[i] = (size_t)hd[i];
        *rank = r;
    }
    H5Sclose(sp);
    H5Dclose(d);
    return rc;
}

int lm_h5_read(lm_h5 *h, const char *path, int type, void *data, int rank, const size_t *dims,
               lm_error *err)
{
    int r;
    size_t got[4];
    int rc = lm_h5_shape(h, path, &r, got, err);
    if (rc)
        return rc;
    int same = r == rank;
    for (int i = 0; same && i < r; i++)
        same = got[i] == dims[i];
    if (!same) {
        char want[96] = "", have[96] = "";
        for (int i = 0; i < rank; i++)
            snprintf(want + strlen(want), sizeof want - strlen(want), "%s%zu", i ? "," : "",
                     dims[i]);
        for (int i = 0; i < r; i++)
            snprintf(have + strlen(have), sizeof have - strlen(have), "%s%zu", i ? "," : "",
                     got[i]);
        return lm_fail(err, LM_EFORMAT, "%s: dataset %s has shape (%s), expected (%s)", h->path,
                       path, have, want);
    }
    hid_t d = H5Dopen2(h->f, path, H5P_DEFAULT);
    if (d < 0)
        return h5_fail(err, LM_EFORMAT, h->path, path);
    hid_t t = H5Dget_type(d);
    H5T_class_t cls = H5Tget_class(t);
    if (cls != H5T_INTEGER && cls != H5T_FLOAT)
        rc = lm_fail(err, LM_EFORMAT, "%s: dataset %s is not numeric", h->path, path);
    else if (H5Dread(d, mem_type(type), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = h5_fail(err, LM_EFORMAT, h->path, path);
    H5Tclose(t);
    H5Dclose(d);
    return rc;
}

int lm_h5_write_strings(lm_h5 *h, const char *path, const char *const *strs, size_t n,
                        lm_error *err)
{
    hsize_t dim = n;
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5T_CSET_UTF8);
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t d = create_dataset(h, path, t, sp);
    int rc = LM_OK;
    if (d < 0 || (n && H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, strs) < 0))
        rc = h5_fail(err, LM_EIO, h->tmp, path);
    if (d >= 0)
        H5Dclose(d);
    H5Sclose(sp);
    H5Tclose(t);
    return rc;
}

void lm_h5_free_strings(char **strs, size_t n)
{
    if (!strs)
        return;
    for (size_t i = 0; i < n; i++)
        free(strs[i]);
    free(strs);
}

int lm_h5_read_strings(lm_h5 *h, const char *path, char ***out, size_t *nout, lm_error *err)
{
    int r;
    size_t dims[4];
    int rc = lm_h5_shape(h, path, &r, dims, err);
    if (rc)
        return rc;
    if (r != 1)
        return lm_fail(err, LM_EFORMAT, "%s: dataset %s is not a list of strings", h->path, path);
    size_t n = dims[0];
    hid_t d = H5Dopen2(h->f, path, H5P_DEFAULT);
    hid_t ft = H5Dget_type(d);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    H5Tset_cset(t, H5Tget_cset(ft));
    char **raw = calloc(n ? n : 1, sizeof *raw);
    char **strs = calloc(n ? n : 1, sizeof *strs);
    if (!raw || !strs) {
        rc = lm_fail(err, LM_ENOMEM, "out of memory");
        goto out;
    }
    if (H5Tget_class(ft) != H5T_STRING || H5Tis_variable_str(ft) <= 0) {
        rc = lm_fail(err, LM_EFORMAT, "%s: dataset %s is not variable-length strings", h->path,
                     path);
        goto out;
    }
    if (n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0) {
        rc = h5_fail(err, LM_EFORMAT, h->path, path);
        goto out;
    }
    for (size_t i = 0; i < n; i++) {
        strs[i] = strdup(raw[i] ? raw[i] : "");
        if (!strs[i]) {
            rc = lm_fail(err, LM_ENOMEM, "out of memory");
            break;
        }
    }
    if (n) {
        hid_t sp = H5Dget_space(d);
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, raw);
        H5Sclose(sp);
    }
out:
    free(raw);
    H5Tclose(t);
    H5Tclose(ft);
    H5Dclose(d);
    if (rc) {
        lm_h5_free_strings(strs, n);
        return rc;
    }
    *out = strs;
    *nout = n;
    return LM_OK;
}
