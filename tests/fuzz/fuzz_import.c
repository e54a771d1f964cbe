/* fuzz_import.c - the corpus importers: the first byte picks the format (text, cornell, srt,
 * eou) and the option set, the rest is the input file. */
#include "fuzz/fuzz.h"

#include <stdio.h>

FUZZ_TARGET(import)
{
    static FILE *devnull;
    if (!devnull && !(devnull = fopen("/dev/null", "w")))
        return 0;
    if (size < 1)
        return 0;
    lm_import_opts o;
    lm_import_opts_init(&o);
    o.format = data[0] & 3;
    o.speakers = (data[0] >> 2) & 1;
    o.gap = (data[0] >> 3) & 1 ? 0.5 : 5.0;
    const char *path = fuzz_file(data + 1, size - 1, (data[0] >> 4) & 1 ? ".gz" : ".txt");
    if (!path)
        return 0;
    lm_import_stats st;
    lm_corpus_import(&o, &path, 1, devnull, &st, NULL);
    return 0;
}
