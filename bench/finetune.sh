#!/usr/bin/env bash
# Fine-tuning against training from scratch on DailyDialog: the same AWD-style LSTM (2 x 512,
# embedding 256 tied through a projection) trained for EPOCHS epochs on DailyDialog's training
# file twice, once from random weights and once from a model pre-trained on the Cornell slice
# (`lstmlm train --init`). Both use DailyDialog's vocabulary (10,000 lower-cased words, taken
# from its KN-5 with --vocab-from, so the pre-trained model has it too), so every perplexity
# below is over the same events. Prints the validation perplexity of each epoch, then for each
# model (and the KN-5 and the mixtures with it) the perplexity on the held-out 5% of the
# training conversations, on DailyDialog's official validation file, and on that file without
# the conversations that occur verbatim in the training file.
#
#   bench/finetune.sh [SHARED_DATA_DIR] [OUT_DIR]
#        (defaults: ../shared/data beside the source tree, ./finetune-bench)
# Environment: LSTMLM [src/lstmlm], EPOCHS (DailyDialog epochs of both runs) [8], PRE_EPOCHS
# (Cornell epochs) [12], THREADS (per run) [1], PARALLEL (1: the pre-training and the scratch
# run side by side, one core each; 0: one after the other) [1], MAXSTEPS (windows per epoch,
# 0 = all; for a quick try) [0].
#
# About 1 hour 45 minutes on 2 cores with the defaults (7.5 min per DailyDialog epoch, 2 min per
# Cornell epoch, 1 thread each).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
data=${1:-$here/../shared/data}
out=${2:-finetune-bench}
lstmlm=${LSTMLM:-$here/src/lstmlm}
epochs=${EPOCHS:-8}
pre_epochs=${PRE_EPOCHS:-12}
threads=${THREADS:-1}
parallel=${PARALLEL:-1}
maxsteps=${MAXSTEPS:-0}
dd=$data/dailydialog
cornell=$data/cornell_movie_dialogs
for f in "$dd/dialogues_train.txt.gz" "$dd/dialogues_validation.txt" "$cornell/movie_lines.txt"; do
    [ -f "$f" ] || { echo "finetune: $f is missing" >&2; exit 77; }
done
mkdir -p "$out"
cd "$out"
echo "== fine-tuning bench: $("$lstmlm" --version | head -1), $(nproc) cores, $threads thread(s)" \
     "per run, load average $(cut -d' ' -f1-3 /proc/loadavg)"

# Data: DailyDialog's training file split 95/5 by conversations (the official validation file
# is the test set), and the Cornell slice's training split.
zcat "$dd/dialogues_train.txt.gz" >dd.raw.txt
"$lstmlm" corpus import -q --format eou dd.raw.txt -o dd.all.txt
"$lstmlm" corpus import -q --format eou "$dd/dialogues_validation.txt" -o dd.test.txt
"$lstmlm" corpus split dd.all.txt --valid 0.05 --test 0 --seed 1 -o dd >/dev/null
"$lstmlm" corpus import -q --format cornell "$cornell" -o cornell.txt
"$lstmlm" corpus split cornell.txt --valid 0.05 --test 0.05 --seed 1 -o cornell >/dev/null
# The official validation file without its conversations found verbatim in the training file
# (DailyDialog repeats some dialogues across its splits).
awk 'FNR == 1 { f++ } /^$/ { if (c != "") { if (f == 1) seen[c] = 1; else if (!(c in seen))
         printf "%s\n", c } c = ""; next } { c = c $0 "\n" }' dd.train.txt dd.test.txt \
    >dd.test-unseen.txt
"$lstmlm" ngram train -q --order 5 --max-vocab 10000 --lowercase dd.train.txt -o kn5.h5

reg="--layers 2 --hidden 512 --embed 256 --tie --batch 32 --bptt 35 --optimizer adam --lr 0.003
    --clip 0.5 --dropout-embed 0.1 --ar 2 --tar 1 --asgd --shift-windows on --seed 1
    --threads $threads --max-steps $maxsteps -q"
