#!/usr/bin/env bash
# Sampling settings for chat, measured on held-out dialogue: for each setting, the model
# answers N prompts (a turn of a test conversation, each in a fresh chat, /reset between),
# and the replies are measured against the human replies to the same prompts:
#   len      mean reply length in words (detokenized, whitespace split)
#   empty    share of empty replies
#   d1, d2   distinct-1 / distinct-2 (Li et al. 2016): unique unigrams / bigrams over all
#            replies, divided by their count (higher = less repetitive, less generic)
#   rep      share of replies with a word repeated three times in a row ("no no no")
#   ppl      perplexity of the replies under the model (each reply scored as a turn of its
#            own, out of context): low = the model's safe, generic text; the human row says
#            what real replies score
# A setting is good when its d1/d2 and ppl are close to the human row and rep is near 0;
# read the samples in OUT/*.txt too. Every setting names all of temperature, top-p and the
# repetition penalty, since chat's defaults are not the sampler's (lstmlm-chat(1)).
#
#   bench/sampling.sh MODEL.h5 TEST.txt [N]
# Environment: LSTMLM [src/lstmlm], OUT [sampling-bench], MIX (e.g. "--mix kn5.h5 --lambda
# 0.7"), SEED [1], THREADS [1], SETTINGS (a file of "name|chat options" lines to replace the built-in grid).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
lstmlm=${LSTMLM:-$here/src/lstmlm}
[ $# -ge 2 ] || { echo "usage: $0 MODEL.h5 TEST.txt [N]" >&2; exit 2; }
model=$1
test=$2
n=${3:-300}
out=${OUT:-sampling-bench}
mix=${MIX:-}
threads=${THREADS:-1}
mkdir -p "$out"
[ -f "$model" ] || { echo "$0: $model: no such model" >&2; exit 2; }
[ -f "$test" ] || { echo "$0: $test: no such file" >&2; exit 2; }

# (prompt, human reply) pairs: consecutive turns of one conversation, spread over the file.
awk -v n="$n" '
    NF == 0 { prev = ""; next }
    { if (prev != "") { p[++k] = prev; r[k] = $0 } prev = $0 }
    END {
        step = k > n ? k / n : 1
        for (i = 1; i <= k && m < n; i += step) { j = int(i); print p[j] > "/dev/stderr"; print r[j]; m++ }
    }' "$test" 2> "$out/prompts.txt" > "$out/human.txt"
np=$(wc -l < "$out/prompts.txt")
awk '{ print; print "/reset" }' "$out/prompts.txt" > "$out/chat-input.txt"

grid() {
    if [ -n "${SETTINGS:-}" ]; then cat "$SETTINGS"; return; fi
    cat <<'EOF'
greedy|-t 0 --top-p 1 --repetition-penalty 1
beam 4|--beam 4 --repetition-penalty 1
t 1.0|-t 1 --top-p 1 --repetition-penalty 1
t 0.7|-t 0.7 --top-p 1 --repetition-penalty 1
t 1.0 top-p 0.9|-t 1 --top-p 0.9 --repetition-penalty 1
t 0.8 top-p 0.9|-t 0.8 --top-p 0.9 --repetition-penalty 1
t 0.8 top-p 0.9 rp 1.2|-t 0.8 --top-p 0.9 --repetition-penalty 1.2
t 0.7 top-p 0.9 rp 1.2|-t 0.7 --top-p 0.9 --repetition-penalty 1.2
t 0.9 top-k 40 rp 1.2|-t 0.9 --top-p 1 --top-k 40 --repetition-penalty 1.2
t 1.0 top-p 0.9 rp 1.3|-t 1 --top-p 0.9 --repetition-penalty 1.3
EOF
}

# Measures of a file of replies, one per line.
measure() {
    awk '
        { n++; w = NF; len += w; if (w == 0) empty++
          three = 0
          for (i = 1; i <= w; i++) {
              t = tolower($i); u[t]; c1++
              if (i > 1) { b[tolower($(i-1)) " " t]; c2++ }
              if (i > 2 && t == tolower($(i-1)) && t == tolower($(i-2))) three = 1
          }
          rep += three }
        END { nu = 0; for (x in u) nu++; nb = 0; for (x in b) nb++
              printf "%5.1f %5.1f%% %5.3f %5.3f %5.1f%%", len / n, 100 * empty / n,
                     c1 ? nu / c1 : 0, c2 ? nb / c2 : 0, 100 * rep / n }' "$1"
}
# Perplexity of the replies, each a turn of its own (a blank line after each).
reply_ppl() {
    awk 'NF { print; print "" }' "$1" > "$1.eval"
    # shellcheck disable=SC2086
    "$lstmlm" eval "$model" $mix --threads "$threads" "$1.eval" | awk '$1 == "perplexity" { print $2; exit }'
}

echo "model $model${mix:+ $mix}, $np prompts from $test, seed ${SEED:-1}"
printf '%-26s %5s %6s %5s %5s %6s %7s\n' setting len empty d1 d2 rep ppl
printf '%-26s %s %7s\n' "human replies" "$(measure "$out/human.txt")" "$(reply_ppl "$out/human.txt")"
grid | while IFS='|' read -r name opts; do
    [ -n "$name" ] || continue
    f="$out/$(echo "$name" | tr ' .' '__').txt"
    # shellcheck disable=SC2086
    "$lstmlm" chat "$model" $mix $opts --threads "$threads" --seed "${SEED:-1}" -q < "$out/chat-input.txt" > "$f" 2> "$f.log"
    [ "$(wc -l < "$f")" = "$np" ] || { echo "$0: $name: $(wc -l < "$f") replies for $np prompts" >&2; exit 1; }
    printf '%-26s %s %7s\n' "$name" "$(measure "$f")" "$(reply_ppl "$f")"
done
