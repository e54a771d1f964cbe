#!/bin/sh
# quant.sh - `lstmlm quantize` and the quantized model files through every command: an LSTM,
# an RWKV and a transformer, each quantized to int8 and bf16, go through eval, generate, chat
# (piped, and a saved session), memory, info and --mix; their perplexity stays within 2% of
# the float model's; misuse is refused with the usual exit codes.
set -u
name=quant
. "${srcdir:-.}/tests/testlib.sh"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "quant.sh: no $corpus"; exit 99; }

head -n 600 "$corpus" > "$tmp/train.txt"
tail -n 100 "$corpus" > "$tmp/test.txt"
common="--epochs 1 --batch 8 --bptt 10 --optimizer adam --lr 0.01 --seed 3 --threads 1 -q"
for a in lstm rwkv transformer; do
    "$LSTMLM" train "$tmp/train.txt" -o "$tmp/$a.h5" --arch $a --embed 40 --hidden 40 \
        --layers 1 --heads 2 --context 16 $common > "$tmp/$a.log" 2>&1 ||
        { cat "$tmp/$a.log"; echo "FAILED: training $a"; exit 1; }
    "$LSTMLM" eval "$tmp/$a.h5" "$tmp/test.txt" > "$tmp/$a.eval" ||
        { echo "FAILED: eval $a"; exit 1; }
done
"$LSTMLM" ngram train -q --order 3 "$tmp/train.txt" -o "$tmp/ngram.h5" ||
    { echo "FAILED: training the n-gram"; exit 1; }

for a in lstm rwkv transformer; do
    for t in int8 bf16; do
        m="$a-$t"
        file="$tmp/$m.h5"
        check "$m: quantize writes a smaller file" \
            '"$LSTMLM" quantize "$tmp/$a.h5" -o "$file" --type $t 2> "$tmp/$m.q" && [ -f "$file" ] && [ $(wc -c < "$file") -lt $(wc -c < "$tmp/$a.h5") ] && grep -q "MiB" "$tmp/$m.q"'
        check "$m: eval within 2% of the float model" \
            '"$LSTMLM" eval "$file" "$tmp/test.txt" > "$tmp/$m.eval" && p=$(field perplexity "$tmp/$m.eval") && f=$(field perplexity "$tmp/$a.eval") && awk -v p="$p" -v f="$f" "BEGIN { exit !(p > 0.98 * f && p < 1.02 * f) }"'
        check "$m: generate is repeatable with a seed" \
            '"$LSTMLM" generate "$file" -p "how are you" -n 15 --seed 7 > "$tmp/$m.g1" && "$LSTMLM" generate "$file" -p "how are you" -n 15 --seed 7 > "$tmp/$m.g2" && cmp -s "$tmp/$m.g1" "$tmp/$m.g2" && [ -s "$tmp/$m.g1" ]'
        check "$m: generate --bench names the kind" \
            '"$LSTMLM" generate "$file" -p "hello" -n 10 --bench > /dev/null 2> "$tmp/$m.bench" && grep -q "$m" "$tmp/$m.bench"'
        check "$m: generate --beam gives a reply" \
            '"$LSTMLM" generate "$file" -p "hello" -n 12 --beam 3 > "$tmp/$m.b" && [ -s "$tmp/$m.b" ]'
        check "$m: chat answers each piped turn on one line" \
            'printf "hello\nhow are you?\n" | "$LSTMLM" chat "$file" --seed 2 -n 12 > "$tmp/$m.chat" 2> /dev/null && [ "$(wc -l < "$tmp/$m.chat")" = 2 ]'
        check "$m: chat --session saves and resumes the conversation" \
            'printf "hello\n" | "$LSTMLM" chat "$file" --session "$tmp/$m.sess" -n 8 > /dev/null 2>&1 && [ -f "$tmp/$m.sess" ] && printf "and you?\n" | "$LSTMLM" chat "$file" --session "$tmp/$m.sess" -n 8 > /dev/null 2>&1'
        check "$m: memory measures the state" \
            '"$LSTMLM" memory "$file" --max-tokens 200 --quiet > "$tmp/$m.mem" 2>&1 && grep -q "state" "$tmp/$m.mem"'
        check "$m: info describes it" \
            '"$LSTMLM" info "$file" > "$tmp/$m.info" && grep -q "^arch *$a" "$tmp/$m.info" && grep -q "^quantized *$t" "$tmp/$m.info" && grep -q "^vocabulary" "$tmp/$m.info"'
        check "$m: --mix with an n-gram, either side" \
            '"$LSTMLM" eval "$file" --mix "$tmp/ngram.h5" "$tmp/test.txt" > /dev/null && "$LSTMLM" eval "$tmp/ngram.h5" --mix "$file" "$tmp/test.txt" > /dev/null'
    done
