#!/bin/sh
# dialogue-bot.sh - regularised (AWD-LSTM style) dialogue models, their Kneser-Ney baseline and
# the mixture of all of them, from the Cornell Movie-Dialogs Corpus (and DailyDialog, for
# pre-training, where it is at hand) to a chat, in about an hour on 2 cores.
#
# Usage: examples/dialogue-bot.sh [CORNELL_DIR] [WORK_DIR]
#   CORNELL_DIR  the folder holding movie_lines.txt and movie_conversations.txt
#                [../shared/data/cornell_movie_dialogs beside the source tree]
#   WORK_DIR     where the text files and the models go [./dialogue-work]
# Environment: LSTMLM (the program [lstmlm on PATH, else ./src/lstmlm]), ARCH (lstm | rwkv |
#              both: the LSTM and the RWKV side by side, THREADS / 2 threads each) [both],
#              EPOCHS [40], THREADS [2], MINUTES (stop training after this many minutes with
#              Ctrl-C's checkpoint; the best model so far is kept; 0 = off) [60], PRECISION
#              (f32 | bf16: training's large products in bf16 with float32 sums, worth it
#              where lstmlm-train(1) says the CPU runs them fast) [f32], PRETRAIN (a folder
#              holding DailyDialog's dialogues_train.txt or dialogues_train.txt.gz: pre-train on
#              its conversations and Cornell's training ones, then fine-tune on Cornell's; none =
#              Cornell alone) [dailydialog beside CORNELL_DIR if it is there, else none],
#              PRE_MINUTES (of MINUTES, the pre-training's; none with MINUTES=0) [40],
#              PRE_EPOCHS [7].
#
# The steps, each a plain command you can run by hand:
#   1. import the conversations, one turn per line, a blank line after each;
#   2. split 5% / 5% of the conversations for validation and test, never cutting one;
#      with PRETRAIN, DailyDialog's training conversations are imported too and put before
#      Cornell's training ones: the pre-training text (Cornell's test turns are in neither);
#   3. the 5-gram Kneser-Ney baseline on the training text and its 10,000 most frequent
#      lower-cased words, which every network takes as its vocabulary;
#   4. train the networks, the embedding tied to the output layer, with
#      locked dropout on the input and the output, embedding dropout, AR and NT-ASGD (the
#      weights averaged once validation stalls); the LSTM (2 x 512, tied through a 512 -> 256
#      projection) adds dropout between its layers, weight drop on W_hh and TAR, and averages
#      after 3 epochs without improvement; RWKV (3 x 384, channel mix 1152) has dropout inside
#      its blocks and averages after the first epoch without improvement. With PRETRAIN,
#      each is first pre-trained for PRE_MINUTES on the pre-training text with lighter
#      dropout and no averaging, then trained as above from those weights (--init);
#   5. test perplexity of each model, and of the mixture of all of them with the weights and
#      the decay of the weights' evidence (--mix-decay) tuned on validation;
#   6. chat with the mixture (sampling: temperature 0.8, top-p 0.9, repetition penalty 1.2).
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
corpus=${1:-$here/../shared/data/cornell_movie_dialogs}
work=${2:-dialogue-work}
ARCH=${ARCH:-both}
EPOCHS=${EPOCHS:-40}
THREADS=${THREADS:-2}
MINUTES=${MINUTES:-60}
PRECISION=${PRECISION:-f32}
PRE_MINUTES=${PRE_MINUTES:-40}
PRE_EPOCHS=${PRE_EPOCHS:-7}
# The shape of each network, and its regularisation on Cornell (the shared options are in train
# below) and in the pre-training (four times the text, so lighter).
net_shape() {
    case $1 in
    lstm) echo "--layers 2 --hidden 512 --embed 256" ;;
    rwkv) echo "--arch rwkv --layers 3 --embed 384 --ffn 1152" ;;
    esac
}
net_opts() {
    case $1 in
    lstm) echo "--dropout-hidden 0.25 --weight-drop 0.5 --tar 1 --dropout-embed 0.1
                --dropout-input 0.4 --dropout-output 0.4 --lr 0.003 --ar 2 --asgd
                --asgd-patience 3" ;;
    rwkv) echo "--dropout 0.3 --dropout-embed 0.15 --dropout-input 0.4 --dropout-output 0.5
                --lr 0.0015 --ar 1 --asgd --asgd-patience 1" ;;
    esac
}
pre_opts() {
    case $1 in
    lstm) echo "--dropout-hidden 0.1 --weight-drop 0.2 --tar 1 --dropout-embed 0.05
                --dropout-input 0.2 --dropout-output 0.2 --lr 0.003 --ar 1" ;;
    rwkv) echo "--dropout 0.1 --dropout-embed 0.05 --dropout-input 0.2 --dropout-output 0.2
                --lr 0.0015 --ar 1" ;;
    esac
}
case $ARCH in
lstm | rwkv) nets=$ARCH; each=$THREADS ;;
both) nets="lstm rwkv"; each=$((THREADS / 2 > 0 ? THREADS / 2 : 1)) ;;
*) echo "$0: ARCH=$ARCH: expected lstm, rwkv or both" >&2; exit 2 ;;
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
if [ "${PRETRAIN+set}" != set ]; then
    PRETRAIN=none
    [ -d "$corpus/../dailydialog" ] && PRETRAIN=$corpus/../dailydialog
