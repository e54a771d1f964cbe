#!/bin/sh
# ngram.sh - `lstmlm ngram` on the shipped corpus: train -> eval -> info -> generate, the
# dispatch from `lstmlm eval/info/generate` for n-gram files, ARPA export with <s> and </s>,
# import and re-scoring to the same perplexity, sentence models, character n-grams, pruning,
# exit codes and one-line errors.
set -u
name=ngram
. "${srcdir:-.}/tests/testlib.sh"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "ngram.sh: no $corpus"; exit 77; }

head -n 800 "$corpus" > "$tmp/train.txt"
tail -n +801 "$corpus" > "$tmp/test.txt"

# Usage.
check "no sub-command: exit 2" '[ "$(status "$LSTMLM" ngram)" = 2 ]'
check "unknown sub-command: exit 2" '[ "$(status "$LSTMLM" ngram frob)" = 2 ]'
check "ngram --help lists the sub-commands" \
    '[ "$(status "$LSTMLM" ngram --help)" = 0 ] && grep -q "ngram train" "$tmp/out" && grep -q "ngram export" "$tmp/out" && grep -q "ngram import" "$tmp/out"'
for sub in train export import; do
    check "ngram $sub --help: exit 0" '[ "$(status "$LSTMLM" ngram $sub --help)" = 0 ] && grep -q "Usage: lstmlm ngram $sub" "$tmp/out"'
done
check "order 8: exit 2" '[ "$(status "$LSTMLM" ngram train --order 8 "$tmp/train.txt" -o "$tmp/x.h5")" = 2 ]'
check "--prune-singletons 1: exit 2" \
    '[ "$(status "$LSTMLM" ngram train --prune-singletons 1 "$tmp/train.txt" -o "$tmp/x.h5")" = 2 ]'
check "no output: exit 2" '[ "$(status "$LSTMLM" ngram train "$tmp/train.txt")" = 2 ]'
check "missing corpus: exit 1, one line naming it" \
    '[ "$(status "$LSTMLM" ngram train "$tmp/nope.txt" -o "$tmp/x.h5")" = 1 ] && grep -q nope.txt "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'

# Train, evaluate, inspect, sample.
check "train a trigram model with an ARPA copy" \
    '"$LSTMLM" ngram train --order 3 "$tmp/train.txt" -o "$tmp/m.h5" --arpa "$tmp/m.arpa" 2> "$tmp/train.err" && [ -f "$tmp/m.h5" ] && [ -f "$tmp/m.arpa" ] && [ ! -e "$tmp/m.h5.tmp" ]'
check "training reports counts and discounts per order" \
    '[ "$(grep -c "^ *[123]  " "$tmp/train.err")" = 3 ]'
check "eval prints the eval report for an n-gram model" \
    '"$LSTMLM" eval "$tmp/m.h5" "$tmp/test.txt" > "$tmp/e1" && grep -q "^perplexity" "$tmp/e1" && grep -q "^ppl without oov" "$tmp/e1" && grep -q "^bits per token" "$tmp/e1" && grep -q "^oov" "$tmp/e1" && grep -q "^tokens " "$tmp/e1"'
ppl=$(field perplexity "$tmp/e1")
vocab=$("$LSTMLM" info "$tmp/m.h5" | awk '/^vocabulary/ {print $2}')
check "perplexity ($ppl) is between 1 and the vocabulary size ($vocab)" \
    'awk -v p="$ppl" -v v="$vocab" "BEGIN { exit !(p > 1 && p < v) }"'
check "lstmlm eval dispatches n-gram files to the same report" \
    '"$LSTMLM" eval "$tmp/m.h5" "$tmp/test.txt" > "$tmp/e2" && grep -v "^tokens/s" "$tmp/e1" > "$tmp/e1b" && grep -v "^tokens/s" "$tmp/e2" > "$tmp/e2b" && cmp -s "$tmp/e1b" "$tmp/e2b"'
check "lstmlm info shows order, counts and discounts" \
    '"$LSTMLM" info "$tmp/m.h5" > "$tmp/info" && grep -q "^arch *ngram" "$tmp/info" && grep -q "^order *3" "$tmp/info" && [ "$(grep -c "^[123]-grams .*D1" "$tmp/info")" = 3 ]'
check "generate is repeatable with a seed and non-empty" \
    '"$LSTMLM" generate "$tmp/m.h5" -p "how are" -n 20 --seed 4 > "$tmp/g1" && "$LSTMLM" generate "$tmp/m.h5" -p "how are" -n 20 --seed 4 > "$tmp/g2" && cmp -s "$tmp/g1" "$tmp/g2" && [ -s "$tmp/g1" ]'
