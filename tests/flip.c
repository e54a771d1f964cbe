/* flip.c - writes a damaged copy of a file for tests/damage.sh: N random bytes changed (a
 * fixed xorshift64* sequence from SEED), optionally with the lstmlm header's checksum made
 * to match again ("fix"), so that the damage reaches the HDF5 parser and the loaders' own
 * checks instead of stopping at the checksum.
 * Usage: flip SEED N IN OUT [fix]. Exit 0, or 99 on a setup error. */
#include "model/h5.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc < 5)
        return 99;
    uint64_t s = strtoull(argv[1], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
    long n = atol(argv[2]);
    int fix = argc > 5 && !strcmp(argv[5], "fix");
    FILE *f = fopen(argv[3], "rb");
    if (!f)
        return 99;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    unsigned char *b = malloc(len > 0 ? (size_t)len : 1);
    if (!b || len <= 0 || fread(b, 1, (size_t)len, f) != (size_t)len)
        return 99;
    fclose(f);
    for (long i = 0; i < n; i++) {
        s ^= s >> 12;
        s ^= s << 25;
        s ^= s >> 27;
        uint64_t r = s * 0x2545f4914f6cdd1dull;
        /* With "fix" the header itself is left alone (it is rewritten below). */
        size_t lo = fix && len > 512 ? 512 : 0;
        size_t at = lo + (size_t)((r >> 8) % (uint64_t)(len - (long)lo));
        b[at] ^= (unsigned char)((r & 0xff) | 1);
    }
    if (fix && lm_h5_header_check(b, (size_t)len) != 0)
        lm_h5_header_fill(b, (size_t)len);
    f = fopen(argv[4], "wb");
    if (!f || fwrite(b, 1, (size_t)len, f) != (size_t)len || fclose(f))
        return 99;
    free(b);
    return 0;
}