# Pre-training: the Cornell recipe of examples/dialogue-bot.sh.
pre() {
    # shellcheck disable=SC2086
    "$lstmlm" train cornell.train.txt --valid cornell.valid.txt -o pre.h5 --vocab-from kn5.h5 \
        $reg --dropout-input 0.4 --dropout-hidden 0.25 --dropout-output 0.4 --weight-drop 0.5 \
        --asgd-patience 3 --epochs "$pre_epochs" --history-csv pre.csv
}
# DailyDialog: the same options for both runs, lighter dropout for 4x the data.
dd_opts="--dropout-input 0.3 --dropout-hidden 0.2 --dropout-output 0.3 --weight-drop 0.4
    --asgd-patience 2 --epochs $epochs"
scratch() {
    # shellcheck disable=SC2086
    "$lstmlm" train dd.train.txt --valid dd.valid.txt -o scratch.h5 --vocab-from kn5.h5 $reg \
        $dd_opts --history-csv scratch.csv
}
fine() {
    # shellcheck disable=SC2086
    "$lstmlm" train dd.train.txt --valid dd.valid.txt -o fine.h5 --init pre.h5 $reg $dd_opts \
        --history-csv fine.csv
}
start=$(date +%s)
if [ "$parallel" = 1 ]; then
    scratch & s=$!
    pre && fine
    wait "$s"
else
    scratch
    pre
    fine
fi
echo "training: $(( ($(date +%s) - start) / 60 )) min"

for run in pre scratch fine; do
    echo "-- $run.h5: validation perplexity per epoch (batch 32 streams)"
    awk -F, 'NR > 1 { printf "%s%d: %.2f", sep, $1, $5; sep = ", " } END { print "" }' "$run.csv"
done
ppl() { "$lstmlm" eval "$@" | awk '/^perplexity/ { print $2 }'; }
printf '%-26s %10s %10s %12s\n' model valid test test-unseen
for m in kn5 scratch fine; do
    printf '%-26s %10s %10s %12s\n' "$m" "$(ppl $m.h5 dd.valid.txt)" "$(ppl $m.h5 dd.test.txt)" \
        "$(ppl $m.h5 dd.test-unseen.txt)"
done
for m in scratch fine; do
    lambda=$("$lstmlm" eval $m.h5 --mix kn5.h5 --tune-lambda dd.valid.txt dd.valid.txt 2>&1 |
        awk '/^lambda/ { print $2; exit }')
    printf '%-26s %10s %10s %12s\n' "$m + kn5 ($lambda)" \
        "$(ppl $m.h5 --mix kn5.h5 --lambda "$lambda" dd.valid.txt)" \
        "$(ppl $m.h5 --mix kn5.h5 --lambda "$lambda" dd.test.txt)" \
        "$(ppl $m.h5 --mix kn5.h5 --lambda "$lambda" dd.test-unseen.txt)"
    # Weights that follow each part's recent success, the decay chosen on validation too.
    tuned=$("$lstmlm" eval $m.h5 --mix kn5.h5 --mix-decay auto --tune-lambda dd.valid.txt \
        dd.valid.txt 2>&1 | awk '/^lambda/ { print $2, $4; exit }')
    lambda=${tuned% *} decay=${tuned#* }
    printf '%-26s %10s %10s %12s\n' "$m + kn5 ($lambda, decay $decay)" \
        "$(ppl $m.h5 --mix kn5.h5 --lambda "$lambda" --mix-decay "$decay" dd.valid.txt)" \
        "$(ppl $m.h5 --mix kn5.h5 --lambda "$lambda" --mix-decay "$decay" dd.test.txt)" \
        "$(ppl $m.h5 --mix kn5.h5 --lambda "$lambda" --mix-decay "$decay" dd.test-unseen.txt)"
done
