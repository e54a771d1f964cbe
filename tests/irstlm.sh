#!/bin/sh
# irstlm.sh - ARPA interoperability checked against an independent toolkit, IRSTLM (Debian's
# irstlm package: build-lm.sh, compile-lm, add-start-end.sh). Skipped (77) without it.
#   (a) lstmlm trains a --sentences Kneser-Ney model and exports ARPA; IRSTLM's compile-lm
#       evaluates that file on held-out text and must report lstmlm's perplexity.
#   (b) IRSTLM's build-lm.sh estimates a model (compile-lm --text writes it as ARPA); lstmlm
#       imports it and must report compile-lm's perplexity on the held-out text.
#
# What is compared. compile-lm --eval reads lines "<s> w1 .. wn </s>" (add-start-end.sh adds
# the markers): <s> is context only and resets the history, every word and every </s> is
# predicted, so it predicts Nw = words + lines tokens. An lstmlm sentence model reads the same
# lines without markers and predicts every word and every <eot> (the first word of the text
# after an implied <eot>): the same tokens, with the same histories. A word outside the model's
# vocabulary is <unk> to both and scored with p(<unk> | h) from the same ARPA file; compile-lm
# then adds an OOV penalty of log10(dub - |V|) per OOV (dub = 10^7 by default) to its PP, and
# prints as PPwp the part of PP due to that penalty, PPwp = PP (1 - 10^(-Noov pen / Nw)), so
# PP - PPwp is its perplexity without the penalty, which is what lstmlm reports (OOV targets
# included). Both texts are lower-cased with punctuation split off and blank lines dropped, and
# lstmlm reads them with --tokenize whitespace, so both tools see the same words.
set -u
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
corpus="$srcdir/data/dialogues.txt"
[ -f "$corpus" ] || { echo "irstlm.sh: skipped: no $corpus"; exit 77; }
# IRSTLM's tools on PATH, or in the directory Debian's 'irstlm' front end names.
bin=
if command -v compile-lm > /dev/null 2>&1; then
    bin=$(dirname "$(command -v compile-lm)")
elif command -v irstlm > /dev/null 2>&1; then
    bin=$(irstlm path 2> /dev/null)
fi
for t in compile-lm build-lm.sh add-start-end.sh; do
    if [ -z "$bin" ] || [ ! -x "$bin/$t" ]; then
        echo "irstlm.sh: skipped: IRSTLM's $t not found (Debian package irstlm)"
        exit 77
    fi
done
IRSTLM=${IRSTLM:-$(dirname "$bin")}
export IRSTLM
case $LSTMLM in /*) ;; *) LSTMLM=$(pwd)/$LSTMLM ;; esac
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lstmlm-irstlm-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
field() { awk -v k="$1" 'index($0, k) == 1 { print $NF; exit }' "$2"; }

grep -v '^[[:space:]]*$' "$corpus" | tr 'A-Z' 'a-z' |
    sed 's/\([.,!?;:"]\)/ \1 /g; s/[[:space:]][[:space:]]*/ /g; s/^ //; s/ $//' > "$tmp/all.txt"
head -n 700 "$tmp/all.txt" > "$tmp/train.txt"
tail -n +701 "$tmp/all.txt" > "$tmp/test.txt"
"$bin/add-start-end.sh" < "$tmp/train.txt" > "$tmp/train.se"
"$bin/add-start-end.sh" < "$tmp/test.txt" > "$tmp/test.se"

