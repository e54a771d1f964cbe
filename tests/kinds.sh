#!/bin/sh
# kinds.sh - every model kind through every command: an LSTM, an RWKV, a transformer, a
# Kneser-Ney n-gram (HDF5), the same n-gram as an ARPA file, and a mixture of the LSTM with
# the n-gram (with fixed weights and with weights that follow the evidence) go through eval,
# generate, chat (piped), memory and info with the same options; a tuned mixture is no worse
# than either part, nor a tuned three-part one than two parts, nor one with a chosen decay
# than fixed weights.
set -u
name=kinds
. "${srcdir:-.}/tests/testlib.sh"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "kinds.sh: no $corpus"; exit 99; }

head -n 800 "$corpus" > "$tmp/train.txt"
sed -n '801,900p' "$corpus" > "$tmp/valid.txt"
tail -n +901 "$corpus" > "$tmp/test.txt"

# The same vocabulary for every model: the training file with its default settings.
common="--epochs 1 --batch 8 --bptt 10 --optimizer adam --lr 0.01 --seed 3 --threads 1 -q"
for a in lstm rwkv transformer; do
    "$LSTMLM" train "$tmp/train.txt" -o "$tmp/$a.h5" --arch $a --embed 24 --hidden 24 \
        --layers 1 --heads 2 --context 16 $common > "$tmp/$a.log" 2>&1 ||
        { cat "$tmp/$a.log"; echo "FAILED: training $a"; exit 1; }
done
"$LSTMLM" ngram train -q --order 3 "$tmp/train.txt" -o "$tmp/ngram.h5" --arpa "$tmp/ngram.arpa" ||
    { echo "FAILED: training the n-gram"; exit 1; }

for m in lstm rwkv transformer ngram ngram.arpa mix mixdecay; do
    case $m in
    mix) file="$tmp/lstm.h5"; extra="--mix $tmp/ngram.h5 --lambda 0.6" ;;
    mixdecay) file="$tmp/lstm.h5"; extra="--mix $tmp/ngram.h5 --lambda 0.6 --mix-decay 0.9" ;;
    ngram.arpa) file="$tmp/ngram.arpa"; extra="" ;;
    *) file="$tmp/$m.h5"; extra="" ;;
    esac
    check "$m: eval reports a perplexity" \
        '"$LSTMLM" eval $extra "$file" "$tmp/test.txt" > "$tmp/$m.eval" && p=$(field perplexity "$tmp/$m.eval") && awk -v p="$p" "BEGIN { exit !(p > 1 && p < 2000) }"'
    check "$m: generate is repeatable with a seed" \
        '"$LSTMLM" generate $extra "$file" -p "how are you" -n 15 --seed 7 > "$tmp/$m.g1" && "$LSTMLM" generate $extra "$file" -p "how are you" -n 15 --seed 7 > "$tmp/$m.g2" && cmp -s "$tmp/$m.g1" "$tmp/$m.g2" && [ -s "$tmp/$m.g1" ]'
    check "$m: generate --beam gives a reply" \
        '"$LSTMLM" generate $extra "$file" -p "hello" -n 12 --beam 3 > "$tmp/$m.b" && [ -s "$tmp/$m.b" ]'
    check "$m: chat answers each piped turn on one line" \
        'printf "hello\nhow are you?\n" | "$LSTMLM" chat $extra "$file" --seed 2 -n 12 > "$tmp/$m.chat" 2> "$tmp/$m.chat.err" && [ "$(wc -l < "$tmp/$m.chat")" = 2 ]'
    check "$m: chat --session saves and resumes the conversation" \
        'printf "hello\n" | "$LSTMLM" chat $extra "$file" --session "$tmp/$m.sess" -n 8 > /dev/null 2>&1 && [ -f "$tmp/$m.sess" ] && printf "and you?\n" | "$LSTMLM" chat $extra "$file" --session "$tmp/$m.sess" -n 8 > /dev/null 2> "$tmp/$m.sess.err"'
    check "$m: memory measures the state" \
        '"$LSTMLM" memory $extra "$file" --max-tokens 200 --quiet > "$tmp/$m.mem" 2>&1 && grep -q "state" "$tmp/$m.mem"'
    if [ $m != mix ] && [ $m != mixdecay ]; then
        check "$m: info describes it" \
            '"$LSTMLM" info "$file" > "$tmp/$m.info" && grep -q "^arch" "$tmp/$m.info" && grep -q "^vocabulary" "$tmp/$m.info"'
    fi
done

check "info --history-csv and --plot write the training curve" \
    '"$LSTMLM" info "$tmp/lstm.h5" --history-csv "$tmp/h.csv" --plot "$tmp/c.svg" > /dev/null && head -1 "$tmp/h.csv" | grep -q "^epoch,tokens,train_loss" && [ "$(wc -l < "$tmp/h.csv")" = 2 ] && grep -q "<svg" "$tmp/c.svg" && grep -q "training" "$tmp/c.svg"'
check "info --history-csv of a model without history: one line, exit 1" \
    '"$LSTMLM" info "$tmp/ngram.h5" --history-csv "$tmp/n.csv" > /dev/null 2> "$tmp/n.err"; [ $? = 1 ] && [ "$(wc -l < "$tmp/n.err")" = 1 ]'
check "info lists the top tokens by count" \
    'awk "/^top tokens/" "$tmp/lstm.info" | tr " " "\n" | sed -n "s/.*(\([0-9]*\))$/\1/p" > "$tmp/counts" && sort -rn "$tmp/counts" | cmp -s - "$tmp/counts"'
check "the ARPA file and the HDF5 n-gram agree on perplexity" \
    '[ "$(field perplexity "$tmp/ngram.eval")" = "$(field perplexity "$tmp/ngram.arpa.eval")" ]'
