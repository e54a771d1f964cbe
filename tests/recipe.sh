#!/bin/sh
# recipe.sh - examples/dialogue-bot.sh end to end on the shipped corpus written out in the two
# public corpora's own formats (a Cornell Movie-Dialogs folder and a DailyDialog __eou__ file):
# import, split, KN-5, the LSTM and the RWKV pre-trained on DailyDialog + Cornell and fine-tuned
# on Cornell (one epoch each), test perplexities, the tuned mixture and a piped chat; then the
# same without pre-training, and the script's refusals of a bad PRETRAIN or PRE_MINUTES.
set -u
name=recipe
. "${srcdir:-.}/tests/testlib.sh"
corpus="$srcdir/data/dialogues.txt"
script="$srcdir/examples/dialogue-bot.sh"
[ -f "$corpus" ] && [ -f "$script" ] || { echo "recipe.sh: no $corpus or $script"; exit 99; }

# The shipped conversations (a blank line after each) as Cornell's two files, and as one
# DailyDialog line per conversation.
mkdir -p "$tmp/cornell" "$tmp/dd"
awk -v lines="$tmp/cornell/movie_lines.txt" -v convs="$tmp/cornell/movie_conversations.txt" '
    /^$/ { if (ids != "") printf "u0 +++$+++ u1 +++$+++ m0 +++$+++ [%s]\n", ids > convs
           ids = ""; next }
    { n++; printf "L%d +++$+++ u%d +++$+++ m0 +++$+++ X +++$+++ %s\n", n, n % 2, $0 > lines
      ids = ids (ids == "" ? "" : ", ") "'\''L" n "'\''" }' "$corpus"
awk '/^$/ { if (c != "") print c; c = ""; next } { c = c $0 " __eou__ " }' "$corpus" |
    gzip >"$tmp/dd/dialogues_train.txt.gz"

run() { LSTMLM=$LSTMLM EPOCHS=1 PRE_EPOCHS=1 MINUTES=0 THREADS=2 sh "$script" "$@" </dev/null; }

w=$tmp/pre
check "the recipe with pre-training runs to the chat (exit 0)" \
    'PRETRAIN=$tmp/dd run "$tmp/cornell" "$w" >"$tmp/pre.out" 2>&1'
check "it imported DailyDialog and put it before Cornell's training turns" \
    '[ -s "$w/dailydialog.txt" ] && { cat "$w/dailydialog.txt"; echo; cat "$w/dialog.train.txt"; } | cmp -s - "$w/pretrain.txt"'
for n in lstm rwkv; do
    check "$n: pre-trained, then fine-tuned from it (--init) on Cornell" \
        '[ -s "$w/$n.pre.h5" ] && [ -s "$w/$n.h5" ] && grep -q "^$n: fine-tuning on" "$w/$n.log" && grep -q "pretrain.txt:" "$w/$n.log" && grep -q "^fine-tuning $w/$n.pre.h5" "$w/$n.log"'
    check "$n: the KN-5's vocabulary" \
        '[ "$($LSTMLM info "$w/$n.h5" | grep "^vocabulary")" = "$($LSTMLM info "$w/kn5.h5" | grep "^vocabulary")" ]'
done
check "test perplexities and the tuned three-part mixture" \
    '[ "$(grep -c "^perplexity" "$tmp/pre.out")" -ge 4 ] && grep -q "^lambda" "$w/mix.txt"'
check "the chat answered its three piped turns" \
    '[ "$(sed -n "/^== 6\. chat/,\$p" "$tmp/pre.out" | sed 1,2d | grep -c .)" -ge 3 ]'

w=$tmp/plain
check "PRETRAIN=none: Cornell alone (ARCH=lstm)" \
    'PRETRAIN=none ARCH=lstm run "$tmp/cornell" "$w" >"$tmp/plain.out" 2>&1 && [ -s "$w/lstm.h5" ] && [ ! -e "$w/lstm.pre.h5" ] && [ ! -e "$w/pretrain.txt" ]'

check "PRETRAIN without DailyDialog's training file: exit 2, named" \
    '[ "$(PRETRAIN=$tmp/cornell run "$tmp/cornell" "$tmp/x" 2>"$tmp/e1" >/dev/null; echo $?)" = 2 ] && grep -q "PRETRAIN=$tmp/cornell: no dialogues_train.txt" "$tmp/e1" && [ "$(wc -l <"$tmp/e1")" = 1 ]'
check "PRE_MINUTES not below MINUTES: exit 2, named" \
    '[ "$(PRETRAIN=$tmp/dd MINUTES=20 PRE_MINUTES=20 sh "$script" "$tmp/cornell" "$tmp/x" 2>"$tmp/e2" >/dev/null </dev/null; echo $?)" = 2 ] && grep -q "PRE_MINUTES=20 leaves no time" "$tmp/e2"'

echo "recipe.sh: $passes passed, $fails failed"
[ "$fails" = 0 ] || { sed 's/^/    /' "$tmp/pre.out" | tail -n 40; exit 1; }
