#!/bin/sh
# cornell.sh - from the Cornell Movie-Dialogs Corpus to a small LSTM chat model.
#
# Usage: examples/cornell.sh [CORNELL_DIR] [WORK_DIR]
#   CORNELL_DIR  the folder holding movie_lines.txt and movie_conversations.txt
#                [../shared/data/cornell_movie_dialogs beside the source tree];
#                data/fetch-corpora.sh cornell downloads the whole corpus
#   WORK_DIR     where the text files and the model go [./cornell-work]
# Environment: LSTMLM (the program [lstmlm on PATH, else ./src/lstmlm]), EPOCHS [6],
#              HIDDEN [256], THREADS [0 = OpenBLAS default].
#
# The steps, each a plain command you can run by hand:
#   1. import: rebuild the conversations, one turn per line, a blank line after each;
#   2. split: 5% of the conversations for validation, 5% for test, never cutting one;
#   3. stats: what the model will see, and the OOV rate of a 10,000-word vocabulary;
#   4. train: a 2-layer LSTM with Adam, lower-cased, validation perplexity every epoch;
#   5. eval: perplexity on the held-out test conversations;
#   6. chat with the model (or sample from it, where `lstmlm chat` is not built).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$here/../shared/data/cornell_movie_dialogs}
work=${2:-cornell-work}
EPOCHS=${EPOCHS:-6}
HIDDEN=${HIDDEN:-256}
THREADS=${THREADS:-0}
if [ -z "${LSTMLM:-}" ]; then
    if command -v lstmlm >/dev/null 2>&1; then
        LSTMLM=lstmlm
    else
        LSTMLM=./src/lstmlm
    fi
fi
if [ ! -d "$corpus" ]; then
    echo "$0: $corpus is not a folder; give the Cornell corpus folder as the first argument" >&2
    echo "(data/fetch-corpora.sh cornell downloads it)" >&2
    exit 2
fi
mkdir -p "$work"

step() {
    printf '\n== %s\n$ %s\n' "$1" "$(shift; echo "$*")"
    shift
    "$@"
}

step "1. import the corpus" \
    "$LSTMLM" corpus import --format cornell "$corpus" -o "$work/cornell.txt"

step "2. split by conversations" \
    "$LSTMLM" corpus split "$work/cornell.txt" --valid 0.05 --test 0.05 --seed 1 \
    -o "$work/cornell"

step "3. look at the training text" \
    "$LSTMLM" corpus stats "$work/cornell.train.txt" --max-vocab 10000 --lowercase

step "4. train an LSTM ($EPOCHS epochs)" \
    "$LSTMLM" train "$work/cornell.train.txt" --valid "$work/cornell.valid.txt" \
    -o "$work/model.h5" --layers 2 --hidden "$HIDDEN" --embed "$HIDDEN" --batch 32 --bptt 35 \
    --epochs "$EPOCHS" --optimizer adam --lr 0.002 --dropout 0.3 --clip 1 \
    --max-vocab 10000 --lowercase --seed 1 --threads "$THREADS"

step "5. test perplexity" \
    "$LSTMLM" eval "$work/model.h5" "$work/cornell.test.txt"

if "$LSTMLM" chat --help >/dev/null 2>&1; then
    if [ -t 0 ]; then
        step "6. chat (an empty line or Ctrl-D ends it)" "$LSTMLM" chat "$work/model.h5"
    else
        printf 'hi, how are you?\nwhere are you going?\nwhat do you want?\n' >"$work/chat.in"
        step "6. chat, three turns from $work/chat.in" \
            sh -c '"$1" chat "$2" <"$3"' chat "$LSTMLM" "$work/model.h5" "$work/chat.in"
    fi
else
    # The prompt ends its turn with <eot>, so the model answers it (and goes on playing both
    # parts of the conversation for the rest of the 30 tokens).
    for prompt in "hi, how are you?" "where are you going?" "what do you want?"; do
        step "6. sample a reply (lstmlm chat is not built here)" \
            "$LSTMLM" generate "$work/model.h5" --prompt "$prompt <eot>" --tokens 30 \
            --temperature 0.8 --top-p 0.9 --seed 1
    done
fi
