#!/bin/sh
# usage.sh - a new user's mistakes get one line naming the option or file and what is wrong,
# exit 2 for misuse and 1 for failure, before any expensive work (each case well under 2 s);
# a resume needs only the checkpoint; options a checkpoint fixes are refused; --precision.
set -u
name=usage
. "${srcdir:-.}/tests/testlib.sh"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "usage.sh: no $corpus"; exit 99; }
cp "$corpus" "$tmp/d.txt"
head -n 100 "$corpus" > "$tmp/v.txt"

# expect NAME CODE PATTERN COMMAND...: exit CODE, exactly one line on stderr matching PATTERN
# (a grep -E pattern), within 2 seconds.
expect() {
    name=$1 code=$2 pat=$3
    shift 3
    t0=$(date +%s%N)
    "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
    rc=$?
    ms=$(( ($(date +%s%N) - t0) / 1000000 ))
    if [ $rc = "$code" ] && [ "$(wc -l < "$tmp/err")" = 1 ] && grep -Eq -- "$pat" "$tmp/err" &&
        [ $ms -lt 2000 ]; then
        ok "$name (exit $rc, ${ms} ms)"
    else
        bad "$name: exit $rc (want $code), ${ms} ms, stderr: $(head -c 300 "$tmp/err")"
    fi
}

L=$LSTMLM
expect "train -o onto its own corpus" 2 "^lstmlm train: -o .*d.txt: is one of the inputs" \
    $L train "$tmp/d.txt" -o "$tmp/d.txt"
expect "train -o a folder" 2 "^lstmlm train: -o .*: is a folder" $L train "$tmp/d.txt" -o "$tmp"
expect "train -o into a missing folder" 1 "^lstmlm: /missing/dir: no such folder" \
    $L train "$tmp/d.txt" -o /missing/dir/m.h5
expect "train --hidden 20000: refused with the figure" 1 \
    "^lstmlm: training needs about [0-9.]+ GiB and this machine has" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --hidden 20000 -q
expect "train --epochs 0" 2 "^lstmlm train: --epochs: bad value '0' \(expected a whole number >= 1\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --epochs 0
expect "train --epochs -3" 2 "^lstmlm train: --epochs: bad value '-3' \(expected" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --epochs -3
expect "train --max-vocab 1" 2 "^lstmlm train: --max-vocab: bad value '1' \(expected" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --max-vocab 1
expect "train --dropout 1.5" 2 "^lstmlm train: --dropout: bad value '1.5' \(expected a number in \[0, 1\)\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --dropout 1.5
expect "train --arch gru lists the architectures" 2 \
    "^lstmlm train: --arch: bad value 'gru' \(expected lstm, rwkv, transformer\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --arch gru
expect "a typo of an option names the nearest one" 2 \
    "^lstmlm train: unknown option '--epohcs' \(did you mean --epochs\?\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --epohcs 3
expect "an option without its value" 2 "^lstmlm train: --bptt: needs a value" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --bptt
expect "train --weight-decay without adamw is refused, not ignored" 2 \
    "^lstmlm train: --weight-decay goes with --optimizer adamw" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --optimizer adam --weight-decay 0.1
expect "a value given to a flag" 2 "^lstmlm train: --lowercase takes no value \('--lowercase=1'\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --lowercase=1
for sub in "ngram train" "ngram export" "ngram import" "corpus split" serve; do
    # shellcheck disable=SC2086
    expect "$sub: an unknown option, one line of lstmlm's own" 2 \
        "^lstmlm $sub: unknown option '--no-such-option'\$" $L $sub --no-such-option "$tmp/d.txt"
done
expect "ngram train: an option without its value" 2 "^lstmlm ngram train: --order: needs a value" \
    $L ngram train "$tmp/d.txt" -o "$tmp/n.h5" --order
expect "serve: an option without its value" 2 "^lstmlm serve: --port: needs a value" \
    $L serve "$tmp/m.h5" --port
expect "generate -t -1" 2 "^lstmlm generate: --temperature: bad value '-1' \(expected a number >= 0\)" \
    $L generate -t -1 "$tmp/m.h5"
expect "chat --top-p 2" 2 "^lstmlm chat: --top-p: bad value '2' \(expected a number in \(0, 1\]\)" \
    $L chat --top-p 2 "$tmp/m.h5"
expect "eval --bptt 0" 2 "^lstmlm eval: --bptt: bad value '0' \(expected a whole number >= 1\)" \
    $L eval --bptt 0 "$tmp/m.h5" "$tmp/v.txt"
expect "memory --shuffle 5,2" 2 "^lstmlm memory: --shuffle: bad value '5,2' \(expected" \
    $L memory --shuffle 5,2 "$tmp/m.h5"
expect "a missing model file names it" 1 "nope.h5" $L eval "$tmp/nope.h5" "$tmp/v.txt"
# The adaptive softmax: cutoffs increasing, from 3, below the vocabulary once it is known.
expect "train --softmax hierarchical" 2 \
    "^lstmlm train: --softmax: bad value 'hierarchical' \(expected full or adaptive\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax hierarchical
for bad_cut in 2000,100 100,100 0 2,50 100,,200 100, abc 1,2,3,4,5,6,7,8,9; do
    expect "train --cutoffs $bad_cut" 2 "^lstmlm train: --cutoffs: bad value '$bad_cut' \(expected at most 8 increasing" \
        $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax adaptive --cutoffs "$bad_cut"
done
expect "train --cutoffs past the vocabulary" 2 \
    "^lstmlm train: --cutoffs 100,5000: the last cutoff must be below the vocabulary size [0-9]+" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax adaptive --cutoffs 100,5000