check "another seed, another sample" \
    '"$LSTMLM" generate "$tmp/m.h5" -p "how are" -n 20 --seed 5 > "$tmp/g3" && ! cmp -s "$tmp/g1" "$tmp/g3"'
check "greedy generation with --stop-at-eot stops after one line" \
    '"$LSTMLM" generate "$tmp/m.h5" -p "how are" -n 50 -t 0 --stop-at-eot > "$tmp/g4" && [ "$(wc -l < "$tmp/g4")" = 1 ]'
check "sampler options are accepted" \
    '"$LSTMLM" generate "$tmp/m.h5" -n 10 --top-k 5 --top-p 0.9 --repetition-penalty 1.2 --presence-penalty 0.5 --penalty-window 8 --allow-unk --threads 1 --seed 2 --bench > /dev/null 2> "$tmp/bench" && grep -q "tokens/s" "$tmp/bench"'
check "beam search gives one deterministic turn" \
    '"$LSTMLM" generate "$tmp/m.h5" -p "how are" -n 30 --beam 4 --length-alpha 0.5 --seed 1 > "$tmp/b1" && "$LSTMLM" generate "$tmp/m.h5" -p "how are" -n 30 --beam 4 --length-alpha 0.5 --seed 9 > "$tmp/b2" && cmp -s "$tmp/b1" "$tmp/b2" && [ "$(wc -l < "$tmp/b1")" = 1 ]'
check "--ban keeps a word out of greedy output" \
    '"$LSTMLM" generate "$tmp/m.h5" -n 60 -t 0 > "$tmp/n1" && w=$(tr " " "\n" < "$tmp/n1" | grep -x "[a-z][a-z]*" | head -n 1) && [ -n "$w" ] && "$LSTMLM" generate "$tmp/m.h5" -n 60 -t 0 --ban "$w" > "$tmp/n2" && ! tr " " "\n" < "$tmp/n2" | grep -qx "$w"'
check "--ban of an unknown word: exit 1" \
    '[ "$(status "$LSTMLM" generate "$tmp/m.h5" --ban zzzqqq)" = 1 ] && grep -q zzzqqq "$tmp/err"'

# ARPA: re-scoring gives the same perplexity; export from the HDF5 file gives the same file.
check "eval of the ARPA export: same perplexity and log10 prob as the HDF5 model" \
    '"$LSTMLM" eval "$tmp/m.arpa" "$tmp/test.txt" > "$tmp/e3" && [ "$(field perplexity "$tmp/e3")" = "$ppl" ] && [ "$(field "log10 prob" "$tmp/e3")" = "$(field "log10 prob" "$tmp/e1")" ]'
check "ngram export writes the same ARPA file" \
    '"$LSTMLM" ngram export "$tmp/m.h5" --arpa "$tmp/m2.arpa" && cmp -s "$tmp/m.arpa" "$tmp/m2.arpa"'
check "the ARPA file has </s> and <s> at -99, no <eot> after the header" \
    'grep -q "	</s>$" "$tmp/m.arpa" && grep -q "^-99	<s>	" "$tmp/m.arpa" && ! sed -n "/^.data.$/,\$p" "$tmp/m.arpa" | grep -q "<eot>"'
check "ngram import gives a model with the same perplexity, marked as imported" \
    '"$LSTMLM" ngram import -q "$tmp/m.arpa" -o "$tmp/imp.h5" && "$LSTMLM" eval "$tmp/imp.h5" "$tmp/test.txt" > "$tmp/e4" && [ "$(field "log10 prob" "$tmp/e4")" = "$(field "log10 prob" "$tmp/e1")" ] && "$LSTMLM" info "$tmp/imp.h5" > "$tmp/iinfo" && grep -q "^smoothing *imported from ARPA" "$tmp/iinfo" && grep -q "^history *stream" "$tmp/iinfo"'
check "an imported model generates" \
    '"$LSTMLM" generate "$tmp/imp.h5" -p "how are" -n 10 --seed 4 > "$tmp/g5" && [ -s "$tmp/g5" ]'
check "ngram import without -o: exit 2" '[ "$(status "$LSTMLM" ngram import "$tmp/m.arpa")" = 2 ]'
check "ngram import of a missing file: exit 1, one line naming it" \
    '[ "$(status "$LSTMLM" ngram import "$tmp/nope.arpa" -o "$tmp/x.h5")" = 1 ] && grep -q nope.arpa "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'

# Sentence models: the history restarts at each line; the ARPA file means the same.
check "train --sentences: info says so" \
    '"$LSTMLM" ngram train -q --sentences --order 4 "$tmp/train.txt" -o "$tmp/s.h5" --arpa "$tmp/s.arpa" && "$LSTMLM" info "$tmp/s.h5" | grep -q "^history *sentences"'