# lstmlm's perplexity from the log10 probability (more digits than the report), the predicted
# tokens and the OOV targets of `ngram eval` output $1.
lstmlm_ppl() {
    awk '/^tokens / { n = $2 } /^oov / { o = $2 } /^log10 prob/ { l = $3 }
         END { printf "%.6f %d %d\n", 10 ^ (-l / n), n, o }' "$1"
}
# compile-lm --eval of ARPA file $1 on the test text: "PP-PPwp Nw Noov PP PPwp".
irstlm_ppl() {
    (cd "$tmp" && "$bin/compile-lm" "$1" --eval=test.se 2>&1) |
        sed -n 's/.*Nw=\([0-9]*\) PP=\([0-9.e+]*\) PPwp=\([0-9.e+]*\).*Noov=\([0-9]*\).*/\1 \2 \3 \4/p' |
        awk '{ printf "%.6f %d %d %s %s\n", $2 - $3, $1, $4, $2, $3 }'
}
# Compares "lstmlm figures" and "irstlm figures": same tokens and OOVs, perplexity within 0.5%.
agree() {
    what=$1
    set -- $2 $3
    if [ $# -ne 8 ]; then
        bad "$what: no figures (lstmlm '$1 ${2-} ${3-}', compile-lm '${4-} ${5-} ${6-}')"
        return
    fi
    msg="$what: lstmlm $1, compile-lm $4 (PP $7 - PPwp $8); $2 tokens, $3 OOV"
    if [ "$2" = "$5" ] && [ "$3" = "$6" ] &&
        awk -v a="$1" -v b="$4" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(d <= 0.005 * b) }'
    then
        ok "$msg"
    else
        bad "$msg (compile-lm: $5 tokens, $6 OOV)"
    fi
}

# (a) lstmlm's sentence model, exported, evaluated by compile-lm.
for order in 3 5; do
    if "$LSTMLM" ngram train -q --sentences --order $order --tokenize whitespace \
        "$tmp/train.txt" -o "$tmp/a$order.h5" --arpa "$tmp/a$order.arpa" &&
        "$LSTMLM" ngram eval "$tmp/a$order.h5" "$tmp/test.txt" > "$tmp/a$order.eval"; then
        agree "(a) lstmlm KN $order-gram, its ARPA file scored by compile-lm" \
            "$(lstmlm_ppl "$tmp/a$order.eval")" "$(irstlm_ppl "a$order.arpa")"
    else
        bad "(a) lstmlm could not train or evaluate the $order-gram"
    fi
done

# (b) IRSTLM's models (modified shift-beta, its Kneser-Ney; Witten-Bell), imported by lstmlm.
for spec in "3 improved-kneser-ney" "4 witten-bell"; do
    set -- $spec
    order=$1 smooth=$2 name=b$1
    if ! (cd "$tmp" && "$bin/build-lm.sh" -i train.se -o $name.gz -n $order -k 1 -s $smooth \
        -t "$tmp/stat-$name" > /dev/null 2>&1 &&
        "$bin/compile-lm" $name.gz --text=yes $name.arpa > /dev/null 2>&1) ||
        [ ! -s "$tmp/$name.arpa" ]; then
        bad "(b) IRSTLM could not build the $smooth $order-gram"
        continue
    fi
    if [ "$order" = 3 ]; then
        if "$LSTMLM" ngram import -q "$tmp/$name.gz" -o "$tmp/x.h5" 2> "$tmp/iarpa.err"; then
            bad "(b) build-lm.sh's intermediate iARPA file was imported"
        elif grep -q "iARPA" "$tmp/iarpa.err"; then
            ok "(b) build-lm.sh's intermediate iARPA file is refused with a hint"
        else
            bad "(b) build-lm.sh's iARPA file refused for another reason: $(cat "$tmp/iarpa.err")"
        fi
    fi
    if "$LSTMLM" ngram import -q "$tmp/$name.arpa" -o "$tmp/$name.h5" &&
        "$LSTMLM" ngram eval "$tmp/$name.h5" "$tmp/test.txt" > "$tmp/$name.eval"; then
        agree "(b) IRSTLM $smooth $order-gram imported by lstmlm" \
            "$(lstmlm_ppl "$tmp/$name.eval")" "$(irstlm_ppl "$name.arpa")"
    else
        bad "(b) lstmlm could not import or evaluate IRSTLM's $order-gram"
    fi
    if "$LSTMLM" ngram eval --arpa "$tmp/$name.arpa" "$tmp/test.txt" > "$tmp/$name.eval2" &&
        [ "$(field "log10 prob" "$tmp/$name.eval2")" = "$(field "log10 prob" "$tmp/$name.eval")" ]
    then
        ok "(b) ngram eval --arpa on IRSTLM's $order-gram gives the imported model's log10 prob"
    else
        bad "(b) ngram eval --arpa on IRSTLM's $order-gram differs from the imported model"
    fi
done

echo "irstlm.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
