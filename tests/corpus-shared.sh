#!/bin/sh
# corpus-shared.sh - `lstmlm corpus import|split|stats` on the real corpora of ../shared/data
# (the Cornell slice and DailyDialog), when the source tree sits next to that folder; without
# it the test is skipped (77) with the reason on standard output.
# Environment (set by `make check`): srcdir, LSTMLM. Exit 0 pass, 1 fail, 77 skip.
set -u

srcdir=${srcdir:-.}
LSTMLM=${LSTMLM:-./src/lstmlm}
if [ ! -x "$LSTMLM" ]; then
    echo "skipped: $LSTMLM is not built"
    exit 77
fi
# The shared data sit next to the work tree; make distcheck builds two or three folders deeper.
shared="$srcdir/../shared/data"
for up in ../.. ../../..; do
    [ -d "$shared" ] || shared="$srcdir/$up/shared/data"
done
if [ ! -d "$shared/cornell_movie_dialogs" ] && [ ! -d "$shared/dailydialog" ]; then
    echo "skipped: no ../shared/data/cornell_movie_dialogs or ../shared/data/dailydialog next to the source tree"
    exit 77
fi
name=corpus-shared
. "$srcdir/tests/testlib.sh"

if [ -d "$shared/cornell_movie_dialogs" ]; then
    expect 0 corpus import --format cornell "$shared/cornell_movie_dialogs" -o "$tmp/cornell.txt"
    # 6,653 conversations and 23,690 turns: see tests/test_import.c for how they were counted.
    has "$tmp/err" "imported 6653 conversations, 23690 turns from 2 files"
    has "$tmp/err" "0 warnings, 0 missing line ids"
    [ "$(grep -c . "$tmp/cornell.txt")" -eq 23690 ] || fail "cornell output line count"
    expect 0 corpus split "$tmp/cornell.txt" -o "$tmp/cs" --seed 1
    expect 0 corpus stats "$tmp/cs.valid.txt" --max-vocab 10000
    has "$tmp/out" "conversations  333"
else
    echo "skipped: $shared/cornell_movie_dialogs is absent"
fi
if [ -d "$shared/dailydialog" ]; then
    expect 0 corpus import --format eou "$shared/dailydialog/dialogues_validation.txt" -o -
    has "$tmp/err" "imported 1000 conversations, 8069 turns"
    expect 0 corpus import --format eou "$shared/dailydialog/dialogues_train.txt.gz" -o "$tmp/dd.txt"
    has "$tmp/err" "imported 11118 conversations"
else
    echo "skipped: $shared/dailydialog is absent"
fi

if [ $failures -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "PASS: corpus-shared.sh"
exit 0
