#!/bin/sh
# damage.sh - damaged files of every kind (LSTM, RWKV and transformer models, an n-gram model, a
# training checkpoint, a chat session, the session of a mixture whose weights follow the
# evidence) must end in success or a one-line error: never a signal,
# never a hang. Each copy has 8 random bytes changed (fixed seeds); a second set also gets its
# checksum recomputed, so the damage reaches HDF5 and the loaders' own checks.
set -u
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
: "${top_builddir:=.}"
: "${DAMAGE_CASES:=40}"
: "${DAMAGE_FIXED:=15}"
flip="$top_builddir/tests/flip"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "damage.sh: no $corpus"; exit 77; }
command -v timeout >/dev/null 2>&1 || { echo "damage.sh: no timeout(1)"; exit 77; }
tmp=$(mktemp -d /tmp/lstmlm-damage-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
head -n 300 "$corpus" > "$tmp/train.txt"
head -n 20 "$corpus" > "$tmp/test.txt"
small="--epochs 1 --max-steps 3 --batch 4 --bptt 8 --embed 8 --hidden 8 --layers 1 -q"
# shellcheck disable=SC2086
{
    "$LSTMLM" train $small "$tmp/train.txt" -o "$tmp/lstm.h5" &&
    "$LSTMLM" train $small --arch rwkv "$tmp/train.txt" -o "$tmp/rwkv.h5" &&
    "$LSTMLM" train $small --arch transformer --heads 2 --context 16 "$tmp/train.txt" \
        -o "$tmp/transformer.h5" &&
    "$LSTMLM" ngram train --order 3 -q "$tmp/train.txt" -o "$tmp/ngram.h5" &&
    printf 'hello there\n' | "$LSTMLM" chat "$tmp/lstm.h5" -n 3 --session "$tmp/state.h5" \
        >/dev/null &&
    printf 'hello there\n' | "$LSTMLM" chat "$tmp/lstm.h5" --mix "$tmp/ngram.h5" --mix-decay 0.9 \
        -n 3 --session "$tmp/mixstate.h5" >/dev/null
} || { echo "damage.sh: cannot make the small files"; exit 99; }
cp "$tmp/lstm.ckpt.h5" "$tmp/ckpt.h5"

# load KIND FILE: the command that reads a file of that kind.
load() {
    case "$1" in
    ckpt) timeout 20 "$LSTMLM" train --resume "$2" --epochs 2 -q "$tmp/train.txt" -o "$tmp/out.h5" ;;
    state) printf 'hi\n' | timeout 20 "$LSTMLM" chat "$tmp/lstm.h5" -n 2 --session "$2" ;;
    mixstate) printf 'hi\n' | timeout 20 "$LSTMLM" chat "$tmp/lstm.h5" --mix "$tmp/ngram.h5" \
        --mix-decay 0.9 -n 2 --session "$2" ;;
    *) timeout 20 "$LSTMLM" eval "$2" "$tmp/test.txt" ;;
    esac
}

fails=0
total=0
for kind in lstm rwkv transformer ngram ckpt state mixstate; do
    report=""
    for mode in plain fix; do
        ok=0 refused=0 n=0
        cases=$DAMAGE_CASES
        [ "$mode" = fix ] && cases=$DAMAGE_FIXED
        i=0
        while [ "$i" -lt "$cases" ]; do
            i=$((i + 1))
            seed=$((i * 7919 + ${#kind}))
            [ "$mode" = fix ] && seed=$((seed + 100000))
            "$flip" "$seed" 8 "$tmp/$kind.h5" "$tmp/bad.h5" $([ "$mode" = fix ] && echo fix) ||
                { echo "damage.sh: flip failed"; exit 99; }
            load "$kind" "$tmp/bad.h5" >/dev/null 2>"$tmp/err"
            rc=$?
            n=$((n + 1))
            lines=$(wc -l < "$tmp/err")
            if [ "$rc" = 0 ]; then
                ok=$((ok + 1))
            elif [ "$rc" = 1 ] && [ "$lines" -le 1 ]; then
                refused=$((refused + 1))
            else
                fails=$((fails + 1))
                cp "$tmp/bad.h5" "/tmp/lstmlm-damage-$kind-$mode-$seed.h5" 2>/dev/null
                echo "FAILED: $kind ($mode, seed $seed): exit $rc, $lines lines:"
                head -n 3 "$tmp/err"
            fi
        done
        total=$((total + n))
        report="$report; $mode: $n copies, $refused refused in one line, $ok loaded"
    done
    echo "$kind:${report#;}"
done
echo "damage.sh: $total cases, $fails failures"
[ "$fails" = 0 ]
