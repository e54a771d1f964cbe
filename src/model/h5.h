/* h5.h - a small HDF5 layer: atomic file creation, attributes and datasets by path, with
 * shape checks and one-line error messages. The only users of <hdf5.h> live in io_hdf5.c;
 * other modules (model, trainer, n-gram, chat state) use these functions. */
#ifndef LM_H5_H
#define LM_H5_H

#include "base/base.h"

#include <stdio.h>
#include <string.h>

typedef struct lm_h5 lm_h5;

/* Starts a file for path: built in memory, with a unique temporary file "path.tmp.PID.N"
 * created next to it at once (LM_EIO when that fails, e.g. an unwritable folder; an existing
 * path that is not a regular file is refused). lm_h5_commit writes the image with the lstmlm
 * header, fsyncs and renames it over path; on failure ("m.h5: cannot write: No space left on
 * device") the temporary file is removed, the old file is untouched and every HDF5 handle is
 * closed. */
int lm_h5_create(const char *path, lm_h5 **out, lm_error *err);
int lm_h5_commit(lm_h5 *h, lm_error *err);
/* Closes and removes an uncommitted file (or closes a file opened for reading). NULL ok. */
void lm_h5_close(lm_h5 *h);
/* Opens an existing regular file read-only. A file with the lstmlm header has its checksum
 * verified before HDF5 reads it (damaged: LM_EFORMAT, "m.h5: damaged file (checksum
 * mismatch)"); a file without one (older lstmlm, h5py) is opened as plain HDF5. Refuses
 * non-regular files (LM_EIO) and non-HDF5 files (LM_EFORMAT). */
int lm_h5_open(const char *path, lm_h5 **out, lm_error *err);
const char *lm_h5_path(const lm_h5 *h);
/* 1 when the file was opened with a verified lstmlm header, 0 for a plain HDF5 file. */
int lm_h5_checked(const lm_h5 *h);

/* The 512-byte lstmlm header at the start of a file image of len bytes (len >= 512; the
 * HDF5 data starts at byte 512): fill writes it over img[0..512); check returns 1 when it is
 * present and the checksum matches, 0 when there is none, -1 when it is damaged. For tests
 * and the fuzz harnesses. */
void lm_h5_header_fill(unsigned char *img, size_t len);
int lm_h5_header_check(const unsigned char *img, size_t len);

/* obj is a group path ("/", "/config"); groups are created on demand when writing. */
int lm_h5_attr_set_str(lm_h5 *h, const char *obj, const char *name, const char *val, lm_error *err);
int lm_h5_attr_set_u64(lm_h5 *h, const char *obj, const char *name, uint64_t val, lm_error *err);
int lm_h5_attr_set_f64(lm_h5 *h, const char *obj, const char *name, double val, lm_error *err);
/* Reading a missing attribute fails with LM_EFORMAT naming it. */
int lm_h5_attr_str(lm_h5 *h, const char *obj, const char *name, char *buf, size_t cap, lm_error *err);
int lm_h5_attr_u64(lm_h5 *h, const char *obj, const char *name, uint64_t *val, lm_error *err);
int lm_h5_attr_f64(lm_h5 *h, const char *obj, const char *name, double *val, lm_error *err);
/* A uint64 array attribute of n >= 1 values; reading accepts 1..cap values (LM_EFORMAT
 * otherwise) and stores how many in *n. */
int lm_h5_attr_set_u64s(lm_h5 *h, const char *obj, const char *name, const uint64_t *v, size_t n,
                        lm_error *err);
int lm_h5_attr_u64s(lm_h5 *h, const char *obj, const char *name, uint64_t *v, size_t cap,
                    size_t *n, lm_error *err);
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

/* UTF-8 variable-length strings (format version 1 vocabularies only; new files use a byte
 * blob and offsets, see lm_vocab_write). read: *strs is an array of malloc'd strings, free
 * with lm_h5_free_strings. */
int lm_h5_write_strings(lm_h5 *h, const char *path, const char *const *strs, size_t n, lm_error *err);
int lm_h5_read_strings(lm_h5 *h, const char *path, char ***strs, size_t *n, lm_error *err);
void lm_h5_free_strings(char **strs, size_t n);

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

/* The vocabulary datasets every model file shares: /vocab/bytes (uint8, the UTF-8 tokens one
 * after another), /vocab/offsets (uint64, V + 1: token i is bytes[offsets[i], offsets[i+1]))
 * and /vocab/counts (uint64). Reading validates the offsets before use and checks there are
 * exactly V distinct tokens with the specials in place; it also reads the /vocab/tokens
 * variable-length strings of format version 1 files. Caller frees *out. Implemented in
 * model_file.c. */
int lm_vocab_write(lm_h5 *h, const lm_vocab *v, lm_error *err);
int lm_vocab_read(lm_h5 *h, size_t V, lm_vocab **out, lm_error *err);

#endif