check "a sentence model predicts every token" \
    '"$LSTMLM" eval "$tmp/s.h5" "$tmp/test.txt" > "$tmp/s1" && grep -q "^tokens *\([0-9]*\) predicted (\1 in the file" "$tmp/s1"'
check "its ARPA file has no </s> inside an n-gram and scores the same" \
    '! grep -q "	.*</s> " "$tmp/s.arpa" && "$LSTMLM" eval "$tmp/s.arpa" "$tmp/test.txt" > "$tmp/s2" && [ "$(field "log10 prob" "$tmp/s1")" = "$(field "log10 prob" "$tmp/s2")" ]'
check "sentence and stream models differ" '[ "$(field perplexity "$tmp/s1")" != "$ppl" ]'
gzip -c "$tmp/s.arpa" > "$tmp/s.arpa.gz"
check "a gzip ARPA file is imported" \
    '"$LSTMLM" ngram import -q "$tmp/s.arpa.gz" -o "$tmp/sz.h5" && "$LSTMLM" eval "$tmp/sz.h5" "$tmp/test.txt" > "$tmp/s3" && [ "$(field "log10 prob" "$tmp/s1")" = "$(field "log10 prob" "$tmp/s3")" ]'

# A foreign file (no "# lstmlm" comment): a sentence model reading whitespace-split text.
sed -n "/^.data.$/,\$p" "$tmp/s.arpa" > "$tmp/foreign.arpa"
check "a foreign ARPA file: sentences, whitespace" \
    '"$LSTMLM" ngram import -q "$tmp/foreign.arpa" -o "$tmp/f.h5" && "$LSTMLM" info "$tmp/f.h5" > "$tmp/finfo" && grep -q "^history *sentences" "$tmp/finfo" && grep -q "^tokenize *whitespace" "$tmp/finfo"'
sed "s/^ngram 2=.*/ngram 2=3/" "$tmp/s.arpa" > "$tmp/badcount.arpa"
check "an ARPA file whose counts do not match: exit 1, file:line" \
    '[ "$(status "$LSTMLM" ngram import "$tmp/badcount.arpa" -o "$tmp/x.h5")" = 1 ] && grep -q "badcount.arpa:[0-9]*: " "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'

check "ARPA header counts match the sections" \
    'awk "/^ngram /{split(\$2,a,\"=\"); h[a[1]]=a[2]} /^\\\\[0-9]-grams:/{s=substr(\$0,2,1); next} /^\\\\end/{s=0} s && NF {c[s]++} END {for (k in h) if (h[k] != c[k]) exit 1; exit !(length(h) == 3)}" "$tmp/m.arpa"'

# Pruning shrinks the model; character n-grams.
check "--prune-singletons 2 keeps fewer n-grams" \
    '"$LSTMLM" ngram train -q --order 3 --prune-singletons 2 "$tmp/train.txt" -o "$tmp/p.h5" && [ "$("$LSTMLM" info "$tmp/p.h5" | awk "/^n-grams/ {print \$2}")" -lt "$(awk "/^n-grams/ {print \$2}" "$tmp/info")" ]'
check "character 7-grams (--chars) train, evaluate and generate" \
    '"$LSTMLM" ngram train -q --chars --order 7 "$tmp/train.txt" -o "$tmp/c.h5" && "$LSTMLM" eval "$tmp/c.h5" "$tmp/test.txt" > "$tmp/ce" && awk "/^perplexity/ {exit !(\$2 > 1 && \$2 < 20)}" "$tmp/ce" && "$LSTMLM" info "$tmp/c.h5" | grep -q "^tokenize *chars" && "$LSTMLM" generate "$tmp/c.h5" -n 40 --seed 1 > /dev/null'

# Bad files: one line naming the file, exit 1.
printf 'not a model\n' > "$tmp/text.h5"
check "a text file is refused" \
    '[ "$(status "$LSTMLM" eval "$tmp/text.h5" "$tmp/test.txt")" = 1 ] && grep -q text.h5 "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'
head -c 3000 "$tmp/m.h5" > "$tmp/trunc.h5"
check "a truncated model is refused" \
    '[ "$(status "$LSTMLM" info "$tmp/trunc.h5")" = 1 ] && [ "$(wc -l < "$tmp/err")" = 1 ]'
head -n 20 "$tmp/m.arpa" > "$tmp/trunc.arpa"
check "a truncated ARPA file is refused" \
    '[ "$(status "$LSTMLM" eval "$tmp/trunc.arpa" "$tmp/test.txt")" = 1 ] && grep -q trunc.arpa "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'

echo "ngram.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
