#!/usr/bin/env bash
# RWKV generation over a long stream: no NaN/Inf and constant memory. Trains a small RWKV model
# for a few steps (or takes MODEL), then
#   1. bench/rwkv-memory.c (public API only): N tokens through lm_step, sampled from the model's
#      softmax; resident memory from /proc/self/statm at token 1,000 and at token N, every logit
#      checked for NaN/Inf;
#   2. `lstmlm generate -n N` with its VmRSS sampled from /proc/PID/status every 0.1 s.
#
#   bench/rwkv-memory.sh [MODEL.h5]     (default: trains one in $OUT, ./rwkv-memory)
# Environment: LSTMLM (the binary, default src/lstmlm), N [100000], CC [cc], CORPUS (training
# text for the small model, default data/dialogues.txt).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lstmlm=${LSTMLM:-$here/src/lstmlm}
n=${N:-100000}
out=${OUT:-rwkv-memory}
mkdir -p "$out"
model=${1:-}
if [ -z "$model" ]; then
    model=$out/model.h5
    "$lstmlm" train --arch rwkv --embed 64 --layers 2 --optimizer adam --epochs 1 \
        --max-steps 50 --threads 1 --quiet "${CORPUS:-$here/data/dialogues.txt}" -o "$model"
fi
# The probe links the library the binary uses (libtool keeps it in src/.libs when uninstalled).
libdir=$here/src/.libs
${CC:-cc} -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -I"$here/include" "$here/bench/rwkv-memory.c" \
    -o "$out/rwkv-memory" -L"$libdir" -Wl,-rpath,"$libdir" -llstmlm -lm
echo "== lm_step probe, $n tokens"
OPENBLAS_NUM_THREADS=1 "$out/rwkv-memory" "$model" "$n" 1 | tee "$out/probe.txt"
probe_rc=${PIPESTATUS[0]}

echo "== lstmlm generate -n $n, VmRSS from /proc"
"$lstmlm" generate --threads 1 "$model" -n "$n" --seed 1 > "$out/generated.txt" &
pid=$!
first=""; max=0; last=0
while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    words=$(wc -w < "$out/generated.txt")
    if [ -n "$rss" ]; then
        if [ -z "$first" ] && [ "$words" -ge 1000 ]; then first=$rss; fi
        if [ -n "$first" ] && [ "$rss" -gt "$max" ]; then max=$rss; fi
        last=$rss
    fi
    sleep 0.1
done
wait "$pid"
words=$(wc -w < "$out/generated.txt")
echo "generate: $words words written; VmRSS after ~1000 tokens ${first:-?} KiB, max after that" \
     "$max KiB, last sample $last KiB, growth $(( max - ${first:-0} )) KiB"
if grep -qi -E '\bnan\b|\binf\b' "$out/generated.txt"; then echo "generate: nan/inf in the text?"; fi
exit "$probe_rc"