check "eval --tune-lambda reports the weight and beats both parts" \
    '"$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --tune-lambda "$tmp/valid.txt" "$tmp/test.txt" > "$tmp/tuned" 2> "$tmp/tuned.err" && grep -q "^lambda" "$tmp/tuned.err" && t=$(field perplexity "$tmp/tuned") && a=$(field perplexity "$tmp/lstm.eval") && b=$(field perplexity "$tmp/ngram.eval") && awk -v t="$t" -v a="$a" -v b="$b" "BEGIN { exit !(t <= a && t <= b) }"'
# Three parts (LSTM, RWKV, n-gram), tuned on the text they are scored on: EM's optimum over
# three weights is no worse than over two (the two-part mixture is the third weight at 0), and
# the weights it prints, given back as --lambda, give the same perplexity.
check "a three-part mixture: tuned no worse than two parts, its printed weights repeat it" \
    '"$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --tune-lambda "$tmp/valid.txt" "$tmp/valid.txt" > "$tmp/t2" 2>/dev/null && "$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/rwkv.h5" --mix "$tmp/ngram.h5" --tune-lambda "$tmp/valid.txt" "$tmp/valid.txt" > "$tmp/t3" 2> "$tmp/t3.err" && w=$(sed -n "s/^lambda \([0-9.]*,[0-9.]*\) .*/\1/p" "$tmp/t3.err") && [ -n "$w" ] && "$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/rwkv.h5" --mix "$tmp/ngram.h5" --lambda "$w" "$tmp/valid.txt" > "$tmp/t3b" && a=$(field perplexity "$tmp/t2") && b=$(field perplexity "$tmp/t3") && c=$(field perplexity "$tmp/t3b") && [ "$b" = "$c" ] && awk -v a="$a" -v b="$b" "BEGIN { exit !(b <= a + 0.01) }"'
check "--mix-decay auto: the chosen decay and weights, given back, repeat the tuned perplexity" \
    '"$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --mix-decay auto --tune-lambda "$tmp/valid.txt" "$tmp/valid.txt" > "$tmp/td" 2> "$tmp/td.err" && l=$(sed -n "s/^lambda \([0-9.]*\) decay \([0-9.]*\) .*/\1/p" "$tmp/td.err") && d=$(sed -n "s/^lambda \([0-9.]*\) decay \([0-9.]*\) .*/\2/p" "$tmp/td.err") && [ -n "$l" ] && [ -n "$d" ] && "$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --lambda "$l" --mix-decay "$d" "$tmp/valid.txt" > "$tmp/td2" && a=$(field perplexity "$tmp/t2") && b=$(field perplexity "$tmp/td") && c=$(field perplexity "$tmp/td2") && awk -v a="$a" -v b="$b" -v c="$c" "BEGIN { exit !(b <= a + 0.01 && c - b < 0.02 && b - c < 0.02) }"'
check "--mix-decay: outside [0, 1], without --mix, or auto without --tune-lambda: exit 2, one line" \
    '"$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --mix-decay 1.5 "$tmp/test.txt" > /dev/null 2> "$tmp/d1.err"; [ $? = 2 ] && grep -q -- "--mix-decay" "$tmp/d1.err" && "$LSTMLM" eval "$tmp/lstm.h5" --mix-decay 0.5 "$tmp/test.txt" > /dev/null 2> "$tmp/d2.err"; [ $? = 2 ] && grep -q -- "--mix-decay needs --mix" "$tmp/d2.err" && "$LSTMLM" chat "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --mix-decay auto < /dev/null > /dev/null 2> "$tmp/d3.err"; [ $? = 2 ] && grep -q -- "--mix-decay auto" "$tmp/d3.err" && [ "$(cat "$tmp/d1.err" "$tmp/d2.err" "$tmp/d3.err" | wc -l)" = 3 ]'
check "--lambda with another count of weights than --mix models: exit 2, one line" \
    '"$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/rwkv.h5" --mix "$tmp/ngram.h5" --lambda 0.5 "$tmp/test.txt" > /dev/null 2> "$tmp/c.err"; [ $? = 2 ] && grep -q -- "--lambda: 1 weight for 2 --mix models" "$tmp/c.err" && [ "$(wc -l < "$tmp/c.err")" = 1 ]'
check "a vocabulary mismatch is one line, exit 1" \
    'head -n 100 "$tmp/train.txt" > "$tmp/small.txt" && "$LSTMLM" ngram train -q "$tmp/small.txt" -o "$tmp/small.h5" && "$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/small.h5" "$tmp/test.txt" > /dev/null 2> "$tmp/mm.err"; [ $? = 1 ] && grep -q "vocabularies differ" "$tmp/mm.err" && [ "$(wc -l < "$tmp/mm.err")" = 1 ]'
check "--lambda outside [0, 1]: exit 2 naming the option" \
    '"$LSTMLM" eval "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --lambda 2 "$tmp/test.txt" > /dev/null 2> "$tmp/l.err"; [ $? = 2 ] && grep -q -- "--lambda: bad value" "$tmp/l.err"'
check "--tune-lambda without --mix: exit 2" \
    '"$LSTMLM" eval "$tmp/lstm.h5" --tune-lambda "$tmp/valid.txt" "$tmp/test.txt" > /dev/null 2>&1; [ $? = 2 ]'
check "a text file is not a model: one line naming it, exit 1" \
    '"$LSTMLM" eval "$tmp/test.txt" "$tmp/test.txt" > /dev/null 2> "$tmp/t.err"; [ $? = 1 ] && grep -q test.txt "$tmp/t.err" && [ "$(wc -l < "$tmp/t.err")" = 1 ]'

echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
