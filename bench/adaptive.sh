#!/usr/bin/env bash
# The adaptive softmax against the full one on the Cornell slice with its FULL vocabulary
# (every type of the training split, case kept: about 14,900): the same LSTM, seed, data and
# epochs trained once with `--softmax full` and once with `--softmax adaptive --cutoffs
# $CUTOFFS --div $DIV`; prints each run's training tokens/s (mean of its epoch lines, validation
# excluded), training seconds, best validation and test perplexity (`lstmlm eval`, one stream),
# and how much of the training text each part of the adaptive head covers.
#
#   bench/adaptive.sh [CORNELL_DIR] [OUT_DIR]
#        (defaults: ../shared/data/cornell_movie_dialogs beside the source tree, ./adaptive-bench)
# Environment: LSTMLM [src/lstmlm], EPOCHS [3], MAXSTEPS (windows per epoch, 0 = all) [0],
# THREADS [2], LAYERS [2], HIDDEN (= embed) [256], BATCH [20], BPTT [35], LR (Adam) [0.002],
# DROPOUT [0.3], CUTOFFS [2000,6000], DIV [4].
#
# Cutoffs 2000,6000: in this slice the 2,000 most frequent types (specials included) cover
# 91.4% of the training tokens, so most rows need the head alone (2,002 logits instead of
# 14,903); the cluster [2000, 6000) takes 5.2% of them through a 64-wide projection (hidden 256,
# div 4) and the rare words [6000, 14903) 3.3% through a 16-wide one. The script prints the
# coverage it measures.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cornell=${1:-$here/../shared/data/cornell_movie_dialogs}
out=${2:-adaptive-bench}
lstmlm=${LSTMLM:-$here/src/lstmlm}
epochs=${EPOCHS:-3}
maxsteps=${MAXSTEPS:-0}
threads=${THREADS:-2}
cutoffs=${CUTOFFS:-2000,6000}
div=${DIV:-4}
[ -f "$cornell/movie_lines.txt" ] || { echo "adaptive: no Cornell corpus in $cornell" >&2; exit 77; }
mkdir -p "$out"
"$lstmlm" corpus import --format cornell "$cornell" -o "$out/c.txt" 2>/dev/null
"$lstmlm" corpus split "$out/c.txt" --valid 0.05 --test 0.05 --seed 1 -o "$out/c" > /dev/null
arch="--layers ${LAYERS:-2} --hidden ${HIDDEN:-256} --embed ${HIDDEN:-256} --batch ${BATCH:-20}
    --bptt ${BPTT:-35} --optimizer adam --lr ${LR:-0.002} --dropout ${DROPOUT:-0.3} --clip 5
    --seed 1 --threads $threads --epochs $epochs --max-steps $maxsteps"
echo "== adaptive softmax bench: $("$lstmlm" --version | head -1), $(nproc) cores, $threads threads," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
declare -A tps secs valid test params evtps
for kind in full adaptive; do
    head_opts="--softmax $kind"
    [ $kind = adaptive ] && head_opts="$head_opts --cutoffs $cutoffs --div $div"
    echo "== train $kind: lstmlm train $out/c.train.txt --valid $out/c.valid.txt $(echo $arch) $head_opts"
    # shellcheck disable=SC2086
    "$lstmlm" train "$out/c.train.txt" --valid "$out/c.valid.txt" -o "$out/$kind.h5" $arch \
        $head_opts > "$out/$kind.train" 2> "$out/$kind.log"
    grep '^model: .* layer' "$out/$kind.log" || true
    cat "$out/$kind.train"
    tps[$kind]=$(awk '/^epoch/ { for (i = 1; i <= NF; i++) if ($i == "tok/s") { s += $(i - 1); n++ } }
        END { printf "%.0f", n ? s / n : 0 }' "$out/$kind.train")
    secs[$kind]=$("$lstmlm" info "$out/$kind.h5" | awk '/^ *[0-9]+  / { s += $NF } END { printf "%.1f", s }')
    valid[$kind]=$("$lstmlm" info "$out/$kind.h5" | awk '/^ *[0-9]+  / && (b == "" || $4 < b) { b = $4 } END { print b }')
    params[$kind]=$("$lstmlm" info "$out/$kind.h5" | awk '$1 == "parameters" { print $2 }')
    "$lstmlm" eval --threads "$threads" "$out/$kind.h5" "$out/c.test.txt" > "$out/$kind.eval"
    test[$kind]=$(awk '$1 == "perplexity" { print $2 }' "$out/$kind.eval")
    evtps[$kind]=$(awk '$1 == "tokens/s" { print $2 }' "$out/$kind.eval")
done
# Coverage of the training tokens by the shortlist and each cluster. lstmlm info lists the
# tokens by count; after the specials <unk>, <eot>, <eoc> (ids 0-2, in the shortlist) that is
# the id order (ties in both by bytes).
V=$("$lstmlm" info "$out/full.h5" | awk '$1 == "vocabulary" { print $2 }')
"$lstmlm" info "$out/full.h5" --tokens "$V" | awk -v cut="$cutoffs" -v V="$V" '
    $1 == "top" {
        n = split(cut, c, ",")
        c[n + 1] = V
        id = 3
        for (i = 3; i <= NF; i++) {
            cnt = $i; sub(/.*\(/, "", cnt); sub(/\)$/, "", cnt)
            tok = substr($i, 1, length($i) - length(cnt) - 2)
            total += cnt
            if (tok == "<unk>" || tok == "<eot>" || tok == "<eoc>") part[1] += cnt
            else {
                k = 1
                while (id >= c[k]) k++
                part[k] += cnt
                id++
            }
        }
    }
    END {
        lo = 0
        for (k = 1; k <= n + 1; k++) {
            printf "%-10s [%5d, %5d): %5.2f%% of the training tokens\n",
                   (k == 1 ? "shortlist" : "cluster " k - 1), lo, c[k], 100 * part[k] / total
            lo = c[k]
        }
    }'
printf '\n%-9s %10s %12s %9s %10s %9s %11s\n' softmax params "train tok/s" "train s" \
    "valid ppl" "test ppl" "eval tok/s"
for kind in full adaptive; do
    printf '%-9s %10s %12s %9s %10s %9s %11s\n' $kind "${params[$kind]}" "${tps[$kind]}" \
        "${secs[$kind]}" "${valid[$kind]}" "${test[$kind]}" "${evtps[$kind]}"
done
awk -v a="${tps[adaptive]}" -v f="${tps[full]}" -v pa="${test[adaptive]}" -v pf="${test[full]}" \
    -v e="$epochs" -v V="$V" -v cut="$cutoffs" -v d="$div" 'BEGIN {
    printf "adaptive (cutoffs %s, div %s) vs full, vocabulary %d, %d epochs: training %.2fx the tokens/s, test perplexity %+.1f%%\n",
           cut, d, V, e, (f > 0 ? a / f : 0), (pf > 0 ? 100 * (pa / pf - 1) : 0) }'
