/* fuzz.h - shared pieces of the libFuzzer harnesses (tests/fuzz/fuzz_*.c).
 *
 * Each harness defines its entry point with FUZZ_TARGET(name). Built with FUZZ_LIBFUZZER
 * (./configure --enable-fuzz CC=clang, `make fuzz`) that is LLVMFuzzerTestOneInput; otherwise
 * it is fuzz_target_<name>, which tests/fuzz/replay.c calls on every committed seed and
 * regression input during `make check`. A harness returns 0 and never prints. */
#ifndef LM_FUZZ_H
#define LM_FUZZ_H

#include "lstmlm.h"

#include <stddef.h>
#include <stdint.h>

#ifdef FUZZ_LIBFUZZER
#define FUZZ_TARGET(name) int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
#else
#define FUZZ_TARGET(name) int fuzz_target_##name(const uint8_t *data, size_t size)
#endif

/* Writes data to this process's scratch file (suffix picks e.g. ".gz" handling) and returns
 * its path (static storage), or NULL. */
const char *fuzz_file(const uint8_t *data, size_t size, const char *suffix);
/* The same for an HDF5 model file: when data starts with the lstmlm header, its checksum is
 * recomputed so that the mutation reaches HDF5 and the loader's checks. Files without the
 * header (format version 1) are skipped (NULL) unless LSTMLM_FUZZ_LEGACY is set: damaged old
 * files can still crash HDF5 itself (see lstmlm-model(5)). */
const char *fuzz_h5_file(const uint8_t *data, size_t size);
/* A small fixed vocabulary ("the cat sat on a mat ." and the specials) and the ids of the
 * corpus the seed checkpoints were trained on; caller frees the vocabulary. */
lm_vocab *fuzz_vocab(void);
size_t fuzz_corpus(const int32_t **ids);
/* A tiny model of arch "lstm", "rwkv" or "transformer" over fuzz_vocab (seeded, the same
 * bits every time); caller frees. */
lm_model *fuzz_model(const char *arch);

#endif