fi
pre_raw=""
if [ "$PRETRAIN" != none ]; then
    for f in "$PRETRAIN/dialogues_train.txt" "$PRETRAIN/dialogues_train.txt.gz"; do
        [ -f "$f" ] && pre_raw=$f && break
    done
    if [ -z "$pre_raw" ]; then
        echo "$0: PRETRAIN=$PRETRAIN: no dialogues_train.txt or dialogues_train.txt.gz there" >&2
        exit 2
    fi
    if [ "$MINUTES" -gt 0 ] && [ "$PRE_MINUTES" -ge "$MINUTES" ]; then
        echo "$0: PRE_MINUTES=$PRE_MINUTES leaves no time of MINUTES=$MINUTES to fine-tune" >&2
        exit 2
    fi
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

if [ -n "$pre_raw" ]; then
    # corpus import reads plain files; a compressed one goes through zcat first.
    case $pre_raw in
    *.gz) zcat "$pre_raw" >"$work/dailydialog.raw.txt"; pre_in=$work/dailydialog.raw.txt ;;
    *) pre_in=$pre_raw ;;
    esac
    step "2b. import DailyDialog's training conversations for pre-training" \
        "$LSTMLM" corpus import --format eou "$pre_in" -o "$work/dailydialog.txt"
    { cat "$work/dailydialog.txt"; echo; cat "$work/dialog.train.txt"; } >"$work/pretrain.txt"
    echo "pre-training text: $work/dailydialog.txt, then $work/dialog.train.txt -> $work/pretrain.txt"
fi

step "3. the 5-gram Kneser-Ney baseline (and the networks' vocabulary)" \
    "$LSTMLM" ngram train --order 5 --max-vocab 10000 --lowercase "$work/dialog.train.txt" \
    -o "$work/kn5.h5"

