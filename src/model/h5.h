/* h5.h - a small HDF5 layer: atomic file creation, attributes and datasets by path, with
 * shape checks and one-line error messages. The only users of <hdf5.h> live in io_hdf5.c;
 * other modules (model, trainer, n-gram, chat state) use these functions. */
#ifndef LM_H5_H
#define LM_H5_H

#include "base/base.h"

#include <stdio.h>
#include <string.h>

typedef struct lm_h5 lm_h5;

/* Creates `path`.tmp for writing; lm_h5_commit closes and renames it over path. */
int lm_h5_create(const char *path, lm_h5 **out, lm_error *err);
int lm_h5_commit(lm_h5 *h, lm_error *err);
/* Closes and removes an uncommitted file (or closes a file opened for reading). NULL ok. */
void lm_h5_close(lm_h5 *h);
/* Opens an existing file read-only; refuses non-HDF5 and damaged files with LM_EFORMAT. */
int lm_h5_open(const char *path, lm_h5 **out, lm_error *err);
const char *lm_h5_path(const lm_h5 *h);

/* obj is a group path ("/", "/config"); groups are created on demand when writing. */
int lm_h5_attr_set_str(lm_h5 *h, const char *obj, const char *name, const char *val, lm_error *err);
int lm_h5_attr_set_u64(lm_h5 *h, const char *obj, const char *name, uint64_t val, lm_error *err);
int lm_h5_attr_set_f64(lm_h5 *h, const char *obj, const char *name, double val, lm_error *err);
/* Reading a missing attribute fails with LM_EFORMAT naming it. */
int lm_h5_attr_str(lm_h5 *h, const char *obj, const char *name, char *buf, size_t cap, lm_error *err);
int lm_h5_attr_u64(lm_h5 *h, const char *obj, const char *name, uint64_t *val, lm_error *err);
int lm_h5_attr_f64(lm_h5 *h, const char *obj, const char *name, double *val, lm_error *err);
int lm_h5_has_attr(lm_h5 *h, const char *obj, const char *name);
int lm_h5_exists(lm_h5 *h, const char *path);

/* Datasets of rank 1..4. Writing creates missing parent groups. Reading checks the stored
 * shape equals dims exactly (LM_EFORMAT otherwise). */
enum { LM_H5_F32, LM_H5_F64, LM_H5_I32, LM_H5_U64, LM_H5_U8, LM_H5_I8, LM_H5_U16 };
int lm_h5_write(lm_h5 *h, const char *path, int type, const void *data, int rank,
                const size_t *dims, lm_error *err);
int lm_h5_read(lm_h5 *h, const char *path, int type, void *data, int rank, const size_t *dims,
               lm_error *err);
/* Shape of a dataset: rank and up to 4 dims. */
int lm_h5_shape(lm_h5 *h, const char *path, int *rank, size_t *dims, lm_error *err);

/* UTF-8 variable-length strings. read: *strs is an array of malloc'd strings, free with
 * lm_h5_free_strings. */
int lm_h5_write_strings(lm_h5 *h, const char *path, const char *const *strs, size_t n, lm_error *err);
int lm_h5_read_strings(lm_h5 *h, const char *path, char ***strs, size_t *n, lm_error *err);
void lm_h5_free_strings(char **strs, size_t n);

/* The vocabulary datasets every model file shares: /vocab/tokens (UTF-8) and /vocab/counts
 * (uint64). Reading checks there are exactly V tokens with the specials in place; caller frees
 * *out. Implemented in model_file.c. */
/* "group/name" without doubling the slash of the root group. */
static inline void lm_h5_join(char *buf, size_t cap, const char *group, const char *name)
{
    size_t gl = strlen(group);
    snprintf(buf, cap, "%s%s%s", group, gl && group[gl - 1] == '/' ? "" : "/", name);
}
/* The "arch" attribute of an lstmlm HDF5 file (after checking its format and version) into
 * buf; 1 when path is readable but not an HDF5 file (no signature), so another reader may
 * take it. */
int lm_h5_file_arch(const char *path, char *buf, size_t cap, lm_error *err);

int lm_vocab_write(lm_h5 *h, const lm_vocab *v, lm_error *err);
int lm_vocab_read(lm_h5 *h, size_t V, lm_vocab **out, lm_error *err);

#endif
