/* import_read.c - reading an input file whole (plain or gzip, byte order marks, UTF-16, CR
 * line ends, NUL bytes refused) and walking its lines. */
#include "text/import.h"
#include "text/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- reading files ------------------------------------------------------------------------ */

/* One UTF-16 code unit at p. */
static uint32_t utf16_unit(const unsigned char *p, int big_endian)
{
    return big_endian ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
}

/* Converts UTF-16 (after its byte order mark) to UTF-8; unpaired surrogates become U+FFFD. */
static int utf16_to_utf8(const char *path, char *buf, size_t len, int big_endian, char **out,
                         size_t *outlen, lm_error *err)
{
    const unsigned char *s = (const unsigned char *)buf;
    char *o = malloc(len / 2 * 3 + 4);
    if (!o)
        return lm_fail(err, LM_ENOMEM, "%s: out of memory", path);
    size_t n = 0;
    for (size_t i = 2; i + 1 < len; i += 2) {
        uint32_t u = utf16_unit(s + i, big_endian);
        if (u >= 0xD800 && u <= 0xDBFF && i + 3 < len) {
            uint32_t lo = utf16_unit(s + i + 2, big_endian);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                i += 2;
            }
        }
        if (u >= 0xD800 && u <= 0xDFFF)
            u = 0xFFFD;
        n += lm_utf8_encode(u, o + n);
    }
    o[n] = '\0';
    *out = o;
    *outlen = n;
    return LM_OK;
}

int lm_import_read(const char *path, char **out, size_t *outlen, lm_error *err)
{
    char *buf;
    size_t len;
    int rc = lm_read_file(path, &buf, &len, err);
    if (rc)
        return rc;
    const unsigned char *u = (const unsigned char *)buf;
    if (len >= 2 && ((u[0] == 0xFF && u[1] == 0xFE) || (u[0] == 0xFE && u[1] == 0xFF))) {
        char *conv = NULL;
        rc = utf16_to_utf8(path, buf, len, u[0] == 0xFE, &conv, &len, err);
        free(buf);
        if (rc)
            return rc;
        buf = conv;
    } else if (len >= 3 && u[0] == 0xEF && u[1] == 0xBB && u[2] == 0xBF) {
        memmove(buf, buf + 3, len - 3 + 1);
        len -= 3;
    }
    if (len == 0) {
        free(buf);
        return lm_fail(err, LM_EFORMAT, "%s: empty file", path);
    }
    if ((rc = lm_check_text(path, buf, len, err))) {
        free(buf);
        return rc;
    }
    if (!memchr(buf, '\n', len))
        for (size_t i = 0; i < len; i++)
            if (buf[i] == '\r')
                buf[i] = '\n';
    *out = buf;
    *outlen = len;
    return LM_OK;
}

int lm_imp_next_line(cursor *c, const char **line, size_t *len)
{
    if (c->p >= c->end)
        return 0;
    const char *nl = memchr(c->p, '\n', (size_t)(c->end - c->p));
    const char *e = nl ? nl : c->end;
    *line = c->p;
    *len = (size_t)(e - c->p);
    if (*len && (*line)[*len - 1] == '\r')
        (*len)--;
    c->p = nl ? nl + 1 : c->end;
    c->lineno++;
    return 1;
}

int lm_imp_is_blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!(s[i] == ' ' || s[i] == '\t' || s[i] == '\r' || s[i] == '\v' || s[i] == '\f'))
            return 0;
    return 1;
}

/* First occurrence of the NUL-terminated needle in s[0..n), or NULL. */
const char *lm_imp_find_str(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (const char *p = s; k <= n && p <= s + n - k; p++) {
        p = memchr(p, needle[0], (size_t)(s + n - k - p) + 1);
        if (!p)
            return NULL;
        if (!memcmp(p, needle, k))
            return p;
    }
    return NULL;
}
