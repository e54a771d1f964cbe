#!/bin/sh
# limits.sh - failures told truthfully, in one line, exit 1, nothing half-written:
# a full disk (a small tmpfs; skipped unless it can be mounted), divergence with and without
# --valid, two runs on the same -o, and the limits checked before any work (--bptt against
# the corpus, --max-vocab against the special tokens, non-regular inputs and outputs).
set -u
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "limits.sh: no $corpus"; exit 77; }
tmp=$(mktemp -d /tmp/lstmlm-limits-XXXXXX)
mounted=""
cleanup() {
    [ -n "$mounted" ] && umount "$mounted" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
fails=0
passes=0
skips=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; sed 's/^/    /' "$tmp/err" 2>/dev/null | head -n 5; }
check() { if eval "$2"; then ok "$1"; [ -s "$tmp/err" ] && sed 's/^/    stderr: /' "$tmp/err" | head -n 2; : >"$tmp/err"; else bad "$1"; fi; }
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }
one_line() { [ "$(wc -l < "$tmp/err")" = 1 ]; }
head -n 400 "$corpus" > "$tmp/train.txt"
tail -n 100 "$corpus" > "$tmp/valid.txt"
small="--epochs 1 --batch 4 --bptt 8 --embed 8 --hidden 8 --layers 1 -q"

# ---- divergence ------------------------------------------------------------------------------
# shellcheck disable=SC2086
check "exploding loss without --valid: exit 1, epoch and window told, no model written" \
    '[ "$(status "$LSTMLM" train $small --epochs 3 --lr 1000 "$tmp/train.txt" -o "$tmp/d1.h5")" = 1 ] &&
     one_line && grep -q "diverged" "$tmp/err" && grep -q "epoch 1, window [0-9]* of [0-9]*" "$tmp/err" &&
     grep -q "no model was written" "$tmp/err" && [ ! -e "$tmp/d1.h5" ] && [ ! -e "$tmp/d1.ckpt.h5" ]'
# shellcheck disable=SC2086
check "exploding loss with --valid: exit 1, epoch and window told, no model written" \
    '[ "$(status "$LSTMLM" train $small --epochs 3 --lr 1000 --valid "$tmp/valid.txt" "$tmp/train.txt" -o "$tmp/d2.h5")" = 1 ] &&
     one_line && grep -q "diverged" "$tmp/err" && grep -q "window [0-9]* of [0-9]*" "$tmp/err" &&
     ! grep -q "are kept" "$tmp/err" && [ ! -e "$tmp/d2.h5" ]'
# ---- two runs on the same -o --------------------------------------------------------------------
# shellcheck disable=SC2086
"$LSTMLM" train --epochs 200 --batch 4 --bptt 8 --embed 16 --hidden 16 -q "$tmp/train.txt" -o "$tmp/same.h5" \
    >/dev/null 2>"$tmp/first.err" &
