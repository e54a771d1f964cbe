#!/usr/bin/env bash
# Training throughput of lstmlm against ../shared/bench/torch_lstm_lm.py on the PTB small
# (2x200, BPTT 20) and medium (2x650, BPTT 35) configurations, batch 20, vocab 10k, same
# thread count, in one run. Prints tokens/s of each and the ratio.
#   bench/throughput.sh [THREADS]      (default 2)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
lstmlm=${LSTMLM:-$here/src/lstmlm}
torchlm=$here/../shared/bench/torch_lstm_lm.py
ptb=$here/../shared/data/ptb/ptb.train.txt.gz
[ -f "$torchlm" ] && [ -f "$ptb" ] || { echo "throughput: ../shared is absent" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cfg in "small 200 20 150" "medium 650 35 40"; do
    set -- $cfg
    name=$1 h=$2 bptt=$3 steps=$4
    t=$(/usr/bin/python3 "$torchlm" --mode train --threads "$threads" --vocab 10000 --emb "$h" \
        --hidden "$h" --layers 2 --batch 20 --bptt "$bptt" --steps "$steps" | tail -1 |
        sed 's/.*tokens_per_s=\([0-9.]*\).*/\1/')
    # lstmlm: an epoch of $steps windows on PTB (the epoch line excludes loading).
    l=$("$lstmlm" train --tokenize whitespace "$ptb" -o "$tmp/m.h5" --hidden "$h" --embed "$h" \
        --layers 2 --batch 20 --bptt "$bptt" --epochs 1 --max-steps "$steps" \
        --threads "$threads" 2>/dev/null | awk '/^epoch/ {print $(NF-2)}')
    awk -v n="$name" -v t="$t" -v l="$l" -v th="$threads" 'BEGIN {
        printf "%-7s train tokens/s: lstmlm %8.0f  pytorch %8.0f  ratio %.2fx  (%d threads)\n",
               n, l, t, l / t, th }'
done
