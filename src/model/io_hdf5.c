/* io_hdf5.c - the one file that includes <hdf5.h>: the small HDF5 layer of h5.h.
 *
 * Files are built in memory (HDF5's core driver) and written out by this file with plain
 * write(2): HDF5 itself never meets a full disk, so a failed save leaves the library usable.
 * Every file starts with a 512-byte lstmlm header in the HDF5 user block, holding a CRC-32 of
 * the whole file; lm_h5_open verifies it before the HDF5 library parses a byte (see
 * lstmlm-model(5)). Files without the header (older lstmlm, h5py fixtures) are opened as
 * plain HDF5. */
#include "model/h5.h"

#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

/* The in-memory file of a write: HDF5's core driver allocates it through these callbacks, so
 * that after H5Fclose the final image is still ours to write out. */
typedef struct h5_image {
    void *buf;
    size_t size;
    int closed; /* buf is a closed image kept by img_free, freed when a new one starts */
} h5_image;

struct lm_h5 {
    hid_t f;
    h5_image img;
    int writing;
    int checked; /* opened with a verified lstmlm header */
    int fd;      /* the temporary file while writing, else -1 */
    char path[4096];
    char tmp[4200];
    H5E_auto2_t old_fn;
    void *old_data;
};

/* ---- the lstmlm header (HDF5 user block) ------------------------------------------------- */

#define HDR_SIZE 512
static const unsigned char hdr_magic[8] = {0x89, 'L', 'S', 'T', 'M', 'L', 'M', '\n'};
static const unsigned char hdf5_sig[8] = {0x89, 'H', 'D', 'F', '\r', '\n', 0x1a, '\n'};
enum { HDR_VERSION = 1, OFF_VERSION = 8, OFF_SIZE = 12, OFF_LEN = 16, OFF_CRC = 24,
       OFF_HCRC = 28, OFF_TEXT = 32 };
static const char hdr_text[] = "lstmlm file: HDF5 data follows at byte 512, see lstmlm-model(5)\n";

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

/* CRC-32 of n bytes (zlib's, fed in pieces that fit its uInt). */
static uint32_t crc_update(uint32_t crc, const unsigned char *p, size_t n)
{
    while (n) {
        size_t k = n < (1u << 30) ? n : (1u << 30);
        crc = (uint32_t)crc32(crc, p, (uInt)k);
        p += k;
        n -= k;
    }
    return crc;
}

/* CRC of the header block with its own CRC field taken as zero. */
static uint32_t header_crc(const unsigned char *hdr)
{
    unsigned char b[HDR_SIZE];
    memcpy(b, hdr, HDR_SIZE);
    put_u32(b + OFF_HCRC, 0);
    return crc_update((uint32_t)crc32(0, Z_NULL, 0), b, HDR_SIZE);
}

void lm_h5_header_fill(unsigned char *img, size_t len)
{
    LM_ASSERT(len >= HDR_SIZE);
    memset(img, 0, HDR_SIZE);
    memcpy(img, hdr_magic, sizeof hdr_magic);
    put_u32(img + OFF_VERSION, HDR_VERSION);
    put_u32(img + OFF_SIZE, HDR_SIZE);
    put_u64(img + OFF_LEN, (uint64_t)(len - HDR_SIZE));
    put_u32(img + OFF_CRC,
            crc_update((uint32_t)crc32(0, Z_NULL, 0), img + HDR_SIZE, len - HDR_SIZE));
    memcpy(img + OFF_TEXT, hdr_text, sizeof hdr_text - 1);
    put_u32(img + OFF_HCRC, header_crc(img));
}