first=$!
i=0
while [ ! -e "$tmp/same.h5.lock" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
t0=$(date +%s)
# shellcheck disable=SC2086
check "a second run on the same -o fails at once, naming the other run" \
    '[ "$(status "$LSTMLM" train $small "$tmp/train.txt" -o "$tmp/same.h5")" = 1 ] && one_line &&
     grep -q "being written by another lstmlm run" "$tmp/err" && [ $(($(date +%s) - t0)) -le 2 ]'
kill -INT "$first" 2>/dev/null
wait "$first"
check "the first run was unharmed (interrupted: checkpoint written, exit 130)" \
    '[ -e "$tmp/same.ckpt.h5" ] && ! grep -q "cannot rename" "$tmp/first.err"'
check "no lock or temporary file is left behind" \
    '[ -z "$(ls "$tmp" | grep -e "\.tmp\." -e "\.lock$")" ]'

# ---- limits checked up front -------------------------------------------------------------------
check "--bptt longer than the streams: exit 1 at once, no allocation" \
    '[ "$(status "$LSTMLM" train --bptt 65536 --batch 4 -q "$tmp/train.txt" -o "$tmp/b.h5")" = 1 ] &&
     one_line && grep -q "bptt 65536" "$tmp/err"'
check "--max-vocab 1 (fewer than the special tokens): usage error" \
    '[ "$(status "$LSTMLM" train --max-vocab 1 "$tmp/train.txt" -o "$tmp/v.h5")" = 2 ] && grep -q -- "--max-vocab" "$tmp/err"'
check "--max-vocab 3 (only the special tokens): usage error" \
    '[ "$(status "$LSTMLM" train --max-vocab 3 "$tmp/train.txt" -o "$tmp/v.h5")" = 2 ]'
# shellcheck disable=SC2086
check "a piped training corpus is refused clearly (it would be read twice)" \
    '[ "$(cat "$tmp/train.txt" | "$LSTMLM" train $small /dev/stdin -o "$tmp/p.h5" >"$tmp/out" 2>"$tmp/err"; echo $?)" = 1 ] &&
     one_line && grep -q "not a regular file" "$tmp/err"'
# shellcheck disable=SC2086
check "a piped validation corpus is read once and used" \
    '[ "$(cat "$tmp/valid.txt" | "$LSTMLM" train $small --valid /dev/stdin "$tmp/train.txt" -o "$tmp/pv.h5" >"$tmp/out" 2>"$tmp/err"; echo $?)" = 0 ] &&
     [ -s "$tmp/pv.h5" ]'
# shellcheck disable=SC2086
check "-o naming a device is refused before any work" \
    '[ "$(status "$LSTMLM" train $small "$tmp/train.txt" -o /dev/null)" = 1 ] && one_line &&
     grep -q "not a regular file" "$tmp/err" && [ -c /dev/null ]'
# shellcheck disable=SC2086
check "-o in a missing folder is refused before any work" \
    '[ "$(status "$LSTMLM" train $small "$tmp/train.txt" -o "$tmp/no/such/m.h5")" = 1 ] && one_line'
if mkfifo "$tmp/fifo" 2>/dev/null; then
    check "info on a FIFO: refused at once, no hang" \
        '[ "$(status timeout 10 "$LSTMLM" info "$tmp/fifo")" = 1 ] && one_line && grep -q "not a regular file" "$tmp/err"'
    check "eval of a FIFO model: refused at once" \
        '[ "$(status timeout 10 "$LSTMLM" eval "$tmp/fifo" "$tmp/valid.txt")" = 1 ] && one_line'
fi
check "a directory as a model: one-line error" \
    '[ "$(status "$LSTMLM" eval "$tmp" "$tmp/valid.txt")" = 1 ] && one_line'
if [ "${LSTMLM_BIG_TESTS:-0}" = 1 ]; then
    # A corpus over 2 GiB (sparse, so only memory is spent): read in pieces, then refused as
    # binary (it is all NUL bytes) - not "gzread" errors.
    truncate -s 2200M "$tmp/big.txt"
    check "a 2.2 GiB corpus is read whole (refused for its NUL bytes, not by gzread)" \
        '[ "$(status "$LSTMLM" train $small "$tmp/big.txt" -o "$tmp/big.h5")" = 1 ] && grep -q "NUL byte" "$tmp/err"'
    rm -f "$tmp/big.txt"
else
    echo "skip: corpus over 2 GiB (set LSTMLM_BIG_TESTS=1; needs 2.2 GB of memory)"
    skips=$((skips + 1))
fi

# ---- a full disk ------------------------------------------------------------------------------
mkdir "$tmp/full"
if [ "$(id -u)" = 0 ] && mount -t tmpfs -o size=1m tmpfs "$tmp/full" 2>/dev/null; then
    mounted="$tmp/full"
    # shellcheck disable=SC2086
    "$LSTMLM" train $small "$tmp/train.txt" -o "$tmp/full/m.h5" --checkpoint "$tmp/m.ckpt.h5" &&
        "$LSTMLM" ngram train --order 2 -q "$tmp/train.txt" -o "$tmp/full/ng.h5" &&
        cp "$tmp/full/m.h5" "$tmp/m.before" && cp "$tmp/full/ng.h5" "$tmp/ng.before" ||
        bad "small files on the tmpfs"
    dd if=/dev/zero of="$tmp/full/filler" bs=4k 2>/dev/null
    # shellcheck disable=SC2086
    check "train -o on a full disk: one line naming the file and ENOSPC, exit 1" \
        '[ "$(status "$LSTMLM" train $small "$tmp/train.txt" -o "$tmp/full/m.h5" --checkpoint "$tmp/m2.ckpt.h5")" = 1 ] &&
         one_line && grep -q "m.h5: cannot write: No space left on device" "$tmp/err" && ! grep -q HDF5 "$tmp/err"'
    check "the old model is intact and still loads" \
        'cmp -s "$tmp/full/m.h5" "$tmp/m.before" && "$LSTMLM" eval "$tmp/full/m.h5" "$tmp/valid.txt" >/dev/null 2>&1'
    check "ngram train on a full disk: one line, exit 1, old model intact" \
        '[ "$(status "$LSTMLM" ngram train --order 3 -q "$tmp/train.txt" -o "$tmp/full/ng.h5")" = 1 ] &&
         one_line && grep -q "No space left on device" "$tmp/err" && cmp -s "$tmp/full/ng.h5" "$tmp/ng.before"'
    check "chat /save on a full disk: no HDF5 noise, the chat goes on" \
        '[ "$(printf "hello\n/save %s\nbye\n" "$tmp/full/s.h5" | "$LSTMLM" chat "$tmp/m.before" -n 3 >"$tmp/out" 2>"$tmp/err"; echo $?)" = 0 ] &&
         ! grep -q -e HDF5 -e "infinite loop" "$tmp/err" && grep -q "No space left on device" "$tmp/err" && [ "$(wc -l < "$tmp/out")" = 2 ]'
    check "no temporary file is left on the full disk" \
        '[ -z "$(ls "$tmp/full" | grep -e "\.tmp\." -e "\.lock$")" ]'
else
    echo "skip: full disk (cannot mount a tmpfs here)"
    skips=$((skips + 1))
fi

echo "limits.sh: $passes passed, $fails failed, $skips skipped"
[ "$fails" = 0 ]
