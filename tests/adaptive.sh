#!/bin/sh
# adaptive.sh - a model with the adaptive softmax (--softmax adaptive --cutoffs) through every
# command, on the shipped corpus: a few training windows with validation, eval, generate
# (sampled, greedy, beam), chat piped, a mixture with an n-gram, info (the softmax and its
# cutoffs), a resume and a fine-tuning run, and int8 and bf16 copies that evaluate within 2% of
# it and generate.
set -u
name=adaptive
. "${srcdir:-.}/tests/testlib.sh"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "adaptive.sh: no $corpus"; exit 99; }
head -n 700 "$corpus" > "$tmp/train.txt"
tail -n 150 "$corpus" > "$tmp/test.txt"
L=$LSTMLM
opts="--softmax adaptive --cutoffs 60,250 --div 2 --embed 32 --hidden 32 --layers 1 --batch 8 \
    --bptt 10 --optimizer adam --lr 0.01 --seed 3 --threads 1 -q"

check "train: two epochs of 40 windows with validation" \
    '$L train "$tmp/train.txt" --valid "$tmp/test.txt" -o "$tmp/a.h5" --epochs 2 --max-steps 40 $opts && [ "$($L info "$tmp/a.h5" | grep -c "^ *[0-9]  ")" = 2 ]'
check "train (not quiet): the model line names the adaptive softmax" \
    '$L train "$tmp/train.txt" -o "$tmp/b.h5" --epochs 1 --max-steps 5 $(echo $opts | sed "s/ -q//") 2> "$tmp/b.err" > /dev/null && grep -q "^model: lstm, 1 layer, embed 32, hidden 32, adaptive softmax 60,250," "$tmp/b.err"'
check "info shows the softmax and the cutoffs" \
    '$L info "$tmp/a.h5" > "$tmp/info" && grep -q "^softmax *adaptive, div 2, tail widths 16,8$" "$tmp/info" && grep -q "^cutoffs *60,250$" "$tmp/info"'
check "info of a full-softmax model says so" \
    '$L train "$tmp/train.txt" -o "$tmp/f.h5" --epochs 1 --max-steps 5 --embed 16 --hidden 16 --threads 1 -q && $L info "$tmp/f.h5" | grep -q "^softmax *full$"'
check "eval: a perplexity below the uniform one" \
    '$L eval "$tmp/a.h5" "$tmp/test.txt" > "$tmp/eval" && p=$(field perplexity "$tmp/eval") && awk -v p="$p" "BEGIN { exit !(p > 1 && p < 400) }"'
check "eval: batched and one stream agree" \
    '$L eval "$tmp/a.h5" "$tmp/test.txt" --batch 4 --bptt 7 > "$tmp/eval4" && [ "$(field tokens "$tmp/eval4")" = "$(field tokens "$tmp/eval")" ]'
check "generate is repeatable with a seed" \
    '$L generate "$tmp/a.h5" -p "how are you" -n 15 --seed 7 > "$tmp/g1" && $L generate "$tmp/a.h5" -p "how are you" -n 15 --seed 7 > "$tmp/g2" && cmp -s "$tmp/g1" "$tmp/g2" && [ -s "$tmp/g1" ]'
check "generate greedy and with a beam" \
    '$L generate "$tmp/a.h5" -p "hello" -n 10 -t 0 > "$tmp/g3" && [ -s "$tmp/g3" ] && $L generate "$tmp/a.h5" -p "hello" -n 10 --beam 3 > "$tmp/g4" && [ -s "$tmp/g4" ]'
check "chat answers each piped turn on one line" \
    'printf "hello\nhow are you?\nthank you.\n" | $L chat "$tmp/a.h5" --seed 2 -n 12 > "$tmp/chat" 2> /dev/null && [ "$(wc -l < "$tmp/chat")" = 3 ]'
