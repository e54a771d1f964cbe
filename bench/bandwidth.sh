#!/usr/bin/env bash
# Streaming read bandwidth on 1 and 2 threads (bench/bandwidth.c), for a buffer far beyond the
# last-level cache (memory) and for each size given in MiB (e.g. the bytes a model reads per
# generated token, which may partly live in cache).
#
#   bench/bandwidth.sh [MIB...]      (default: 512)
# Environment: CC [cc], SECONDS_EACH (per size and thread count: five stretches of a quarter
# of a second) [1.25], OUT [bandwidth].
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
out=${OUT:-bandwidth}
mkdir -p "$out"
${CC:-cc} -O2 -std=c11 -march=native -pthread "$here/bench/bandwidth.c" -o "$out/bandwidth"
sizes=${*:-512}
echo "== streaming read bandwidth, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for s in $sizes; do
    for t in 1 2; do
        "$out/bandwidth" "$s" "$t" "${SECONDS_EACH:-1.25}"
    done
done
