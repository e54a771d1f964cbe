#!/usr/bin/env bash
# Training and evaluation throughput of lstmlm against ../shared/bench/torch_lstm_lm.py on the
# PTB small (2x200, BPTT 20) and medium (2x650, BPTT 35) configurations, batch 20, vocab 10k,
# same thread count, in one run. The two sides alternate ROUNDS times (default 3) so that drift
# on a shared machine hits both alike; each figure is the median of its rounds.
#   bench/throughput.sh [THREADS] [ROUNDS]      (defaults 2 and 3)
# lstmlm's training figure is its whole-epoch rate (warm-up included); PyTorch's excludes its
# first 5 steps. lstmlm's evaluation figure is `lstmlm eval` on ptb.valid.txt (73k tokens,
# loading excluded); PyTorch's is its forward-only mode.
# CORETYPES (default "inherit"): the OpenBLAS kernel settings to measure under, one after the
# other, both sides alike: "inherit" keeps the environment's OPENBLAS_CORETYPE, "auto" unsets
# it (OpenBLAS picks by itself), any other word is set as OPENBLAS_CORETYPE. Under each, the
# SGEMM peak (../shared/bench/sgemm_peak.c, best square product on THREADS threads) is measured
# too, and each training figure is also given as the fraction of that peak the whole step
# reaches: tokens/s x 6 x (sum over layers of 4H (in + H) + H V) multiply-adds.
# PRECISION (default f32): f32 or bf16, passed as --precision to lstmlm's training only
# (PyTorch and both evaluations stay float32). With bf16 the large products run on lstmlm's
# AVX-512 BF16 kernel, whose arithmetic peak is above the SGEMM one, so the fraction of the
# SGEMM peak may pass 100%.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
threads=${1:-2}
rounds=${2:-3}
precision=${PRECISION:-f32}
case $precision in
f32 | bf16) ;;
*) echo "throughput: PRECISION=$precision (expected f32 or bf16)" >&2; exit 2 ;;
esac
lstmlm=${LSTMLM:-$here/src/lstmlm}
torchlm=$here/../shared/bench/torch_lstm_lm.py
ptb=$here/../shared/data/ptb
[ -f "$torchlm" ] && [ -f "$ptb/ptb.train.txt.gz" ] || { echo "throughput: ../shared is absent" >&2; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
peak_src=$here/../shared/bench/sgemm_peak.c
# shellcheck disable=SC2046
gcc -O2 "$peak_src" $(pkg-config --cflags --libs openblas) -o "$tmp/sgemm_peak"
coretypes=${CORETYPES:-inherit}
median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
torch() { # MODE H BPTT STEPS
    /usr/bin/python3 "$torchlm" --mode "$1" --threads "$threads" --vocab 10000 --emb "$2" \
        --hidden "$2" --layers 2 --batch 20 --bptt "$3" --steps "$4" | tail -1 |
        sed 's/.*tokens_per_s=\([0-9.]*\).*/\1/'
}
run_all() {
echo "$("$lstmlm" --version | head -1), $(nproc) cores, $threads threads," \
     "median of $rounds alternating rounds, OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}," \
     "lstmlm train --precision $precision"
OPENBLAS_NUM_THREADS=$threads "$tmp/sgemm_peak" 0.3 3 > "$tmp/peak.txt"
peak=$(awk '/^square/ { sub(/.*best= */, ""); v = $1 + 0; if (v > m) m = v } END { print m }' "$tmp/peak.txt")
echo "SGEMM peak: $peak GFLOP/s ($(awk -F': ' '/corename/ {print $2}' "$tmp/peak.txt") kernels, best square product)"
for cfg in "small 200 20 150" "medium 650 35 40"; do
    set -- $cfg
    name=$1 h=$2 bptt=$3 steps=$4
    : >"$tmp/lt" && : >"$tmp/pt" && : >"$tmp/le" && : >"$tmp/pe"
    for r in $(seq "$rounds"); do
        torch train "$h" "$bptt" "$steps" >>"$tmp/pt"
        # lstmlm: an epoch of $steps windows on PTB (the epoch line excludes loading).
        "$lstmlm" train --tokenize whitespace "$ptb/ptb.train.txt.gz" -o "$tmp/m.h5" \
            --hidden "$h" --embed "$h" --layers 2 --batch 20 --bptt "$bptt" --epochs 1 \
            --max-steps "$steps" --threads "$threads" --precision "$precision" 2>/dev/null |
            awk '/^epoch/ {print $(NF-2)}' >>"$tmp/lt"
        torch eval "$h" "$bptt" "$steps" >>"$tmp/pe"
        "$lstmlm" eval --batch 20 --bptt "$bptt" --threads "$threads" "$tmp/m.h5" \
            "$ptb/ptb.valid.txt" | awk '/^tokens\/s/ {print $2}' >>"$tmp/le"
    done
    for what in train eval; do
        l=$(median <"$tmp/l${what:0:1}") t=$(median <"$tmp/p${what:0:1}")
        awk -v n="$name" -v w="$what" -v t="$t" -v l="$l" -v th="$threads" -v h="$h" \
            -v peak="$peak" 'BEGIN {
            printf "%-7s %-5s tokens/s: lstmlm %8.0f  pytorch %8.0f  ratio %.2fx  (%d threads)",
                   n, w, l, t, l / t, th
            if (w == "train") {
                flops = 6 * (4 * h * (h + h) * 2 + h * 10000)
                printf "  step %.1f GFLOP/s = %.0f%% of peak (pytorch %.0f%%)", l * flops / 1e9,
                       100 * l * flops / 1e9 / peak, 100 * t * flops / 1e9 / peak
            }
            printf "\n" }'
    done
done
}
for ct in $coretypes; do
    case $ct in
    inherit) (run_all) ;;
    auto) (unset OPENBLAS_CORETYPE; run_all) ;;
    *) (export OPENBLAS_CORETYPE=$ct; run_all) ;;
    esac
done