int lm_h5_header_check(const unsigned char *img, size_t len)
{
    if (len < HDR_SIZE || memcmp(img, hdr_magic, sizeof hdr_magic))
        return len >= HDR_SIZE + 8 && !memcmp(img + HDR_SIZE, hdf5_sig, 8) ? -1 : 0;
    if (get_u32(img + OFF_HCRC) != header_crc(img) || get_u32(img + OFF_VERSION) != HDR_VERSION ||
        get_u32(img + OFF_SIZE) != HDR_SIZE || get_u64(img + OFF_LEN) != len - HDR_SIZE)
        return -1;
    uint32_t crc = crc_update((uint32_t)crc32(0, Z_NULL, 0), img + HDR_SIZE, len - HDR_SIZE);
    return crc == get_u32(img + OFF_CRC) ? 1 : -1;
}

/* Reads up to n bytes at the current offset, retrying short reads; returns the count or -1. */
static ssize_t read_full(int fd, unsigned char *buf, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* Checks the lstmlm header of an open file of size len: 1 verified, 0 no header (a plain
 * HDF5 file), or a failure set in err. */
static int verify_file(int fd, const char *path, uint64_t len, lm_error *err)
{
    unsigned char hdr[HDR_SIZE + 8];
    ssize_t n = read_full(fd, hdr, sizeof hdr);
    if (n < 0)
        return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    if ((size_t)n < HDR_SIZE || memcmp(hdr, hdr_magic, sizeof hdr_magic)) {
        if ((size_t)n == sizeof hdr && !memcmp(hdr + HDR_SIZE, hdf5_sig, 8))
            return lm_fail(err, LM_EFORMAT, "%s: damaged file (its lstmlm header is corrupt)",
                           path);
        return 0;
    }
    if (get_u32(hdr + OFF_HCRC) != header_crc(hdr) || get_u32(hdr + OFF_VERSION) != HDR_VERSION ||
        get_u32(hdr + OFF_SIZE) != HDR_SIZE)
        return lm_fail(err, LM_EFORMAT, "%s: damaged file (its lstmlm header is corrupt)", path);
    uint64_t want = get_u64(hdr + OFF_LEN);
    if (len != want + HDR_SIZE)
        return lm_fail(err, LM_EFORMAT, "%s: damaged file (%s: %llu bytes, expected %llu)", path,
                       len < want + HDR_SIZE ? "truncated" : "trailing data",
                       (unsigned long long)len, (unsigned long long)(want + HDR_SIZE));
    if (lseek(fd, HDR_SIZE, SEEK_SET) < 0)
        return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 20;
    unsigned char *buf = malloc(cap);
    if (!buf)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    uint32_t crc = (uint32_t)crc32(0, Z_NULL, 0);
    uint64_t left = want;
    while (left) {
        size_t k = left < cap ? (size_t)left : cap;
        ssize_t r = read_full(fd, buf, k);
        if (r < 0 || (size_t)r != k) {
            int rc = r < 0 ? lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno))
                           : lm_fail(err, LM_EFORMAT, "%s: damaged file (truncated)", path);
            free(buf);
            return rc;
        }
        crc = crc_update(crc, buf, k);
        left -= k;
    }
    free(buf);
    if (crc != get_u32(hdr + OFF_CRC))
        return lm_fail(err, LM_EFORMAT, "%s: damaged file (checksum mismatch)", path);
    return 1;
}

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

/* HDF5 1.10 can be left unable to shut down after it met damaged metadata (every handle
 * closed, yet its exit handler loops, printing "HDF5: infinite loop closing library"): it is
 * not asked to. Only effective before the first HDF5 call of the process. */
static void no_atexit(void)
{
    H5dont_atexit();
}

static void quiet(lm_h5 *h)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, no_atexit);
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

/* A new image starts (H5Fcreate over an existing file first opens, reads and closes that
 * file's image, then starts an empty one): the closed one kept before it is not needed. */
static void img_drop_closed(h5_image *im, const void *ptr)
{
    if (im->closed && im->buf != ptr) {
        free(im->buf);
        im->buf = NULL;
        im->size = 0;
    }
    im->closed = 0;
}

static void *img_malloc(size_t size, H5FD_file_image_op_t op, void *ud)
{
    (void)op;
    h5_image *im = ud;
    img_drop_closed(im, NULL);
    void *p = malloc(size ? size : 1);
    if (p) {
        im->buf = p;
        im->size = size;
    }
    return p;
}

