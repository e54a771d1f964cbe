#!/bin/sh
# corpus.sh - `lstmlm corpus import|split|stats` from the outside: exit codes, messages with
# file:line, atomic outputs, repeatable splits (the real corpora: tests/corpus-shared.sh).
# Environment (set by `make check`): srcdir, LSTMLM. Exit 0 pass, 1 fail, 77 skip.
set -u

srcdir=${srcdir:-.}
LSTMLM=${LSTMLM:-./src/lstmlm}
if [ ! -x "$LSTMLM" ]; then
    echo "SKIP: $LSTMLM is not built"
    exit 77
fi
data="$srcdir/tests/data/import"
name=corpus
. "$srcdir/tests/testlib.sh"

# ---- help and misuse (exit 0 and 2) ---------------------------------------------------------
expect 0 corpus --help
has "$tmp/out" "Usage: lstmlm corpus"
expect 0 help corpus
for sub in import split stats; do
    expect 0 corpus $sub --help
    has "$tmp/out" "Usage: lstmlm corpus $sub"
    # Every long option of the help is documented in the man page.
    for opt in $(grep -o -- '--[a-z][a-z-]*' "$tmp/out" | sort -u); do
        sed 's/\\-/-/g' "$srcdir/man/lstmlm-corpus.1" | grep -q -- "$opt" ||
            fail "man/lstmlm-corpus.1 does not document corpus $sub $opt"
    done
done
expect 2 corpus
expect 2 corpus frobnicate
has "$tmp/err" "lstmlm corpus: unknown sub-command"
expect 2 corpus import "$data/turns.txt" -o "$tmp/x.txt"
has "$tmp/err" "--format is required"
expect 2 corpus import --format yaml "$data/turns.txt" -o "$tmp/x.txt"
expect 2 corpus import --format text "$data/turns.txt"
expect 2 corpus import --format text -o "$tmp/x.txt"
expect 2 corpus import --format srt --gap -1 "$data/tags.srt" -o "$tmp/x.txt"
expect 2 corpus import --format srt --gap "" "$data/tags.srt" -o "$tmp/x.txt"
expect 2 corpus import --format srt --bogus "$data/tags.srt" -o "$tmp/x.txt"
has "$tmp/err" "unknown option '--bogus'"
expect 2 corpus import --format srt -z "$data/tags.srt" -o "$tmp/x.txt"
has "$tmp/err" "unknown option '-z'"
expect 2 corpus import --format srt --speakers=yes "$data/tags.srt" -o "$tmp/x.txt"
has "$tmp/err" "--speakers takes no value ('--speakers=yes')"
expect 2 corpus import --format srt "$data/tags.srt" -o
has "$tmp/err" "needs a value"
expect 2 corpus split "$data/turns.txt"
expect 2 corpus split "$data/turns.txt" -o "$tmp/s" --valid 1.5
expect 2 corpus split "$data/turns.txt" -o "$tmp/s" --valid 0.5 --test 0.5
expect 2 corpus split "$data/turns.txt" -o "$tmp/s" --seed -3
expect 2 corpus stats
expect 2 corpus stats "$data/turns.txt" --max-vocab 3
expect 2 corpus stats "$data/turns.txt" --tokenize bytes
[ -e "$tmp/x.txt" ] && fail "a misused import created its output"

# ---- runtime failures (exit 1), no output left behind -----------------------------------------
expect 1 corpus import --format srt "$data/empty.srt" -o "$tmp/x.txt"
has "$tmp/err" "lstmlm: $data/empty.srt: empty file"
expect 1 corpus import --format srt "$data/binary.srt" -o "$tmp/x.txt"
has "$tmp/err" "binary.srt:3: binary data (NUL byte)"
expect 1 corpus import --format text "$data/no-such-file.txt" -o "$tmp/x.txt"
has "$tmp/err" "no-such-file.txt"
expect 1 corpus import --format cornell "$data/cornell_bad/movie_lines.txt" -o "$tmp/x.txt"
has "$tmp/err" "movie_conversations"
expect 1 corpus import --format text "$data/srtdir" -o "$tmp/x.txt"
has "$tmp/err" "is a directory"
expect 1 corpus import --format text "$data/turns.txt" -o "$tmp/no-such-dir/x.txt"
[ -e "$tmp/x.txt" ] || [ -e "$tmp/x.txt.tmp" ] && fail "a failed import left an output file"
expect 1 corpus split "$data/empty.srt" -o "$tmp/s"
expect 1 corpus split "$data/turns.txt" -o "$tmp/s" --valid 0.4 --test 0.4
has "$tmp/err" "cannot be split"
ls "$tmp"/s.* >/dev/null 2>&1 && fail "a failed split left output files"
expect 1 corpus stats "$data/binary.srt"

