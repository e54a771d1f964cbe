#!/usr/bin/env bash
# memory-ptb.sh - recurrent state vs attention cache on Penn Treebank: trains three word-level
# models of about 4.7M parameters (the 10k x 200 embedding and the 10k x 200 head included),
#   lstm         2 x 200 LSTM, the PTB "small" setup of bench/ptb-small.sh      4,653,601
#   rwkv         RWKV-4, 2 layers of 200, channel-mix 300 (bench/ptb-rwkv.sh)  ~4,655,601
#   transformer  2 pre-LayerNorm blocks of 200, 4 heads, MLP 400, context 256   4,706,401
# then runs `lstmlm memory` on all three: state or cache bytes, resident memory and time per
# token after N = 1 ... 100,000 tokens, and the context-usage curves of Khandelwal et al. 2018
# (loss with the last k tokens, and with the context beyond m tokens shuffled).
#
#   examples/memory-ptb.sh [PTB_DIR] [OUT_DIR]     (defaults: ../shared/data/ptb, ./memory-ptb)
# Environment: LSTMLM (the binary, default src/lstmlm), THREADS (OpenBLAS threads, default 1),
# QUICK=1 (one short epoch per model, --max-steps 300: a smoke run, not a result),
# TARGETS (context-probe targets, default 1000). A model file already in OUT_DIR is reused, so
# a model trained elsewhere (e.g. by bench/ptb-small.sh) can be copied there as lstm.h5. A
# model that fails to train (the RWKV is newer than the rest) is left out of the comparison.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ptb=${1:-$here/../shared/data/ptb}
out=${2:-memory-ptb}
lstmlm=${LSTMLM:-$here/src/lstmlm}
threads=${THREADS:-1}
targets=${TARGETS:-1000}
[ -f "$ptb/ptb.train.txt.gz" ] || { echo "memory-ptb: no PTB in $ptb" >&2; exit 77; }
mkdir -p "$out"
quick=()
if [ "${QUICK:-0}" = 1 ]; then
    quick=(--max-steps 300)
fi

# train NAME EPOCHS OPTIONS...: trains $out/NAME.h5 unless it exists; the log goes to NAME.log.
train() {
    local name=$1 epochs=$2
    shift 2
    if [ -f "$out/$name.h5" ]; then
        echo "memory-ptb: reusing $out/$name.h5"
        return 0
    fi
    [ "${QUICK:-0}" = 1 ] && epochs=1
    echo "memory-ptb: training $name ($epochs epochs), log in $out/$name.log"
    "$lstmlm" train --tokenize whitespace "$ptb/ptb.train.txt.gz" --valid "$ptb/ptb.valid.txt" \
        -o "$out/$name.h5" --epochs "$epochs" --seed 1 --threads "$threads" "${quick[@]}" "$@" \
        > "$out/$name.log" 2>&1
}

models=()
# Zaremba et al.'s small LSTM: SGD lr 1, halved each epoch after the 4th, clip 5, no dropout.
if train lstm 13 --layers 2 --hidden 200 --embed 200 --batch 20 --bptt 20 --optimizer sgd \
    --lr 1 --decay-start 4 --decay 0.5 --clip 5 --init-range 0.1 --dropout 0; then
    models+=("$out/lstm.h5")
else
    echo "memory-ptb: the LSTM failed to train (see $out/lstm.log)" >&2
fi
# RWKV-4 with the state carried between windows of 35 tokens.
if train rwkv 12 --arch rwkv --layers 2 --embed 200 --ffn 300 --batch 20 --bptt 35 \
    --optimizer adam --lr 0.001 --plateau-decay 0.5 --clip 5 --dropout 0.2; then
    models+=("$out/rwkv.h5")
else
    echo "memory-ptb: the RWKV failed to train (see $out/rwkv.log); comparing the others" >&2
fi
# The transformer trains on windows of its whole context (--bptt = --context = 256), each
# attended within itself, so every position of the embedding is trained.
if train transformer 6 --arch transformer --layers 2 --embed 200 --heads 4 --ffn 400 \
    --context 256 --batch 8 --bptt 256 --optimizer adam --lr 0.001 --plateau-decay 0.5 \
    --patience 2 --clip 5 --dropout 0.2; then
    models+=("$out/transformer.h5")
else
    echo "memory-ptb: the transformer failed to train (see $out/transformer.log)" >&2
fi
[ "${#models[@]}" -gt 0 ] || { echo "memory-ptb: no model to compare" >&2; exit 1; }

# Windows of 256 tokens: the transformer's context (the recurrent models carry their state, so
# the window does not change their perplexity).
for m in "${models[@]}"; do
    "$lstmlm" eval --bptt 256 --threads "$threads" "$m" "$ptb/ptb.test.txt" |
        sed "s|^|$(basename "$m" .h5): |"
done | tee "$out/eval.txt"

# Memory up to 100,000 tokens; context lengths up to 1000 (the transformer sees at most 256).
"$lstmlm" memory "${models[@]}" --test "$ptb/ptb.test.txt" --max-tokens 100000 \
    --contexts 1,2,5,10,20,50,100,150,200,300,500,1000 --shuffle 1,2,5,10,20,50,100,200 \
    --shuffle-context 500 --targets "$targets" --threads "$threads" \
    --csv "$out/memory.csv" --plot "$out/memory.svg" | tee "$out/memory.txt"
echo "memory-ptb: table in $out/memory.txt, data in $out/memory.csv, plot in $out/memory.svg"
