#!/usr/bin/env bash
# Trains and evaluates an RWKV-4 language model on PTB with about the parameter count of the
# PTB small LSTM of bench/ptb-small.sh (2 x 200, 10k vocabulary: 4,653,601 parameters):
# width 200, 2 layers, channel-mix width 300 -> 4,655,601 parameters. Adam, lr 1e-3 halved
# whenever the validation perplexity does not improve, dropout 0.2 (embedding, each residual
# branch, before the head), batch 20, BPTT 35 with the state carried between windows, global-norm
# clip 5. The best epoch (validation perplexity) is the model evaluated on the test set.
# Prints the test perplexity, training tokens/s and wall time, then the generation speed.
#
#   bench/ptb-rwkv.sh [PTB_DIR] [OUT_DIR]     (defaults: ../shared/data/ptb, ./ptb-rwkv)
# Environment: LSTMLM (the binary, default src/lstmlm), THREADS (OpenBLAS threads, default 2),
# EPOCHS [12], DROPOUT [0.2], LR [0.001], BPTT [35], LAYERS [2], FFN [300], EXTRA (more options).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ptb=${1:-$here/../shared/data/ptb}
out=${2:-ptb-rwkv}
lstmlm=${LSTMLM:-$here/src/lstmlm}
threads=${THREADS:-2}
epochs=${EPOCHS:-12}
dropout=${DROPOUT:-0.2}
lr=${LR:-0.001}
bptt=${BPTT:-35}
layers=${LAYERS:-2}
ffn=${FFN:-300}
[ -f "$ptb/ptb.train.txt.gz" ] || { echo "ptb-rwkv: no PTB in $ptb" >&2; exit 77; }
mkdir -p "$out"
start=$(date +%s)
# shellcheck disable=SC2086
"$lstmlm" train --arch rwkv --tokenize whitespace "$ptb/ptb.train.txt.gz" \
    --valid "$ptb/ptb.valid.txt" -o "$out/model.h5" --layers "$layers" --embed 200 \
    --ffn "$ffn" --batch 20 --bptt "$bptt" --optimizer adam --lr "$lr" --plateau-decay 0.5 \
    --epochs "$epochs" --clip 5 --dropout "$dropout" --seed 1 --threads "$threads" ${EXTRA:-}
trained=$(date +%s)
"$lstmlm" eval --threads "$threads" "$out/model.h5" "$ptb/ptb.test.txt" | tee "$out/test.txt"
end=$(date +%s)
ppl=$(awk '/^perplexity/ {print $2}' "$out/test.txt")
echo "ptb-rwkv: test perplexity $ppl; training $((trained - start)) s," \
     "evaluation $((end - trained)) s, $threads threads"
# Generation speed: 2000 tokens, one lm_step at a time, sampled (load and prompt excluded).
"$lstmlm" generate --threads 1 --bench "$out/model.h5" -n 2000 --seed 1 2>&1 > "$out/sample.txt" |
    sed 's/^/ptb-rwkv: /'
