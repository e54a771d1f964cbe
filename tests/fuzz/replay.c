/* replay.c - runs every fuzz harness, without libFuzzer, on each file under
 * $srcdir/tests/fuzz/corpus/<target>/ and $srcdir/tests/fuzz/regress/<target>/ (the seeds and
 * every input a fuzzer ever found a problem with). Part of `make check`; under
 * --enable-asan/--enable-ubsan a regression shows up as a sanitizer report. Exit 0, 1 when a
 * folder cannot be read, 77 when there are no inputs. */
#include "fuzz/fuzz.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TARGETS(X) X(import) X(tokenize) X(corpus) X(arpa) X(model) X(ngram) X(ckpt) X(state)
#define DECLARE(name) int fuzz_target_##name(const uint8_t *data, size_t size);
TARGETS(DECLARE)
#define ENTRY(name) {#name, fuzz_target_##name},
static const struct {
    const char *name;
    int (*fn)(const uint8_t *, size_t);
} targets[] = {TARGETS(ENTRY)};

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Feeds every file of folder to fn; returns the count, or -1 when a file cannot be read. */
static long run_dir(const char *folder, int (*fn)(const uint8_t *, size_t))
{
    DIR *d = opendir(folder);
    if (!d)
        return 0;
    char *names[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    long done = 0;
    for (size_t i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%.4000s/%.4000s", folder, names[i]);
        free(names[i]);
        FILE *f = fopen(path, "rb");
        if (!f)
            return -1;
        static uint8_t buf[1 << 22];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        fn(buf, len);
        done++;
    }
    return done;
}

int main(void)
{
    const char *srcdir = getenv("srcdir") ? getenv("srcdir") : ".";
    long total = 0;
    for (size_t t = 0; t < sizeof targets / sizeof targets[0]; t++) {
        long sum = 0;
        for (int k = 0; k < 2; k++) {
            char folder[4096];
            snprintf(folder, sizeof folder, "%s/tests/fuzz/%s/%s", srcdir,
                     k ? "regress" : "corpus", targets[t].name);
            long r = run_dir(folder, targets[t].fn);
            if (r < 0) {
                printf("replay: cannot read a file in %s\n", folder);
                return 1;
            }
            sum += r;
        }
        printf("%s: %ld inputs\n", targets[t].name, sum);
        total += sum;
    }
    return total ? 0 : 77;
}
