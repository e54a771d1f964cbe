#!/bin/sh
# docs.sh - the documentation is current and portable:
#  - README.md is at most 300 lines, names no builder's notes, and its install and test commands
#    are the ones .ci/run runs;
#  - README.md, man/, examples/, data/ and bench/ name no folder of the machine they were
#    written on (the checkout's parent folder) and no /tmp/ output;
#  - man/lstmlm.1 lists every command of `lstmlm --help`, each with its own page;
#  - every dataset and attribute that h5dump finds in a small file of each kind (LSTM, RWKV and
#    transformer models and checkpoints, an LSTM with the adaptive softmax, its checkpoint and
#    its int8 copy, an n-gram model, bf16 and int8 models, chat sessions of
#    a neural, an n-gram and a mixture model) is named in man/lstmlm-model.5. Layer indices and
#    n-gram orders in a name are written {i} and {n} there: lstm.weight_ih_l{i}, /ngram/{n}/word.
# Environment (set by `make check`): srcdir, LSTMLM. Exit 0 pass, 1 fail, 77 skip.
set -u
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lstmlm-docs-XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
readme="$srcdir/README.md"
model5="$srcdir/man/lstmlm-model.5"

# ---- README.md ----------------------------------------------------------------------------
n=$(wc -l < "$readme")
if [ "$n" -le 300 ]; then ok "README.md has $n lines (at most 300)"; else bad "README.md has $n lines (more than 300)"; fi
notes=$(grep -n -i -e "the lead" -e "other engineers" -e "for the format page" -e "needs it" \
    -e "for lstmlm-model(5)" -e "engineer" "$readme")
if [ -z "$notes" ]; then ok "README.md has no notes to the builders"; else bad "notes to the builders in README.md:"; echo "$notes"; fi

# The test command: the line after "# The README's test command:" in .ci/run, verbatim in README.
ci="$srcdir/.ci/run"
if [ -f "$ci" ]; then
    cmd=$(sed -n '/^# The README.s test command:/{n;p;}' "$ci")
    if [ -n "$cmd" ] && grep -q -F -x -- "$cmd" "$readme"; then
        ok "README.md shows .ci/run's test command"
    else
        bad "README.md does not show .ci/run's test command: $cmd"
    fi
    # Every package .ci/run installs is on README's install line.
    pkgs=$(awk '/apt-get .*install -y/ {on = 1} on {print} on && !/\\$/ {exit}' "$ci" | tr ' \\' '\n\n' |
        grep -E '^[a-z0-9][a-z0-9.+-]*$' | grep -v -x -e apt-get -e install -e update)
    line=$(grep -m1 'apt-get install' "$readme")
    missing=""
    for p in $pkgs; do
        printf '%s\n' "$line" | tr ' ' '\n' | grep -q -x -- "$p" || missing="$missing $p"
    done
    if [ -n "$line" ] && [ -z "$missing" ]; then
        ok "README.md's install line names every package of .ci/run"
    else
        bad "README.md's install line lacks:$missing"
    fi
fi

# ---- no machine paths ---------------------------------------------------------------------
parent=$(cd "$srcdir/.." && pwd)
found=""
for d in README.md man examples data bench; do
    [ -e "$srcdir/$d" ] || continue
    # Text files only; built programs (the libtool wrapper examples/chatbot) and objects are not
    # documentation.
    hits=$(grep -r -n -I --exclude-dir=.libs --exclude-dir=.deps --exclude-dir=.node \
        --exclude=chatbot --exclude='*.o' --exclude='*.log' -e "/tmp/" \
        ${parent:+-e "$parent/"} "$srcdir/$d" 2>/dev/null)
    [ "$parent" = / ] && hits=$(printf '%s\n' "$hits" | grep "/tmp/")
    [ -n "$hits" ] && found="$found
$hits"
done
if [ -z "$found" ]; then
    ok "no file of README.md, man/, examples/, data/, bench/ names $parent/ or /tmp/"
else
    bad "machine paths ($parent/ or /tmp/) in:$found"
fi

# ---- man pages list the commands ----------------------------------------------------------
if [ ! -x "$LSTMLM" ]; then
    echo "skipped: $LSTMLM is not built"
    exit 77
fi
cmds=$("$LSTMLM" --help | awk '/^Commands:/ {on = 1; next} on && /^  [a-z]/ {print $1} on && /^$/ {on = 0}')
[ -n "$cmds" ] || bad "lstmlm --help lists no commands"
for c in $cmds; do
    if grep -q -x "\.B $c" "$srcdir/man/lstmlm.1" && grep -q "lstmlm\\\\-$c (1)" "$srcdir/man/lstmlm.1" &&
        [ -f "$srcdir/man/lstmlm-$c.1" ]; then
        ok "man/lstmlm.1 lists $c and man/lstmlm-$c.1 exists"
    else
        bad "man/lstmlm.1 does not list $c (COMMANDS and SEE ALSO) or man/lstmlm-$c.1 is missing"
    fi
    grep -q "lstmlm $c" "$readme" || bad "README.md does not show lstmlm $c"