expect "train --cutoffs at the vocabulary left by --max-vocab" 2 \
    "^lstmlm train: --cutoffs 50,100: the last cutoff must be below the vocabulary size 100" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax adaptive --cutoffs 50,100 --max-vocab 100
expect "train --softmax adaptive without --cutoffs" 2 "^lstmlm train: --softmax adaptive needs --cutoffs" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax adaptive
expect "train --cutoffs without --softmax adaptive" 2 "^lstmlm train: --cutoffs goes with --softmax adaptive" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --cutoffs 100,200
expect "train --softmax adaptive --tie" 2 "^lstmlm train: --tie does not go with --softmax adaptive" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax adaptive --cutoffs 100 --tie
expect "train --div 0.5" 2 "^lstmlm train: --div: bad value '0.5' \(expected a number in \[1, 1e6\]\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax adaptive --cutoffs 100 --div 0.5
expect "train: a tail projected to 0 dimensions" 2 \
    "^lstmlm train: --cutoffs 10,20,30 with div 8: tail cluster 2 would project the head input \(16 wide\) to 0" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --softmax adaptive --cutoffs 10,20,30 --div 8 --hidden 16
expect "an unknown command" 2 "no command 'trian'" $L trian

# Resume: the checkpoint records its corpora and output; what it fixes is refused.
$L train "$tmp/d.txt" --valid "$tmp/v.txt" -o "$tmp/r.h5" --epochs 1 --hidden 16 --embed 16 \
    --threads 1 -q || bad "training the resume model"
if $L train --resume "$tmp/r.ckpt.h5" --epochs 2 --threads 1 -q 2> "$tmp/err" &&
    [ "$($L info "$tmp/r.h5" | grep -c '^ *[0-9]  ')" = 2 ]; then
    ok "train --resume CKPT alone continues the run (corpus, valid and -o from the checkpoint)"
else
    bad "train --resume CKPT alone: $(cat "$tmp/err")"
fi
expect "--hidden with --resume is refused" 2 "^lstmlm train: --hidden: the checkpoint .* sets it" \
    $L train --resume "$tmp/r.ckpt.h5" --hidden 32
expect "--softmax with --resume is refused" 2 "^lstmlm train: --softmax: the checkpoint .* sets it" \
    $L train --resume "$tmp/r.ckpt.h5" --softmax adaptive
expect "--init a full-softmax model with --softmax adaptive" 2 \
    "^lstmlm train: --softmax adaptive conflicts with the --init model \(full\)" \
    $L train --init "$tmp/r.h5" "$tmp/d.txt" -o "$tmp/ft.h5" --softmax adaptive --cutoffs 100
# --precision: the values, the checkpoint fixes it, a CPU without AVX-512 BF16 refuses bf16 at
# once; with it, bf16 is recorded, shown by info, kept by --resume and by --init unless given.
expect "train --precision fp8" 2 "^lstmlm train: --precision: bad value 'fp8' \(expected f32 or bf16\)" \
    $L train "$tmp/d.txt" -o "$tmp/m.h5" --precision fp8
expect "--precision with --resume is refused" 2 \
    "^lstmlm train: --precision: the checkpoint .* sets it" \
    $L train --resume "$tmp/r.ckpt.h5" --precision bf16
if grep -q '^flags.* avx512_bf16' /proc/cpuinfo 2>/dev/null; then
    if $L train "$tmp/d.txt" -o "$tmp/b.h5" --epochs 1 --max-steps 5 --hidden 16 --embed 16 \
        --threads 1 --precision bf16 -q 2> "$tmp/err" &&
        $L info "$tmp/b.h5" | grep -q '^precision *bf16' &&
        $L info "$tmp/r.h5" | grep -q '^precision *f32$' &&
        $L train --resume "$tmp/b.ckpt.h5" --epochs 2 --threads 1 -q 2>> "$tmp/err" &&
        [ "$($L info "$tmp/b.h5" | grep -c '^ *[0-9]  ')" = 2 ] &&
        $L info "$tmp/b.h5" | grep -q '^precision *bf16' &&
        $L train --init "$tmp/b.h5" "$tmp/v.txt" -o "$tmp/bi.h5" --epochs 1 --threads 1 -q \
            2>> "$tmp/err" && $L info "$tmp/bi.h5" | grep -q '^precision *bf16' &&
        $L train --init "$tmp/b.h5" "$tmp/v.txt" -o "$tmp/bf.h5" --epochs 1 --threads 1 -q \
            --precision f32 2>> "$tmp/err" && $L info "$tmp/bf.h5" | grep -q '^precision *f32$'
    then
        ok "train --precision bf16: recorded, shown by info, kept by --resume and --init"
    else
        bad "train --precision bf16: $(cat "$tmp/err")"
    fi
else
    expect "train --precision bf16 without AVX-512 BF16" 1 \
        "^lstmlm: --precision bf16 needs a CPU with AVX-512 BF16" \
        $L train "$tmp/d.txt" -o "$tmp/b.h5" --precision bf16
fi
# Piped training prints one line per epoch (no progress line repeating it).
$L train "$tmp/d.txt" -o "$tmp/p.h5" --epochs 2 --hidden 16 --embed 16 --threads 1 \
    > "$tmp/pout" 2> "$tmp/perr"
if [ "$(grep -c '^epoch  *[12] ' "$tmp/pout")" = 2 ] && ! grep -q '100.0%' "$tmp/perr"; then
    ok "piped training: one line per epoch"
else
    bad "piped training output: $(cat "$tmp/pout" "$tmp/perr")"
fi
echo "usage.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
