/* readfile.c - reading a text file whole (plain or gzip, in bounded pieces), refusing binary
 * data, and walking its lines: the one reader of the corpus reader, the vocabulary builder
 * and the importers. */
#include "text/text.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

int lm_read_file(const char *path, char **out, size_t *outlen, lm_error *err)
{
    gzFile f = gzopen(path, "rb");
    if (!f)
        return lm_fail(err, LM_EIO, "%s: %s", path, errno ? strerror(errno) : "cannot open");
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    if (!buf) {
        gzclose(f);
        return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (cap - len < (1 << 15)) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap * 2);
            if (!nb) {
                free(buf);
                gzclose(f);
                return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap *= 2;
        }
        /* gzread takes an unsigned count and returns an int: read at most 1 GiB at a time. */
        size_t want = cap - len - 1 < ((size_t)1 << 30) ? cap - len - 1 : ((size_t)1 << 30);
        int r = gzread(f, buf + len, (unsigned)want);
        if (r < 0) {
            int zerr;
            const char *m = gzerror(f, &zerr);
            lm_fail(err, LM_EIO, "%s: %s", path,
                    zerr == Z_ERRNO ? strerror(errno) : (m ? m : "read error"));
            free(buf);
            gzclose(f);
            return LM_EIO;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    /* A truncated gzip stream reads short without an error from gzread; gzclose tells. */
    int zc = gzclose(f);
    if (zc != Z_OK && zc != Z_BUF_ERROR) {
        free(buf);
        return lm_fail(err, LM_EFORMAT, "%s: damaged gzip data", path);
    }
    if (zc == Z_BUF_ERROR) {
        free(buf);
        return lm_fail(err, LM_EFORMAT, "%s: truncated gzip file", path);
    }
    buf[len] = '\0';
    *out = buf;
    *outlen = len;
    return LM_OK;
}

size_t lm_find_nul(const char *buf, size_t len)
{
    const char *p = memchr(buf, '\0', len);
    return p ? (size_t)(p - buf) : len;
}

int lm_for_each_line(const char *buf, size_t len, lm_line_fn fn, void *ud)
{
    size_t lineno = 0, i = 0;
    while (i < len) {
        const char *nl = memchr(buf + i, '\n', len - i);
        size_t end = nl ? (size_t)(nl - buf) : len;
        size_t l = end - i;
        if (l && buf[i + l - 1] == '\r')
            l--;
        int rc = fn(ud, buf + i, l, ++lineno);
        if (rc)
            return rc;
        i = end + 1;
    }
    return 0;
}

int lm_check_text(const char *path, const char *buf, size_t len, lm_error *err)
{
    size_t nul = lm_find_nul(buf, len);
    if (nul == len)
        return LM_OK;
    size_t line = 1;
    for (size_t i = 0; i < nul; i++)
        line += buf[i] == '\n';
    return lm_fail(err, LM_EFORMAT, "%s:%zu: binary data (NUL byte): not a text file", path,
                   line);
}

int lm_read_text(const char *path, char **buf, size_t *len, lm_error *err)
{
    int rc = lm_read_file(path, buf, len, err);
    if (!rc && (rc = lm_check_text(path, *buf, *len, err))) {
        free(*buf);
        *buf = NULL;
    }
    return rc;
}
