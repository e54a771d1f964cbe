#!/bin/sh
# dialogue-bot.sh - a regularised (AWD-LSTM style) dialogue model, its Kneser-Ney baseline and
# the mixture of both, from the Cornell Movie-Dialogs Corpus to a chat, in about an hour on
# 2 cores.
#
# Usage: examples/dialogue-bot.sh [CORNELL_DIR] [WORK_DIR]
#   CORNELL_DIR  the folder holding movie_lines.txt and movie_conversations.txt
#                [../shared/data/cornell_movie_dialogs beside the source tree]
#   WORK_DIR     where the text files and the models go [./dialogue-work]
# Environment: LSTMLM (the program [lstmlm on PATH, else ./src/lstmlm]), ARCH (lstm | rwkv)
#              [lstm], EPOCHS [40], THREADS [2], MINUTES (stop training after this many
#              minutes with Ctrl-C's checkpoint; the best model so far is kept; 0 = off) [60].
#
# The steps, each a plain command you can run by hand:
#   1. import the conversations, one turn per line, a blank line after each;
#   2. split 5% / 5% of the conversations for validation and test, never cutting one;
#   3. train on 10,000 lower-cased words, the embedding tied to the output layer, with
#      locked dropout on the input and the output, embedding dropout, AR and NT-ASGD (the
#      weights averaged once validation stalls for 3 epochs); the LSTM (2 x 512, tied through
#      a 512 -> 256 projection) adds dropout between its layers, weight drop on W_hh and TAR;
#      RWKV (3 x 384, channel mix 1152) dropout inside its blocks;
#   4. the 5-gram Kneser-Ney baseline on the same training text and vocabulary;
#   5. test perplexity of both, and of their mixture with the weight tuned on validation;
#   6. chat with the mixture (sampling: temperature 0.8, top-p 0.9, repetition penalty 1.2).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$here/../shared/data/cornell_movie_dialogs}
work=${2:-dialogue-work}
ARCH=${ARCH:-lstm}
EPOCHS=${EPOCHS:-40}
THREADS=${THREADS:-2}
MINUTES=${MINUTES:-60}
case $ARCH in
lstm) model="--layers 2 --hidden 512 --embed 256 --dropout-hidden 0.25 --weight-drop 0.5 --tar 1
             --dropout-input 0.4 --lr 0.003 --ar 2" ;;
rwkv) model="--arch rwkv --layers 3 --embed 384 --ffn 1152 --dropout 0.2 --dropout-input 0.3
             --lr 0.0015 --ar 1" ;;
*) echo "$0: ARCH=$ARCH: expected lstm or rwkv" >&2; exit 2 ;;
esac
if [ -z "${LSTMLM:-}" ]; then
    if command -v lstmlm >/dev/null 2>&1; then
        LSTMLM=lstmlm
    else
        LSTMLM=./src/lstmlm
    fi
fi
if [ ! -d "$corpus" ]; then
    echo "$0: $corpus is not a folder; give the Cornell corpus folder as the first argument" >&2
    exit 2
fi
mkdir -p "$work"

step() {
    printf '\n== %s\n$ %s\n' "$1" "$(shift; echo "$*")"
    shift
    "$@"
}

step "1. import the corpus" \
    "$LSTMLM" corpus import --format cornell "$corpus" -o "$work/dialog.txt"

step "2. split by conversations" \
    "$LSTMLM" corpus split "$work/dialog.txt" --valid 0.05 --test 0.05 --seed 1 -o "$work/dialog"

train() {
    # shellcheck disable=SC2086
    "$LSTMLM" train "$work/dialog.train.txt" --valid "$work/dialog.valid.txt" \
        -o "$work/$ARCH.h5" --max-vocab 10000 --lowercase $model --tie --batch 32 --bptt 35 \
        --epochs "$EPOCHS" --optimizer adam --clip 0.5 --dropout-embed 0.1 \
        --dropout-output 0.4 --asgd --asgd-patience 3 \
        --shift-windows on --seed 1 --threads "$THREADS" &
    pid=$!
    if [ "$MINUTES" -gt 0 ]; then
        (sleep $((MINUTES * 60)) && kill -INT "$pid" 2>/dev/null) &
        timer=$!
    fi
    # 130: stopped by the time limit; the checkpoint and the best model so far are written.
    rc=0
    wait "$pid" || rc=$?
    [ "$MINUTES" -gt 0 ] && kill "$timer" 2>/dev/null || true
    [ "$rc" = 0 ] || [ "$rc" = 130 ]
}
limit=""
[ "$MINUTES" -gt 0 ] && limit=", at most $MINUTES min"
step "3. train the $ARCH ($EPOCHS epochs$limit)" train

step "4. the 5-gram Kneser-Ney baseline" \
    "$LSTMLM" ngram train --order 5 --max-vocab 10000 --lowercase "$work/dialog.train.txt" \
    -o "$work/kn5.h5"

step "5a. test perplexity: 5-gram" "$LSTMLM" eval "$work/kn5.h5" "$work/dialog.test.txt"
step "5b. test perplexity: $ARCH" \
    "$LSTMLM" eval "$work/$ARCH.h5" "$work/dialog.test.txt" --threads "$THREADS"
# The tuned weight is kept from this run's output for the chat.
mix() {
    "$LSTMLM" eval "$work/$ARCH.h5" --mix "$work/kn5.h5" --tune-lambda "$work/dialog.valid.txt" \
        "$work/dialog.test.txt" --threads "$THREADS" 2>&1 | tee "$work/mix.txt"
}
step "5c. test perplexity: mixture, weight tuned on validation" mix
lambda=$(awk '/^lambda/ { print $2; exit }' "$work/mix.txt")
[ -n "$lambda" ] || { echo "$0: no mixture weight in $work/mix.txt" >&2; exit 1; }
# chat's own sampling defaults (temperature 0.8, top-p 0.9, repetition penalty 1.2)
sampling="--seed 1"
if [ -t 0 ]; then
    step "6. chat with the mixture (lambda $lambda; an empty line or Ctrl-D ends it)" \
        "$LSTMLM" chat "$work/$ARCH.h5" --mix "$work/kn5.h5" --lambda "$lambda" $sampling
else
    printf 'hi, how are you?\nwhere are you going?\nwhat do you want?\n' >"$work/chat.in"
    step "6. chat with the mixture (lambda $lambda), three turns from $work/chat.in" \
        sh -c '"$1" chat "$2" --mix "$3" --lambda "$4" '"$sampling"' <"$5"' chat "$LSTMLM" \
        "$work/$ARCH.h5" "$work/kn5.h5" "$lambda" "$work/chat.in"
fi
