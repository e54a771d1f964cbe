#!/bin/sh
# generate-speed.sh - batch-1 generation speed of the PTB medium LSTM (2 x 650, vocabulary
# 10k) against PyTorch's word_language_model-style generate loop, in the same run.
#
#   bench/generate-speed.sh            # from the build tree; prints a table and the ratio
#
# Environment: LSTMLM (default src/lstmlm), PTB (default ../shared/data/ptb beside the
# source tree), OUT (work folder, default ./lstmlm-genspeed), THREADS (both sides, default 2), N (tokens per timed
# run, default 2000), REPEATS (interleaved runs of each side, default 3), TYPE (f32, or bf16
# or int8: lstmlm times the model quantized to that type, `lstmlm quantize`; default f32).
#
# The model is untrained (one SGD step on PTB with --max-steps 1): the speed of a step does
# not depend on the weights. lstmlm's figure comes from `generate --bench`: tokens per second
# of the sample+step loop, model loading and prompt excluded, sampling at temperature 1 over
# the whole vocabulary. PyTorch's comes from torch_lstm_lm.py --mode generate: forward of one
# token + softmax + multinomial per step, warm-up steps excluded. Both use the system OpenBLAS
# with the same environment; runs alternate so that other load on the machine hits both.
set -eu
LSTMLM=${LSTMLM:-src/lstmlm}
here=$(cd "$(dirname "$0")/.." && pwd)
PTB=${PTB:-$here/../shared/data/ptb}
OUT=${OUT:-lstmlm-genspeed}
THREADS=${THREADS:-2}
N=${N:-2000}
REPEATS=${REPEATS:-3}
TORCH_BENCH=${TORCH_BENCH:-$here/../shared/bench/torch_lstm_lm.py}
PY=${PY:-/usr/bin/python3}
TYPE=${TYPE:-f32}
case $TYPE in
f32 | bf16 | int8) ;;
*) echo "generate-speed: TYPE=$TYPE (expected f32, bf16 or int8)" >&2; exit 2 ;;
esac

mkdir -p "$OUT"
model="$OUT/medium.h5"
if [ ! -f "$model" ]; then
    echo "creating the untrained medium model (2 x 650, PTB vocabulary) in $model"
    "$LSTMLM" train --tokenize whitespace "$PTB/ptb.train.txt.gz" -o "$model" --layers 2 \
        --hidden 650 --embed 650 --batch 20 --bptt 35 --max-steps 1 --epochs 1 \
        --threads "$THREADS" -q
fi
if [ "$TYPE" != f32 ]; then
    q="$OUT/medium-$TYPE.h5"
    [ -f "$q" ] || "$LSTMLM" quantize "$model" -o "$q" --type "$TYPE"
    model=$q
fi
"$LSTMLM" info "$model" | grep -E '^(layers|embed|hidden|parameters|vocabulary)'
echo "load before: $(uptime)"
echo "threads=$THREADS tokens=$N repeats=$REPEATS weights=$TYPE OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-(unset)}"

lm_runs=""
torch_runs=""
i=1
while [ "$i" -le "$REPEATS" ]; do
    lm=$("$LSTMLM" generate "$model" -n "$N" --bench --threads "$THREADS" --seed "$i" \
        2>&1 > /dev/null | sed -n 's/.*, \([0-9.]*\) tokens\/s.*/\1/p')
    th=$("$PY" "$TORCH_BENCH" --mode generate --threads "$THREADS" --hidden 650 --emb 650 \
        --layers 2 --vocab 10000 --steps "$N" 2>/dev/null | sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p')
    echo "run $i: lstmlm $lm tokens/s, torch $th tokens/s"
    lm_runs="$lm_runs $lm"
    torch_runs="$torch_runs $th"
    i=$((i + 1))
done
echo "load after: $(uptime)"
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
# shellcheck disable=SC2086
lm_med=$(median $lm_runs)
# shellcheck disable=SC2086
th_med=$(median $torch_runs)
awk -v a="$lm_med" -v b="$th_med" -v t="$THREADS" 'BEGIN {
    printf "median tokens/s (batch 1, %d threads): lstmlm %.1f, torch %.1f, ratio %.2fx\n", t, a, b, a / b
    exit !(a / b >= 1.5) }' && echo "PASS: lstmlm is at least 1.5x torch" || {
    echo "BELOW 1.5x"
    exit 1
}
