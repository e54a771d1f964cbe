#!/usr/bin/env bash
# Reproduces the PTB "small" LSTM of Zaremba et al. 2014 (paper: valid 120.7, test 114.5):
# 2 layers x 200, batch 20, BPTT 20, SGD lr 1 for 4 epochs then x0.5 per epoch, 13 epochs,
# global-norm clip 5, uniform init +-0.1, no dropout. Prints the test perplexity and wall time.
#
#   bench/ptb-small.sh [PTB_DIR] [OUT_DIR]     (defaults: ../shared/data/ptb, ./ptb-small)
# Environment: LSTMLM (the binary, default src/lstmlm), THREADS (OpenBLAS threads, default 2),
# PRECISION (train --precision: f32, the default, or bf16; evaluation is float32 either way).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ptb=${1:-$here/../shared/data/ptb}
out=${2:-ptb-small}
lstmlm=${LSTMLM:-$here/src/lstmlm}
threads=${THREADS:-2}
precision=${PRECISION:-f32}
[ -f "$ptb/ptb.train.txt.gz" ] || { echo "ptb-small: no PTB in $ptb" >&2; exit 77; }
mkdir -p "$out"
start=$(date +%s)
"$lstmlm" train --tokenize whitespace "$ptb/ptb.train.txt.gz" --valid "$ptb/ptb.valid.txt" \
    -o "$out/model.h5" --layers 2 --hidden 200 --embed 200 --batch 20 --bptt 20 \
    --optimizer sgd --lr 1 --decay-start 4 --decay 0.5 --epochs 13 --clip 5 \
    --init-range 0.1 --dropout 0 --seed 1 --threads "$threads" --precision "$precision"
trained=$(date +%s)
"$lstmlm" eval --threads "$threads" "$out/model.h5" "$ptb/ptb.test.txt" | tee "$out/test.txt"
end=$(date +%s)
ppl=$(awk '/^perplexity/ {print $2}' "$out/test.txt")
echo "ptb-small: test perplexity $ppl (paper 114.5); training $((trained - start)) s," \
     "evaluation $((end - trained)) s, $threads threads, precision $precision"
