#!/usr/bin/env bash
# lstmlm's bf16 and float32 GEMMs against OpenBLAS's sgemm on the PTB head and LSTM shapes
# (bench/bgemm.c), on 1 and 2 threads, built against the library objects of a built tree.
#
#   bench/bgemm.sh [REPS]      (default 5)
# Environment: BUILD [the source folder: an in-tree build], CC [cc], OUT [bgemm].
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD:-$here}
out=${OUT:-bgemm}
lib=$build/src/.libs/liblmcore.a
[ -f "$lib" ] || { echo "bgemm: $lib is absent (run make first, or set BUILD)" >&2; exit 77; }
mkdir -p "$out"
# shellcheck disable=SC2046
${CC:-cc} -O2 -std=c11 -DHAVE_CONFIG_H -I"$build" -I"$here/include" -I"$here/src" \
    $(pkg-config --cflags openblas hdf5) "$here/bench/bgemm.c" "$lib" \
    $(pkg-config --libs openblas hdf5) -lz -lm -pthread -o "$out/bgemm"
echo "== load average $(cut -d' ' -f1-3 /proc/loadavg), OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"
for t in 1 2; do
    OPENBLAS_NUM_THREADS=$t "$out/bgemm" "${1:-5}"
done