done

check "quantize --check reports perplexities, KL and agreement" \
    '"$LSTMLM" quantize -q "$tmp/lstm.h5" -o "$tmp/c.h5" --check "$tmp/test.txt" --check-tokens 300 > "$tmp/check" && grep -q "^mean KL" "$tmp/check" && grep -q "^top-1 agreement" "$tmp/check" && grep -q "^perplexity" "$tmp/check"'
check "quantize --type f32 keeps the perplexity" \
    '"$LSTMLM" quantize -q "$tmp/lstm.h5" -o "$tmp/f.h5" --type f32 && "$LSTMLM" eval "$tmp/f.h5" "$tmp/test.txt" > "$tmp/f.eval" && [ "$(field perplexity "$tmp/f.eval")" = "$(field perplexity "$tmp/lstm.eval")" ]'
check "--type int4: exit 2 naming the option and the accepted values" \
    '"$LSTMLM" quantize "$tmp/lstm.h5" -o "$tmp/x.h5" --type int4 2> "$tmp/e1"; [ $? = 2 ] && grep -q -- "--type: bad value .int4. (expected bf16, int8 or f32)" "$tmp/e1"'
check "no -o: exit 2" \
    '"$LSTMLM" quantize "$tmp/lstm.h5" 2> /dev/null; [ $? = 2 ]'
check "an n-gram model is not quantized: one line, exit 1" \
    '"$LSTMLM" quantize "$tmp/ngram.h5" -o "$tmp/x.h5" 2> "$tmp/e2"; [ $? = 1 ] && [ "$(wc -l < "$tmp/e2")" = 1 ] && grep -q "cannot be quantized" "$tmp/e2" && [ ! -f "$tmp/x.h5" ]'
check "a quantized model is not quantized again: exit 1" \
    '"$LSTMLM" quantize "$tmp/lstm-int8.h5" -o "$tmp/x.h5" 2> /dev/null; [ $? = 1 ]'
check "train --resume refuses a quantized model: exit 1" \
    '"$LSTMLM" train --resume "$tmp/lstm-int8.h5" "$tmp/train.txt" -o "$tmp/x.h5" -q > /dev/null 2> "$tmp/e3"; [ $? = 1 ] && [ -s "$tmp/e3" ]'
check "a damaged quantized file: one line, exit 1" \
    'head -c 3000 "$tmp/lstm-int8.h5" > "$tmp/cut.h5" && "$LSTMLM" eval "$tmp/cut.h5" "$tmp/test.txt" > /dev/null 2> "$tmp/e4"; [ $? = 1 ] && [ "$(wc -l < "$tmp/e4")" = 1 ]'

# A model tied through a projection (hidden 24 != embed 16): the projection is quantized too;
# the quantized steps follow the float model's (the same greedy text).
if "$LSTMLM" train "$tmp/train.txt" -o "$tmp/proj.h5" --epochs 1 --hidden 24 --embed 16 --tie \
    --batch 8 --bptt 10 --threads 1 -q; then
    for t in int8 bf16; do
        check "tied through a projection, $t: quantize, eval and greedy generation" \
            '"$LSTMLM" quantize "$tmp/proj.h5" -o "$tmp/proj-$t.h5" --type $t -q && "$LSTMLM" eval "$tmp/proj-$t.h5" "$tmp/train.txt" | grep -q "^perplexity" && [ "$("$LSTMLM" generate "$tmp/proj-$t.h5" -n 12 -t 0)" = "$("$LSTMLM" generate "$tmp/proj.h5" -n 12 -t 0)" ]'
    done
else
    bad "training the tied-projection model"
fi
echo "$passes passed, $fails failed"
[ "$fails" = 0 ]
