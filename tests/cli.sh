#!/bin/sh
# cli.sh - the lstmlm command line: exit codes, --help and man pages, train -> eval -> generate
# -> info on the shipped corpus, Ctrl-C writes a checkpoint that resumes, bad files are refused
# with one-line errors.
set -u
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
corpus="$srcdir/data/dialogues.txt"
tmp=$(mktemp -d /tmp/lstmlm-cli-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }

# Exit codes and usage.
check "no arguments: exit 2" '[ "$(status "$LSTMLM")" = 2 ]'
check "unknown command: exit 2" '[ "$(status "$LSTMLM" frobnicate)" = 2 ]'
check "--help: exit 0" '[ "$(status "$LSTMLM" --help)" = 0 ] && grep -q train "$tmp/out"'
check "unknown option: exit 2" '[ "$(status "$LSTMLM" train --no-such-option x -o y)" = 2 ]'
check "bad number: exit 2" '[ "$(status "$LSTMLM" train --hidden abc "$corpus" -o "$tmp/m.h5")" = 2 ]'
check "missing corpus: exit 1 naming it" \
    '[ "$(status "$LSTMLM" train "$tmp/nope.txt" -o "$tmp/m.h5")" = 1 ] && grep -q "nope.txt" "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'

# Every command has --help, and every long option it lists is in its man page.
for cmd in train eval generate info corpus ngram chat memory quantize serve; do
    man="$srcdir/man/lstmlm-$cmd.1"
    if [ "$(status "$LSTMLM" "$cmd" --help)" != 0 ]; then bad "$cmd --help exits 0"; continue; fi
    "$LSTMLM" help "$cmd" > "$tmp/help2" 2>/dev/null
    check "lstmlm help $cmd = $cmd --help" 'cmp -s "$tmp/out" "$tmp/help2"'
    if [ ! -f "$man" ]; then bad "man page $man exists"; continue; fi
    missing=""
    for opt in $(grep -o -- '--[a-z][a-z0-9-]*' "$tmp/out" | sort -u); do
        grep -q -- "$(printf '%s' "$opt" | sed 's/-/\\\\-/g')" "$man" || grep -q -- "$opt" "$man" ||
            missing="$missing $opt"
    done
    check "every option of '$cmd --help' is in lstmlm-$cmd.1${missing:+ (missing:$missing)}" '[ -z "$missing" ]'
done

# Train -> eval -> generate -> info on the shipped corpus.
if [ ! -f "$corpus" ]; then
    bad "shipped corpus $corpus exists"