# timed MINUTES COMMAND...: runs the command, stopped with Ctrl-C's signal after MINUTES (exit
# 130: the checkpoint and the best model so far are written; 0 = no limit).
timed() {
    t_min=$1
    shift
    "$@" &
    pid=$!
    if [ "$t_min" -gt 0 ]; then
        (sleep $((t_min * 60)) && kill -INT "$pid" 2>/dev/null) &
        timer=$!
    fi
    rc=0
    wait "$pid" || rc=$?
    [ "$t_min" -gt 0 ] && kill "$timer" 2>/dev/null || true
    [ "$rc" = 0 ] || [ "$rc" = 130 ]
}
# train NET: one network, pre-trained first with PRETRAIN.
train() {
    shared="--tie --batch 32 --bptt 35 --optimizer adam --clip 0.5 --shift-windows on
            --precision $PRECISION --seed 1 --threads $each"
    minutes=$MINUTES
    from="--vocab-from $work/kn5.h5"
    if [ -n "$pre_raw" ]; then
        echo "$1: pre-training on $work/pretrain.txt"
        pre_minutes=$PRE_MINUTES
        [ "$minutes" -gt 0 ] || pre_minutes=0
        # shellcheck disable=SC2046,SC2086
        timed "$pre_minutes" "$LSTMLM" train "$work/pretrain.txt" \
            --valid "$work/dialog.valid.txt" -o "$work/$1.pre.h5" $from $(net_shape "$1") \
            $(pre_opts "$1") $shared --epochs "$PRE_EPOCHS" || return 1
        [ "$minutes" -gt 0 ] && minutes=$((minutes - PRE_MINUTES))
        from="--init $work/$1.pre.h5"
        echo "$1: fine-tuning on $work/dialog.train.txt"
    fi
    # shellcheck disable=SC2046,SC2086
    timed "$minutes" "$LSTMLM" train "$work/dialog.train.txt" --valid "$work/dialog.valid.txt" \
        -o "$work/$1.h5" $from $(net_shape "$1") $(net_opts "$1") $shared --epochs "$EPOCHS"
}
# train_all: every network of ARCH; side by side, each into its own log, when there are two.
train_all() {
    if [ "$ARCH" != both ]; then
        train "$ARCH"
        return
    fi
    for n in $nets; do
        echo "$n: training, progress in $work/$n.log"
        (train "$n" >"$work/$n.log" 2>&1; echo $? >"$work/$n.rc") &
    done
    wait
    for n in $nets; do
        grep -a '^epoch .*valid ppl' "$work/$n.log" | tail -n 3 | sed "s/^/$n: /"
        tail -n 1 "$work/$n.log" | sed "s/^/$n: /"
        [ "$(cat "$work/$n.rc")" = 0 ] || { echo "$0: training the $n failed" >&2; return 1; }
    done
}
limit=""
[ "$MINUTES" -gt 0 ] && limit=", at most $MINUTES min"
[ -n "$pre_raw" ] && limit="$limit, pre-trained on DailyDialog and Cornell first"
step "4. train: $nets ($EPOCHS epochs$limit, $each thread(s) each)" train_all

step "5a. test perplexity: 5-gram" "$LSTMLM" eval "$work/kn5.h5" "$work/dialog.test.txt"
for n in $nets; do
    step "5b. test perplexity: $n" \
        "$LSTMLM" eval "$work/$n.h5" "$work/dialog.test.txt" --threads "$THREADS"
done
# The mixture: the first network with --mix for the RWKV (ARCH=both) and the 5-gram; the tuned
# weights and decay (weights that follow each part's recent success) are kept from this run's
# output for the chat.
first=${nets%% *}
others() {
    if [ "$ARCH" = both ]; then
        "$@" --mix "$work/rwkv.h5" --mix "$work/kn5.h5"
    else
        "$@" --mix "$work/kn5.h5"
    fi
}
mix() {
    others "$LSTMLM" eval "$work/$first.h5" --mix-decay auto \
        --tune-lambda "$work/dialog.valid.txt" "$work/dialog.test.txt" --threads "$THREADS" 2>&1 |
        tee "$work/mix.txt"
}
step "5c. test perplexity: mixture, weights and decay tuned on validation" mix
lambda=$(awk '/^lambda/ { print $2; exit }' "$work/mix.txt")
decay=$(awk '/^lambda/ { print $4; exit }' "$work/mix.txt")
[ -n "$lambda" ] && [ -n "$decay" ] ||
    { echo "$0: no mixture weights in $work/mix.txt" >&2; exit 1; }
# chat's own sampling defaults (temperature 0.8, top-p 0.9, repetition penalty 1.2)
sampling="--seed 1"
if [ -t 0 ]; then
    step "6. chat with the mixture (lambda $lambda, decay $decay; an empty line or Ctrl-D ends it)" \
        others "$LSTMLM" chat "$work/$first.h5" --lambda "$lambda" --mix-decay "$decay" $sampling
else
    printf 'hi, how are you?\nwhere are you going?\nwhat do you want?\n' >"$work/chat.in"
    chat() {
        others "$LSTMLM" chat "$work/$first.h5" --lambda "$lambda" --mix-decay "$decay" \
            $sampling <"$work/chat.in"
    }
    step "6. chat with the mixture (lambda $lambda, decay $decay), three turns from $work/chat.in" chat
fi