static void *img_memcpy(void *dst, const void *src, size_t n, H5FD_file_image_op_t op, void *ud)
{
    (void)op;
    (void)ud;
    return memcpy(dst, src, n);
}

static void *img_realloc(void *ptr, size_t size, H5FD_file_image_op_t op, void *ud)
{
    (void)op;
    h5_image *im = ud;
    img_drop_closed(im, ptr);
    void *p = realloc(ptr, size ? size : 1);
    if (p) {
        im->buf = p;
        im->size = size;
    }
    return p;
}

/* Closing keeps the image (lm_h5_commit writes it, lm_h5_close frees it). */
static herr_t img_free(void *ptr, H5FD_file_image_op_t op, void *ud)
{
    h5_image *im = ud;
    if (op == H5FD_FILE_IMAGE_OP_FILE_CLOSE && ptr == im->buf) {
        im->closed = 1;
        return 0;
    }
    if (ptr == im->buf) {
        im->buf = NULL;
        im->size = 0;
    }
    free(ptr);
    return 0;
}

static void *img_udata_copy(void *ud)
{
    return ud;
}

static herr_t img_udata_free(void *ud)
{
    (void)ud;
    return 0;
}

/* The length of a finished image: the user block plus the end-of-file address its superblock
 * (version 2 or 3, 8-byte addresses, right after the user block) records; the core driver
 * rounds the buffer up to its allocation step. */
static size_t image_length(const unsigned char *img, size_t size)
{
    const unsigned char *p = img + HDR_SIZE;
    if (size < HDR_SIZE + 36 || memcmp(p, hdf5_sig, 8) || (p[8] != 2 && p[8] != 3) || p[9] != 8)
        return size;
    uint64_t eof = get_u64(p + 28);
    return eof >= 36 && eof <= size - HDR_SIZE ? (size_t)eof + HDR_SIZE : size;
}

/* Refuses an existing path that is not a regular file (a directory, a FIFO, a device). */
static int check_regular(const char *path, lm_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && !S_ISREG(st.st_mode))
        return lm_fail(err, LM_EIO, "%s: not a regular file", path);
    return LM_OK;
}

