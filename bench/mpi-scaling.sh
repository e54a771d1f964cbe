#!/usr/bin/env bash
# Data-parallel training on one machine and what it predicts for many: PTB small (2x200,
# BPTT 20) and medium (2x650, BPTT 35), total batch 20, run as 1 rank x 2 threads and as
# 2 ranks x 1 thread (mpirun on loopback) for a few hundred windows each. Reports tokens/s,
# the all-reduce's share of a window (a timed barrier before each sum separates waiting for
# the slower rank from the transfer), then, from the measured gradient size and compute time
# per window, the ring all-reduce model 2(N-1)/N x bytes / bandwidth + 2(N-1) x latency for
# 4, 16 and 64 machines on 10 and 25 Gbit/s links and the per-machine batch below which the
# all-reduce takes longer than the compute.
#   bench/mpi-scaling.sh [ROUNDS]      (default 1; each figure is the median of its rounds)
# Environment: LSTMLM (the binary, default src/lstmlm), SMALL_STEPS (300), MEDIUM_STEPS (100),
# LATENCY_US (per message hop, default 20), MPIRUN (default mpirun).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-1}
lstmlm=${LSTMLM:-$here/src/lstmlm}
mpirun=${MPIRUN:-mpirun}
ptb=$here/../shared/data/ptb
lat=${LATENCY_US:-20}
[ -f "$ptb/ptb.train.txt.gz" ] || { echo "mpi-scaling: no PTB in $ptb" >&2; exit 77; }
command -v "$mpirun" >/dev/null || { echo "mpi-scaling: no mpirun" >&2; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm=isolated
export OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_rmaps_base_oversubscribe=1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "$("$lstmlm" --version | head -1), $(nproc) cores, median of $rounds round(s);" \
     "load average at start: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared)"
for cfg in "small 200 20 ${SMALL_STEPS:-300}" "medium 650 35 ${MEDIUM_STEPS:-100}"; do
    set -- $cfg
    name=$1 h=$2 bptt=$3 steps=$4
    args=(train --tokenize whitespace "$ptb/ptb.train.txt.gz" --hidden "$h" --embed "$h"
          --layers 2 --batch 20 --bptt "$bptt" --epochs 1 --max-steps "$steps")
    : >"$tmp/one" && : >"$tmp/two" && : >"$tmp/red" && : >"$tmp/wait" && : >"$tmp/comp"
    for r in $(seq "$rounds"); do
        "$lstmlm" "${args[@]}" -o "$tmp/m1.h5" --threads 2 2>"$tmp/e1" |
            awk '/^epoch/ {print $(NF-2)}' >>"$tmp/one"
        LSTMLM_MPI_BARRIER=1 "$mpirun" --oversubscribe -np 2 "$lstmlm" "${args[@]}" \
            -o "$tmp/m2.h5" 2>"$tmp/e2" | awk '/^epoch/ {print $(NF-2)}' >>"$tmp/two"
        # "all-reduce: X s in C calls (M MB), P% of S s training"
        awk -v n="$steps" '/^all-reduce:/ {print 1000 * $2 / n}' "$tmp/e2" >>"$tmp/red"
        awk -v n="$steps" '/^waiting for/ {print 1000 * $6 / n}' "$tmp/e2" >>"$tmp/wait"
        params=$(awk '/^model:/ {for (i = 1; i < NF; i++) if ($(i + 1) ~ /^parameters/) print $i}' "$tmp/e1")
    done
    one=$(median <"$tmp/one") two=$(median <"$tmp/two")
    red=$(median <"$tmp/red") wt=$(median <"$tmp/wait")
    awk -v n="$name" -v one="$one" -v two="$two" -v red="$red" -v wt="$wt" -v p="$params" \
        -v tok=$((20 * bptt)) -v lat="$lat" 'BEGIN {
        mb = 4 * p / 1e6                 # float32 gradient block
        comp = 1000 * tok / one          # ms per window, one machine, 2 threads
        printf "%-6s  %d params, gradient %.1f MB, %d tokens per window\n", n, p, mb, tok
        printf "        1 rank x 2 threads: %7.0f tok/s  (%.1f ms per window)\n", one, comp
        printf "        2 ranks x 1 thread: %7.0f tok/s  (%.2fx); all-reduce %.1f ms per window" \
               " (%.1f%% of %.1f ms), waiting for the slower rank %.1f ms\n",
               two, two / one, red, 100 * red / (1000 * tok / two), 1000 * tok / two, wt
        printf "        ring all-reduce model, batch 20 per machine (weak scaling, no overlap):\n"
        printf "        %-5s %-9s %10s %10s %9s %12s\n", "links", "machines", "comm ms", "efficiency",
               "speedup", "comm=comp at"
        split("10 25", bw, " ")
        split("4 16 64", ns, " ")
        for (i = 1; i <= 2; i++) for (j = 1; j <= 3; j++) {
            N = ns[j]; B = bw[i] * 1e9 / 8
            c = 1000 * (2 * (N - 1) / N * mb * 1e6 / B) + 2 * (N - 1) * lat / 1000
            eff = comp / (comp + c)
            bstar = 20 * c / comp        # per-machine batch with compute = communication
            printf "        %2s Gb/s %5d     %10.1f %9.0f%% %8.1fx %9.0f streams\n", bw[i], N, c,
                   100 * eff, N * eff, bstar
        }
    }'
done