# ---- damaged inputs that import with warnings (exit 0) -----------------------------------------
expect 0 corpus import --format cornell "$data/cornell_bad" -o "$tmp/c.txt"
has "$tmp/err" "movie_conversations.txt:2: unknown line id 'L999'"
has "$tmp/err" "movie_lines.txt:10: truncated record: 4 of 5 fields"
has "$tmp/err" "imported 4 conversations, 8 turns from 2 files"
has "$tmp/err" "8 warnings, 3 missing line ids"
has "$tmp/c.txt" "How was the caf"
expect 0 corpus import --format cornell --max-warnings 2 "$data/cornell_bad" -o "$tmp/c.txt"
[ "$(grep -c 'movie_' "$tmp/err")" -eq 2 ] || fail "--max-warnings 2 printed other than 2"
has "$tmp/err" "6 more warnings not shown"
expect 0 corpus import --format cornell -q "$data/cornell_bad" -o "$tmp/c.txt"
[ -s "$tmp/err" ] && fail "--quiet printed something"
expect 0 corpus import --format srt "$data/tags.srt" "$data/truncated.srt" -o -
has "$tmp/err" "tags.srt:28: cue 8: malformed timing line"
has "$tmp/err" "truncated.srt:5: cue 2 has no text"
has "$tmp/out" "Great."
grep -q -e '-->' -e '<' -e '{' "$tmp/out" && fail "srt import left timing or tags"
expect 0 corpus import --format srt "$data/srtdir" -o "$tmp/d.txt"
[ "$(head -1 "$tmp/d.txt")" = "First file, first cue." ] || fail "srt directory not read in name order"
expect 0 corpus import --format eou "$data/dialogs.eou" -o "$tmp/e.txt"
has "$tmp/err" "dialogs.eou:4: last turn not ended by __eou__"

# ---- split and stats ---------------------------------------------------------------------------
i=0
: >"$tmp/many.txt"
while [ $i -lt 60 ]; do
    printf 'Hello number %d.\nHi, how are you?\nFine.\n\n' $i >>"$tmp/many.txt"
    i=$((i + 1))
done
expect 0 corpus split "$tmp/many.txt" --valid 0.1 --test 0.05 --seed 4 -o "$tmp/s1"
has "$tmp/err" "valid        6 conversations"
expect 0 corpus split "$tmp/many.txt" --valid 0.1 --test 0.05 --seed 4 -o "$tmp/s2"
for part in train valid test; do
    cmp -s "$tmp/s1.$part.txt" "$tmp/s2.$part.txt" || fail "split with one seed differs ($part)"
done
[ "$(cat "$tmp"/s1.*.txt | grep -c .)" -eq 180 ] || fail "split lost or invented turns"
[ "$(cat "$tmp"/s1.*.txt | sort | uniq -c | sort -rn | head -1 | awk '{print $1}')" -eq 60 ] ||
    fail "split broke a conversation"
expect 0 corpus split "$tmp/many.txt" --test 0 -q -o "$tmp/s3"
[ -e "$tmp/s3.test.txt" ] && fail "--test 0 wrote a test file"
expect 0 corpus stats "$tmp/many.txt" --max-vocab 8 --lowercase
has "$tmp/out" "conversations  60"
has "$tmp/out" "turns          180"
has "$tmp/out" "tokens         960 (720 words + 180 <eot> + 60 <eoc>)"
has "$tmp/out" "vocabulary     8"
# Kept: the specials, "." (120), then ",", "?", "are", "fine" (60 each, byte order); out:
# "hello", "number", "hi", "how", "you" and the 60 numbers, 6 x 60 tokens.
has "$tmp/out" "OOV            360 tokens: 37.50% of tokens"
has "$tmp/out" "1-5 |"

if [ $failures -ne 0 ]; then
    echo "$failures failure(s)"
    exit 1
fi
echo "PASS: corpus.sh"
exit 0