check "--mix with an n-gram, tuned, either side" \
    '$L ngram train -q --order 3 "$tmp/train.txt" -o "$tmp/ng.h5" && $L eval "$tmp/a.h5" --mix "$tmp/ng.h5" --tune-lambda "$tmp/test.txt" "$tmp/test.txt" > "$tmp/mix" 2> /dev/null && grep -q "^perplexity" "$tmp/mix" && $L eval "$tmp/ng.h5" --mix "$tmp/a.h5" "$tmp/test.txt" > /dev/null'
check "train --vocab-from an ARPA file (no counts): a warning that the ids may not be by frequency" \
    '$L ngram train -q --order 2 "$tmp/train.txt" -o "$tmp/ng2.h5" --arpa "$tmp/ng2.arpa" && $L train "$tmp/train.txt" -o "$tmp/vf.h5" --vocab-from "$tmp/ng2.arpa" --epochs 1 --max-steps 2 $(echo $opts | sed "s/ -q//") > /dev/null 2> "$tmp/vf.err" && grep -q "^warning: adaptive softmax: the vocabulary has no counts" "$tmp/vf.err" && $L train "$tmp/train.txt" -o "$tmp/vf2.h5" --vocab-from "$tmp/ng2.h5" --epochs 1 --max-steps 2 $(echo $opts | sed "s/ -q//") > /dev/null 2> "$tmp/vf2.err" && ! grep -q warning "$tmp/vf2.err"'
check "train --resume continues the adaptive run" \
    '$L train --resume "$tmp/a.ckpt.h5" --epochs 3 --threads 1 -q > /dev/null && [ "$($L info "$tmp/a.h5" | grep -c "^ *[0-9]  ")" = 3 ] && $L info "$tmp/a.h5" | grep -q "^cutoffs *60,250$"'
check "train --init fine-tunes the adaptive model (same cutoffs given)" \
    '$L train --init "$tmp/a.h5" "$tmp/test.txt" -o "$tmp/ft.h5" --cutoffs 60,250 --epochs 1 --max-steps 5 --threads 1 -q && $L info "$tmp/ft.h5" | grep -q "^cutoffs *60,250$"'
check "train --init with other cutoffs: exit 2" \
    '$L train --init "$tmp/a.h5" "$tmp/test.txt" -o "$tmp/x.h5" --cutoffs 60,300 -q 2> "$tmp/e1"; [ $? = 2 ] && grep -q "^lstmlm train: --cutoffs 60,300 conflicts with the --init model (60,250)" "$tmp/e1"'
# The resumed model from here on.
$L eval "$tmp/a.h5" "$tmp/test.txt" > "$tmp/eval"
for t in int8 bf16; do
    check "quantize --type $t: eval within 2%, generate, chat, info" \
        '$L quantize -q "$tmp/a.h5" -o "$tmp/a-$t.h5" --type $t && $L eval "$tmp/a-$t.h5" "$tmp/test.txt" > "$tmp/q.eval" && p=$(field perplexity "$tmp/q.eval") && f=$(field perplexity "$tmp/eval") && awk -v p="$p" -v f="$f" "BEGIN { exit !(p > 0.98 * f && p < 1.02 * f) }" && $L generate "$tmp/a-$t.h5" -p "hello" -n 10 --seed 1 > "$tmp/qg" && [ -s "$tmp/qg" ] && printf "hello\n" | $L chat "$tmp/a-$t.h5" -n 8 > /dev/null 2>&1 && $L info "$tmp/a-$t.h5" | grep -q "^cutoffs *60,250$"'
done
check "quantize --check compares the quantized steps with the float ones" \
    '$L quantize -q "$tmp/a.h5" -o "$tmp/c.h5" --check "$tmp/test.txt" --check-tokens 300 > "$tmp/check" && grep -q "^top-1 agreement" "$tmp/check"'
check "--type f32: the quantized kind's adaptive step gives the float perplexity" \
    '$L quantize -q "$tmp/a.h5" -o "$tmp/f32.h5" --type f32 && $L eval "$tmp/f32.h5" "$tmp/test.txt" > "$tmp/f32.eval" && [ "$(field perplexity "$tmp/f32.eval")" = "$(field perplexity "$tmp/eval")" ]'
echo "adaptive.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