/* Writes n bytes to fd; false with errno set on failure. */
static bool write_full(int fd, const unsigned char *p, size_t n)
{
    while (n) {
        ssize_t w = write(fd, p, n < ((size_t)1 << 30) ? n : ((size_t)1 << 30));
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            if (w == 0)
                errno = EIO;
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Creates a fresh temporary file next to path ("PATH.tmp.PID.N", O_EXCL, mode 0666 less the
 * umask); its name goes to h->tmp. */
static int open_tmp(lm_h5 *h, lm_error *err)
{
    static atomic_uint counter;
    for (int tries = 0; tries < 100; tries++) {
        snprintf(h->tmp, sizeof h->tmp, "%s.tmp.%ld.%u", h->path, (long)getpid(),
                 atomic_fetch_add(&counter, 1));
        int fd = open(h->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0 || errno != EEXIST) {
            if (fd < 0)
                lm_fail(err, LM_EIO, "%s: cannot write: %s", h->path, strerror(errno));
            return fd;
        }
    }
    lm_fail(err, LM_EIO, "%s: cannot write: no free temporary name", h->path);
    return -1;
}

int lm_h5_create(const char *path, lm_h5 **out, lm_error *err)
{
    if (strlen(path) >= sizeof ((lm_h5 *)0)->path)
        return lm_fail(err, LM_EINVAL, "%s: path too long", path);
    int rc = check_regular(path, err);
    if (rc)
        return rc;
    lm_h5 *h = calloc(1, sizeof *h);
    if (!h)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    snprintf(h->path, sizeof h->path, "%s", path);
    /* The temporary file is made first, so an unwritable place fails before any work; the
     * in-memory file is created under its (new, empty) name: under path, the core driver would
     * first read the whole of an existing file there, e.g. the previous checkpoint. */
    if ((h->fd = open_tmp(h, err)) < 0) {
        free(h);
        return LM_EIO;
    }
    quiet(h);
    /* In memory, checksummed metadata (superblock 2+, object headers 2), a user block for the
     * lstmlm header. */
    hid_t fapl = H5Pcreate(H5P_FILE_ACCESS), fcpl = H5Pcreate(H5P_FILE_CREATE);
    H5FD_file_image_callbacks_t cb = {img_malloc,     img_memcpy,     img_realloc, img_free,
                                      img_udata_copy, img_udata_free, &h->img};
    if (fapl < 0 || fcpl < 0 || H5Pset_fapl_core(fapl, (size_t)1 << 20, 0) < 0 ||
        H5Pset_file_image_callbacks(fapl, &cb) < 0 ||
        H5Pset_libver_bounds(fapl, H5F_LIBVER_V18, H5F_LIBVER_LATEST) < 0 ||
        H5Pset_userblock(fcpl, HDR_SIZE) < 0)
        h->f = H5I_INVALID_HID;
    else
        h->f = H5Fcreate(h->tmp, H5F_ACC_TRUNC, fcpl, fapl);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (h->f < 0) {
        rc = h5_fail(err, LM_EHDF5, path, "cannot create file");
        loud(h);
        close(h->fd);
        unlink(h->tmp);
        free(h);
        return rc;
    }
    h->writing = 1;
    *out = h;
    return LM_OK;
}

int lm_h5_commit(lm_h5 *h, lm_error *err)
{
    int rc = LM_OK, fd = h->fd;
    herr_t closed = H5Fclose(h->f);
    h->f = H5I_INVALID_HID;
    size_t len = h->img.buf ? image_length(h->img.buf, h->img.size) : 0;
    if (closed < 0 || len < HDR_SIZE + 8) {
        rc = h5_fail(err, LM_EHDF5, h->path, "cannot finish writing");
        goto out;
    }
    /* The image starts with the (zeroed) user block: the lstmlm header goes there. */
    lm_h5_header_fill(h->img.buf, len);
    if (!write_full(fd, h->img.buf, len) || fsync(fd) != 0) {
        rc = lm_fail(err, LM_EIO, "%s: cannot write: %s", h->path, strerror(errno));
        goto out;
    }
    int c = close(fd);
    fd = -1;
    if (c != 0) {
        rc = lm_fail(err, LM_EIO, "%s: cannot write: %s", h->path, strerror(errno));
        goto out;
    }
    if (rename(h->tmp, h->path) != 0)
        rc = lm_fail(err, LM_EIO, "%s: cannot rename %s into place: %s", h->path, h->tmp,
                     strerror(errno));
    else
        h->tmp[0] = '\0';
out:
    if (fd >= 0)
        close(fd);
    if (h->tmp[0])
        unlink(h->tmp);
    free(h->img.buf);
    H5Eclear2(H5E_DEFAULT);
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
    if (h->writing) {
        close(h->fd);
        unlink(h->tmp);
        free(h->img.buf);
    }
    H5Eclear2(H5E_DEFAULT);
    loud(h);
    free(h);
}

int lm_h5_open(const char *path, lm_h5 **out, lm_error *err)
{
    if (strlen(path) >= sizeof ((lm_h5 *)0)->path)
        return lm_fail(err, LM_EINVAL, "%s: path too long", path);
    /* stat first: opening a FIFO would block until someone writes to it. */
    struct stat st;
    if (stat(path, &st) != 0)
        return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return lm_fail(err, LM_EIO, "%s: not a regular file", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0)
        return lm_fail(err, LM_EIO, "%s: %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lm_fail(err, LM_EIO, "%s: not a regular file", path);
    }
    int v = verify_file(fd, path, (uint64_t)st.st_size, err);
    close(fd);
    if (v < 0)
        return v;
    lm_h5 *h = calloc(1, sizeof *h);
    if (!h)
        return lm_fail(err, LM_ENOMEM, "out of memory");
    snprintf(h->path, sizeof h->path, "%s", path);
    h->checked = v;
    h->fd = -1;
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

int lm_h5_checked(const lm_h5 *h)
{
    return h->checked;
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

/* n == 0: a scalar; else a one-dimensional array of n values. */
static int attr_write_n(lm_h5 *h, const char *obj, const char *name, hid_t type, const void *v,
                        size_t n, lm_error *err)
{
    hid_t g = group(h, obj, 1), sp = H5I_INVALID_HID, a = H5I_INVALID_HID;
    int rc = LM_OK;
    if (g < 0) {
        rc = h5_fail(err, LM_EHDF5, h->path, obj);
        goto out;
    }
    hsize_t dim = n;
    sp = n ? H5Screate_simple(1, &dim, NULL) : H5Screate(H5S_SCALAR);
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

static int attr_write(lm_h5 *h, const char *obj, const char *name, hid_t type, const void *v,
                      lm_error *err)
{
    return attr_write_n(h, obj, name, type, v, 0, err);
}

int lm_h5_attr_set_u64s(lm_h5 *h, const char *obj, const char *name, const uint64_t *v, size_t n,
                        lm_error *err)
{
    LM_ASSERT(n >= 1);
    return attr_write_n(h, obj, name, H5T_NATIVE_UINT64, v, n, err);
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

int lm_h5_attr_u64s(lm_h5 *h, const char *obj, const char *name, uint64_t *v, size_t cap,
                    size_t *n, lm_error *err)
{
    hid_t g, a = attr_open(h, obj, name, &g, err);
    if (a < 0)
        return g >= 0 ? h5_fail(err, LM_EFORMAT, h->path, name) : LM_EFORMAT;
    int rc = LM_OK;
    hid_t t = H5Aget_type(a);
    hid_t sp = H5Aget_space(a);
    hssize_t np = H5Sget_simple_extent_npoints(sp);
    if (H5Tget_class(t) != H5T_INTEGER || H5Sget_simple_extent_ndims(sp) > 1)
        rc = lm_fail(err, LM_EFORMAT, "%s: attribute %s is not a list of whole numbers", h->path,
                     name);
    else if (np < 1 || (size_t)np > cap)
        rc = lm_fail(err, LM_EFORMAT, "%s: attribute %s holds %lld values (expected 1 to %zu)",
                     h->path, name, (long long)np, cap);
    else if (H5Aread(a, H5T_NATIVE_UINT64, v) < 0)
        rc = h5_fail(err, LM_EFORMAT, h->path, name);
    else
        *n = (size_t)np;
    H5Sclose(sp);
    H5Tclose(t);
    H5Aclose(a);
    H5Oclose(g);
    return rc;
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
        rc = h5_fail(err, LM_EHDF5, h->path, path);
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
        rc = h5_fail(err, LM_EHDF5, h->path, path);
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
    if (n > ((size_t)1 << 24))
        return lm_fail(err, LM_EFORMAT, "%s: dataset %s holds an absurd %zu strings", h->path,
                       path, n);
    hid_t d = H5Dopen2(h->f, path, H5P_DEFAULT);
    if (d < 0)
        return h5_fail(err, LM_EFORMAT, h->path, path);
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
    if (n && H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, raw) < 0)
        rc = h5_fail(err, LM_EFORMAT, h->path, path);
    for (size_t i = 0; !rc && i < n; i++) {
        strs[i] = strdup(raw[i] ? raw[i] : "");
        if (!strs[i])
            rc = lm_fail(err, LM_ENOMEM, "out of memory");
    }
    /* A read that failed half-way may have converted some strings: reclaim those too (the
     * others are still NULL). */
    if (n) {
        hid_t sp = H5Dget_space(d);
        H5Dvlen_reclaim(t, sp, H5P_DEFAULT, raw);
        H5Sclose(sp);
        H5Eclear2(H5E_DEFAULT);
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
