#!/usr/bin/env bash
# PTB test perplexity of the LSTM, the KN-5 and their linear mixture, the weight tuned on the
# validation set (Mikolov et al. 2011 found such mixtures well below either model). Uses the
# models of bench/ptb-small.sh and bench/ptb-ngram.sh (run them first, or give their files).
#
#   bench/ptb-mix.sh [LSTM.h5] [KN5.h5] [PTB_DIR]
#       (defaults: ptb-small/model.h5, ptb-ngram/model.h5, ../shared/data/ptb)
# Environment: LSTMLM (the binary, default src/lstmlm), THREADS (default 2).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lstm=${1:-ptb-small/model.h5}
kn5=${2:-ptb-ngram/model.h5}
ptb=${3:-$here/../shared/data/ptb}
lstmlm=${LSTMLM:-$here/src/lstmlm}
threads=${THREADS:-2}
[ -f "$ptb/ptb.test.txt" ] || { echo "ptb-mix: no PTB in $ptb" >&2; exit 77; }
for f in "$lstm" "$kn5"; do
    [ -f "$f" ] || { echo "ptb-mix: $f is missing (run bench/ptb-small.sh and bench/ptb-ngram.sh)" >&2; exit 2; }
done
ppl() { awk '/^perplexity/ {print $2}'; }
a=$("$lstmlm" eval --threads "$threads" "$lstm" "$ptb/ptb.test.txt" | ppl)
b=$("$lstmlm" eval "$kn5" "$ptb/ptb.test.txt" | ppl)
m=$("$lstmlm" eval --threads "$threads" "$lstm" --mix "$kn5" --tune-lambda "$ptb/ptb.valid.txt" \
    "$ptb/ptb.test.txt" 2> mix-lambda.txt | ppl)
echo "ptb-mix: test perplexity LSTM $a, KN-5 $b, mixture $m ($(cat mix-lambda.txt))"
