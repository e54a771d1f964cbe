#!/usr/bin/env bash
# Issue 14, item 4: the AWD-LSTM regularisation (Merity et al. 2017) on a PTB model of the
# small configuration's size. The small LSTM of bench/ptb-small.sh (2 x 200, untied) has
# 4,653,601 parameters; tying the head to the embedding frees the 2M of its output matrix, so
# this model is 2 x 300, tied (4,455,101 parameters). Adam lr 0.003, NT-ASGD (averaging once
# validation stalls for 2 epochs), locked dropout 0.25 on the embeddings and the output and
# 0.15 between the layers, whole-word embedding dropout 0.05, DropConnect 0.25 on W_hh, AR 2,
# TAR 1, clip 0.5, batch 32, BPTT 35, windows shifted each epoch. Training stops at EPOCHS or
# after MINUTES (Ctrl-C: the best model so far is kept), then the best model is evaluated on
# the test set. Prints the test perplexity and wall time; the training log is OUT_DIR/train.log.
#
#   bench/ptb-awd.sh [PTB_DIR] [OUT_DIR]     (defaults: ../shared/data/ptb, ./ptb-awd)
# Environment: LSTMLM (the binary, default src/lstmlm), THREADS [2], EPOCHS [60], MINUTES [60],
# EXTRA (more train options).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ptb=${1:-$here/../shared/data/ptb}
out=${2:-ptb-awd}
lstmlm=${LSTMLM:-$here/src/lstmlm}
threads=${THREADS:-2}
epochs=${EPOCHS:-60}
minutes=${MINUTES:-60}
[ -f "$ptb/ptb.train.txt.gz" ] || { echo "ptb-awd: no PTB in $ptb" >&2; exit 77; }
mkdir -p "$out"
start=$(date +%s)
set +e
# shellcheck disable=SC2086
timeout --preserve-status -s INT "$((minutes * 60))" "$lstmlm" train --tokenize whitespace \
    "$ptb/ptb.train.txt.gz" --valid "$ptb/ptb.valid.txt" -o "$out/model.h5" \
    --layers 2 --embed 300 --hidden 300 --tie --batch 32 --bptt 35 --epochs "$epochs" \
    --optimizer adam --lr 0.003 --clip 0.5 --asgd --asgd-patience 2 \
    --dropout-embed 0.05 --dropout-input 0.25 --dropout-hidden 0.15 --dropout-output 0.25 \
    --weight-drop 0.25 --ar 2 --tar 1 --shift-windows on --seed 1 --threads "$threads" \
    ${EXTRA:-} 2>&1 | tee "$out/train.log"
rc=${PIPESTATUS[0]}
set -e
# 130: stopped by the time limit, with the best model so far written.
[ "$rc" = 0 ] || [ "$rc" = 130 ] || exit "$rc"
trained=$(date +%s)
"$lstmlm" eval --threads "$threads" "$out/model.h5" "$ptb/ptb.test.txt" | tee "$out/test.txt"
end=$(date +%s)
ppl=$(awk '/^perplexity/ {print $2}' "$out/test.txt")
echo "ptb-awd: test perplexity $ppl (Zaremba small 114.5, medium regularised 82.7; AWD-LSTM" \
     "24M parameters 57.3); training $((trained - start)) s, evaluation $((end - trained)) s," \
     "$threads threads"