done

# ---- lstmlm-model(5) names every dataset and attribute ------------------------------------
if ! command -v h5dump >/dev/null 2>&1; then
    echo "skipped: h5dump (hdf5-tools) is not installed"
    [ $fails -eq 0 ] && exit 77
    exit 1
fi
L="$LSTMLM"
head -n 300 "$srcdir/data/dialogues.txt" > "$tmp/c.txt"
tiny="--epochs 1 --embed 8 --batch 2 --bptt 5 --max-steps 20 --seed 1 -q --threads 1"
make_files() {
    "$L" train $tiny --hidden 8 "$tmp/c.txt" --valid "$tmp/c.txt" -o "$tmp/lstm.h5" &&
        "$L" train $tiny --arch rwkv --ffn 16 "$tmp/c.txt" -o "$tmp/rwkv.h5" &&
        "$L" train $tiny --arch transformer --heads 2 --ffn 16 --context 8 --optimizer adam \
            "$tmp/c.txt" -o "$tmp/tf.h5" &&
        "$L" ngram train --order 3 "$tmp/c.txt" -o "$tmp/ng.h5" 2>/dev/null &&
        "$L" quantize -q "$tmp/lstm.h5" -o "$tmp/q8.h5" &&
        "$L" quantize -q --type bf16 "$tmp/rwkv.h5" -o "$tmp/qb.h5" &&
        "$L" train $tiny --hidden 8 --softmax adaptive --cutoffs 20,60 --div 2 "$tmp/c.txt" \
            -o "$tmp/adaptive.h5" &&
        "$L" quantize -q "$tmp/adaptive.h5" -o "$tmp/qa.h5" &&
        printf 'hello\nhow are you?\n' | "$L" chat -n 5 "$tmp/lstm.h5" --session "$tmp/s-lstm.h5" &&
        printf 'hello\n' | "$L" chat -n 5 "$tmp/tf.h5" --session "$tmp/s-tf.h5" &&
        printf 'hello\n' | "$L" chat -n 5 "$tmp/ng.h5" --session "$tmp/s-ng.h5" &&
        printf 'hello\nhi\n' | "$L" chat -n 5 "$tmp/lstm.h5" --mix "$tmp/ng.h5" --session "$tmp/s-mix.h5" &&
        printf 'hello\nhi\n' | "$L" chat -n 5 "$tmp/lstm.h5" --mix "$tmp/ng.h5" --mix-decay 0.9 \
            --session "$tmp/s-mixd.h5"
}
if ! make_files > "$tmp/make.out" 2>&1; then
    bad "making the sample files"
    sed 's/^/    /' "$tmp/make.out"
fi
# The page as plain text: roff escapes and font changes removed.
sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\&//g' -e 's/\\(dq/"/g' "$model5" > "$tmp/page"
# norm NAME LETTER: an index becomes {LETTER}: a part of the name between dots or slashes that
# is all digits (blocks.0.ln1.weight, /ngram/2/word) and the digits after a final "_l"
# (lstm.weight_ih_l0); other digits (ln1, time_mix_k) stay.
norm() {
    printf '%s\n' "$1" | sed -e "s/\([./]\)[0-9][0-9]*\([./]\)/\1{$2}\2/g" \
        -e "s/\([./]\)[0-9][0-9]*\([./]\)/\1{$2}\2/g" -e "s/\([./]\)[0-9][0-9]*\$/\1{$2}/" \
        -e "s/_l[0-9][0-9]*\$/_l{$2}/"
}
documented() { # documented PATH: the path, or its folder's /NAME and its last part, in the page
    for letter in i n; do
        p=$(norm "$1" "$letter")
        grep -q -F -- "$p" "$tmp/page" && return 0
        dir=${p%/*} base=${p##*/}
        grep -q -F -- "$dir/NAME" "$tmp/page" && grep -q -F -- "$base" "$tmp/page" && return 0
    done
    return 1
}
for f in "$tmp"/*.h5; do
    [ -f "$f" ] || continue
    k=$(basename "$f" .h5)
    missing=""
    for d in $(h5dump -n "$f" | awk '$1 == "dataset" {print $2}'); do
        documented "$d" || missing="$missing $d"
    done
    for a in $(h5dump -A "$f" | sed -n 's/^ *ATTRIBUTE "\([^"]*\)".*/\1/p' | sort -u); do
        grep -q -w -F -- "$a" "$tmp/page" || missing="$missing @$a"
    done
    if [ -z "$missing" ]; then
        ok "lstmlm-model.5 names every dataset and attribute of $k.h5"
    else
        bad "lstmlm-model.5 does not name these of $k.h5:$missing"
    fi
done
n=$(ls "$tmp"/*.h5 | wc -l)
[ "$n" -ge 13 ] || bad "only $n sample files were made"

if [ $fails -ne 0 ]; then
    echo "$fails failure(s)"
    exit 1
fi
echo "PASS: docs.sh"
exit 0