else
    head -n 700 "$corpus" > "$tmp/train.txt"
    tail -n +701 "$corpus" > "$tmp/valid.txt"
    check "train a small model" \
        '"$LSTMLM" train "$tmp/train.txt" --valid "$tmp/valid.txt" -o "$tmp/m.h5" --epochs 2 --hidden 32 --embed 32 --batch 8 --bptt 10 --optimizer adam --lr 0.01 --seed 3 -q > "$tmp/train.out" 2>&1'
    check "the model and the checkpoint exist, no temporary file left" \
        '[ -f "$tmp/m.h5" ] && [ -f "$tmp/m.ckpt.h5" ] && [ ! -e "$tmp/m.h5.tmp" ]'
    check "eval prints perplexity, OOV counts and bits per token" \
        '"$LSTMLM" eval "$tmp/m.h5" "$tmp/valid.txt" > "$tmp/eval" && grep -q "^perplexity" "$tmp/eval" && grep -q "^ppl without oov" "$tmp/eval" && grep -q "^bits per token" "$tmp/eval" && grep -q "^oov" "$tmp/eval"'
    ppl=$(awk '/^perplexity/ {print $2}' "$tmp/eval")
    # The products' kernel: OpenBLAS, or lstmlm's own where OpenBLAS runs generic kernels (or
    # LSTMLM_GEMM=own); the same perplexity either way, and a note only when the generic ones
    # run with nothing to stand in for them.
    prod=$("$LSTMLM" --help | sed -n 's/.*products: \([a-z0-9-]*\).*/\1/p')
    check "--help names the products' kernel ($prod)" \
        '[ "$prod" = openblas ] || [ "$prod" = lstmlm-avx512 ]'
    "$LSTMLM" eval "$tmp/m.h5" "$tmp/valid.txt" > "$tmp/eval" 2> "$tmp/eval.err"
    check "eval says nothing of the kernels by default" '! grep -q "note: OpenBLAS" "$tmp/eval.err"'
    for g in openblas own; do
        LSTMLM_GEMM=$g "$LSTMLM" eval "$tmp/m.h5" "$tmp/valid.txt" > "$tmp/eval-$g" 2> "$tmp/eval-$g.err"
        p2=$(awk '/^perplexity/ {print $2}' "$tmp/eval-$g")
        check "LSTMLM_GEMM=$g: perplexity $p2 within 1e-4 of $ppl" \
            'awk -v a="$p2" -v b="$ppl" "BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 1e-4 * b) }"'
    done
    if [ "$prod" = lstmlm-avx512 ]; then
        check "LSTMLM_GEMM=openblas on generic kernels: a one-line note naming OPENBLAS_CORETYPE" \
            '[ "$(grep -c "note: OpenBLAS runs its generic" "$tmp/eval-openblas.err")" = 1 ] && grep -q OPENBLAS_CORETYPE=Haswell "$tmp/eval-openblas.err"'
        check "LSTMLM_GEMM=openblas: --help says products: openblas" \
            'LSTMLM_GEMM=openblas "$LSTMLM" --help | grep -q "products: openblas"'
    fi
    vocab=$("$LSTMLM" info "$tmp/m.h5" | awk '/^vocabulary/ {print $2}')
    check "eval perplexity ($ppl) is below the vocabulary size ($vocab)" \
        'awk -v p="$ppl" -v v="$vocab" "BEGIN { exit !(p > 1 && p < v) }"'
    check "generate is repeatable with a seed" \
        '"$LSTMLM" generate "$tmp/m.h5" -p "hello" -n 20 --seed 5 > "$tmp/g1" && "$LSTMLM" generate "$tmp/m.h5" -p "hello" -n 20 --seed 5 > "$tmp/g2" && cmp -s "$tmp/g1" "$tmp/g2" && [ -s "$tmp/g1" ]'
    check "info shows the configuration and the history of 2 epochs" \
        '"$LSTMLM" info "$tmp/m.h5" > "$tmp/info" && grep -q "^arch *lstm" "$tmp/info" && [ "$(grep -c "^ *[12]  " "$tmp/info")" = 2 ]'
    check "same seed, same model" \
        '"$LSTMLM" train "$tmp/train.txt" -o "$tmp/m2.h5" --epochs 1 --hidden 16 --embed 16 --batch 4 --bptt 8 --seed 9 -q && "$LSTMLM" train "$tmp/train.txt" -o "$tmp/m3.h5" --epochs 1 --hidden 16 --embed 16 --batch 4 --bptt 8 --seed 9 -q && "$LSTMLM" eval "$tmp/m2.h5" "$tmp/valid.txt" | grep "^perplexity" > "$tmp/p2" && "$LSTMLM" eval "$tmp/m3.h5" "$tmp/valid.txt" | grep "^perplexity" > "$tmp/p3" && cmp -s "$tmp/p2" "$tmp/p3"'

    # AWD-LSTM regularisers, tied through a projection, NT-ASGD; fine-tuning with --init.
    check "AWD-LSTM options train a tied 24/16 model with averaging" \
        '"$LSTMLM" train "$tmp/train.txt" --valid "$tmp/valid.txt" -o "$tmp/awd.h5" --epochs 3 --hidden 24 --embed 16 --tie --batch 4 --bptt 8 --dropout-embed 0.1 --dropout-input 0.2 --dropout-hidden 0.2 --dropout-output 0.3 --weight-drop 0.3 --ar 2 --tar 1 --asgd --asgd-patience 0 --decay-start 0 -q && "$LSTMLM" info "$tmp/awd.h5" | grep -q "^weight_drop *0.3" && "$LSTMLM" eval "$tmp/awd.h5" "$tmp/valid.txt" | grep -q "^perplexity"'
    check "an option the architecture does not take: exit 2 naming it" \
        '[ "$(status "$LSTMLM" train --arch rwkv --tar 1 "$tmp/train.txt" -o "$tmp/x.h5")" = 2 ] && grep -q "(tar).*rwkv" "$tmp/err"'
    check "--init fine-tunes with the model's vocabulary" \
        '"$LSTMLM" train --init "$tmp/awd.h5" "$tmp/valid.txt" -o "$tmp/ft.h5" --epochs 1 --batch 4 --bptt 8 --dropout-output 0.1 -q && "$LSTMLM" info "$tmp/ft.h5" | grep -q "^dropout_output *0.1" && [ "$("$LSTMLM" info "$tmp/ft.h5" | grep "^vocabulary")" = "$("$LSTMLM" info "$tmp/awd.h5" | grep "^vocabulary")" ]'
    check "--init with a conflicting shape: one line, exit 2" \
        '[ "$(status "$LSTMLM" train --init "$tmp/awd.h5" --hidden 32 "$tmp/train.txt" -o "$tmp/x.h5")" = 2 ] && grep -q "hidden 32 conflicts with the --init model (hidden 24)" "$tmp/err"'
    check "--vocab-from: a new model on another text keeps the model's vocabulary and tokenizer" \
        '"$LSTMLM" train --vocab-from "$tmp/awd.h5" "$tmp/valid.txt" -o "$tmp/vf.h5" --epochs 1 --batch 4 --bptt 8 --hidden 12 --embed 12 -q && for f in vf awd; do "$LSTMLM" info "$tmp/$f.h5" | grep -e "^vocabulary" -e "^tokenize" -e "^top tokens" > "$tmp/$f.voc"; done && [ -s "$tmp/vf.voc" ] && cmp -s "$tmp/vf.voc" "$tmp/awd.voc" && [ "$("$LSTMLM" info "$tmp/vf.h5" | grep "^hidden")" != "$("$LSTMLM" info "$tmp/awd.h5" | grep "^hidden")" ]'
    check "--vocab-from with --max-vocab: one line, exit 2" \
        '[ "$(status "$LSTMLM" train --vocab-from "$tmp/awd.h5" --max-vocab 50 "$tmp/train.txt" -o "$tmp/x.h5")" = 2 ] && grep -q "max-vocab conflicts with --vocab-from" "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'

    check "ngram train --vocab-from: a KN model on another text mixes with the network" \
        '"$LSTMLM" ngram train -q --order 3 --vocab-from "$tmp/awd.h5" "$tmp/valid.txt" -o "$tmp/vf3.h5" && "$LSTMLM" info "$tmp/vf3.h5" | grep "^vocabulary" > "$tmp/vf3.voc" && "$LSTMLM" info "$tmp/awd.h5" | grep "^vocabulary" > "$tmp/awd3.voc" && [ -s "$tmp/vf3.voc" ] && cmp -s "$tmp/vf3.voc" "$tmp/awd3.voc" && "$LSTMLM" eval "$tmp/awd.h5" --mix "$tmp/vf3.h5" "$tmp/train.txt" | grep -q "^perplexity"'
    check "ngram train --vocab-from with --min-count: one line, exit 2" \
        '[ "$(status "$LSTMLM" ngram train --vocab-from "$tmp/awd.h5" --min-count 2 "$tmp/train.txt" -o "$tmp/x.h5")" = 2 ] && grep -q "min-count conflicts with --vocab-from" "$tmp/err" && [ "$(wc -l < "$tmp/err")" = 1 ]'

    # Ctrl-C during training writes a checkpoint and exits 130; --resume finishes the run.
    for i in 1 2 3 4 5 6 7 8; do cat "$corpus"; done > "$tmp/big.txt"
    "$LSTMLM" train "$tmp/big.txt" -o "$tmp/int.h5" --epochs 50 --hidden 64 --embed 64 --batch 4 --bptt 20 -q > "$tmp/int.out" 2>&1 &
    pid=$!
    sleep 2
    kill -INT $pid
    wait $pid
    rc=$?
    check "SIGINT exits 130 with a checkpoint" '[ "$rc" = 130 ] && [ -f "$tmp/int.ckpt.h5" ] && grep -q "resume" "$tmp/int.out"'
    check "--resume without --epochs keeps the run's 50 epochs" \
        'timeout -s INT 3 "$LSTMLM" train --resume "$tmp/int.ckpt.h5" "$tmp/big.txt" -o "$tmp/int.h5" > /dev/null 2> "$tmp/res0.err"; grep -q "^resuming .* at epoch [0-9]* of 50$" "$tmp/res0.err"'
    check "--resume continues from the checkpoint" \
        '"$LSTMLM" train --resume "$tmp/int.ckpt.h5" "$tmp/big.txt" -o "$tmp/int.h5" --epochs 1 -q 2> "$tmp/res.err"; r=$?; [ $r = 0 ] || { grep -q "already finished" "$tmp/res.err"; }'
    check "--resume with another corpus is refused" \
        '[ "$(status "$LSTMLM" train --resume "$tmp/int.ckpt.h5" "$tmp/train.txt" -o "$tmp/int.h5" -q)" = 1 ] && grep -q "different training" "$tmp/err"'

    # Bad model files: one line naming the file, exit 1, never a crash.
    printf 'not a model\n' > "$tmp/text.h5"
    head -c 3000 "$tmp/m.h5" > "$tmp/cut.h5"
    for f in text.h5 cut.h5 absent.h5; do
        for cmd in eval info generate; do
            if [ $cmd = eval ]; then args="$tmp/$f $tmp/valid.txt"; else args="$tmp/$f"; fi
            # shellcheck disable=SC2086
            st=$(status "$LSTMLM" $cmd $args)
            check "$cmd on $f: exit 1, one line naming the file" \
                '[ "$st" = 1 ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -q "$f" "$tmp/err"'
        done
    done
    # A binary or empty corpus.
    printf 'ok line\n\000\001binary\n' > "$tmp/bin.txt"
    : > "$tmp/empty.txt"
    check "binary corpus refused with file:line" \
        '[ "$(status "$LSTMLM" train "$tmp/bin.txt" -o "$tmp/x.h5")" = 1 ] && grep -q "bin.txt:2: binary" "$tmp/err"'
    check "empty corpus refused" \
        '[ "$(status "$LSTMLM" train "$tmp/empty.txt" -o "$tmp/x.h5")" = 1 ] && grep -q "empty.txt" "$tmp/err"'
    check "a failed run leaves the previous model intact" \
        '"$LSTMLM" info "$tmp/m.h5" > /dev/null'
fi

echo "cli.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
