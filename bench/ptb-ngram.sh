#!/usr/bin/env bash
# The modified Kneser-Ney 5-gram on PTB (Mikolov et al. 2011, "Empirical evaluation and
# combination of advanced language modeling techniques": KN5 test perplexity 141.2, no count
# cut-offs). Trains with `lstmlm ngram train`, evaluates on the test set, exports ARPA and
# re-scores the test set from it, and prints the test perplexity, the training time and the
# peak memory (maximum resident set size from /usr/bin/time -v).
#
#   bench/ptb-ngram.sh [PTB_DIR] [OUT_DIR]     (defaults: ../shared/data/ptb, ./ptb-ngram)
# Environment: LSTMLM (the binary, default src/lstmlm), ORDER (default 5), PRUNE (the
# --prune-singletons value, default 0 = none).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
ptb=${1:-$here/../shared/data/ptb}
out=${2:-ptb-ngram}
lstmlm=${LSTMLM:-$here/src/lstmlm}
order=${ORDER:-5}
prune=${PRUNE:-0}
[ -f "$ptb/ptb.train.txt.gz" ] || { echo "ptb-ngram: no PTB in $ptb" >&2; exit 77; }
[ -x /usr/bin/time ] ||
    { echo "ptb-ngram: needs /usr/bin/time (Debian package 'time')" >&2; exit 77; }
mkdir -p "$out"
/usr/bin/time -v -o "$out/time.txt" "$lstmlm" ngram train --order "$order" \
    --prune-singletons "$prune" --tokenize whitespace "$ptb/ptb.train.txt.gz" -o "$out/model.h5"
"$lstmlm" eval "$out/model.h5" "$ptb/ptb.valid.txt" "$ptb/ptb.test.txt" | tee "$out/eval.txt"
"$lstmlm" ngram export "$out/model.h5" --arpa "$out/model.arpa"
"$lstmlm" eval "$out/model.arpa" "$ptb/ptb.test.txt" > "$out/eval-arpa.txt"
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$out/time.txt")
rss=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$out/time.txt")
ppl=$(awk '/^file/ {f=$2} /^perplexity/ && f ~ /test/ {print $2}' "$out/eval.txt")
vppl=$(awk '/^file/ {f=$2} /^perplexity/ && f ~ /valid/ {print $2}' "$out/eval.txt")
lp=$(awk '/^file/ {f=$2} /^log10 prob/ && f ~ /test/ {print $3}' "$out/eval.txt")
appl=$(awk '/^perplexity/ {print $2}' "$out/eval-arpa.txt")
alp=$(awk '/^log10 prob/ {print $3}' "$out/eval-arpa.txt")
echo "ptb-ngram: order $order, prune $prune: test perplexity $ppl (Mikolov et al. KN5: 141.2)," \
     "valid $vppl; training $wall wall, peak RSS $((rss / 1024)) MiB"
echo "ptb-ngram: ARPA re-score: perplexity $appl, log10 prob $alp (HDF5 model: $lp)"
