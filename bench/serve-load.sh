#!/bin/sh
# serve-load.sh - load on `lstmlm serve`: C concurrent clients (32) x T turns (20), each client
# its own session, all at once. Checks that no request fails, that every client's transcript
# equals `lstmlm chat --seed` over the same turns (so no two sessions ever crossed), and that
# resident memory stays bounded; reports p50/p99 latency per turn and tokens/s.
# Usage: bench/serve-load.sh [MODEL.h5] (from the top of a built tree; without a model one is
#        trained on data/dialogues.txt: lstm, hidden 200, embed 200, 1 epoch)
# Env: CLIENTS [32], TURNS [20], PARALLEL [2], TOKENS [20] (max_tokens per reply).
set -u
LSTMLM=${LSTMLM:-./src/lstmlm}
C=${CLIENTS:-32} T=${TURNS:-20} PAR=${PARALLEL:-2} TOK=${TOKENS:-20}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lstmlm-load-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; wait 2>/dev/null; [ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
m=${1:-}
if [ -z "$m" ]; then
    m="$tmp/m.h5"
    "$LSTMLM" train data/dialogues.txt -o "$m" --epochs 1 --hidden 200 --embed 200 --batch 16 \
        --bptt 20 --optimizer adam --lr 0.003 --seed 1 -q || exit 1
fi
"$LSTMLM" serve "$m" --host 127.0.0.1 --port 0 --parallel "$PAR" --threads 1 --queue 256 \
    --max-sessions 64 -q 2> "$tmp/log" &
pid=$!
port=""
for _ in $(seq 1 100); do
    port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/log")
    [ -n "$port" ] && break
    sleep 0.1
done
[ -n "$port" ] || { cat "$tmp/log"; exit 1; }
rss() { awk '/^VmRSS/ { print $2 }' /proc/$pid/status; }
rss0=$(rss)

# Each client's turns: lines of the corpus, a different run of them per client.
grep -v '^$' data/dialogues.txt | grep -v '[\\"]' > "$tmp/lines"
n_lines=$(wc -l < "$tmp/lines")
for i in $(seq 1 "$C"); do
    awk -v s=$(( (i * 37) % (n_lines - T) )) -v t="$T" 'NR > s && NR <= s + t' "$tmp/lines" > "$tmp/turns.$i"
done

client() { # i
    i=$1
    k=0
    while IFS= read -r line; do
        k=$((k + 1))
        seed=""
        [ $k = 1 ] && seed=",\"seed\":$i"
        printf '{"session":"load-%s","max_tokens":%s%s,"messages":[{"role":"user","content":"%s"}]}' \
            "$i" "$TOK" "$seed" "$line" > "$tmp/req.$i"
        curl -s -o "$tmp/resp.$i" -w '%{http_code} %{time_total}\n' --data-binary @"$tmp/req.$i" \
            "http://127.0.0.1:$port/v1/chat/completions" >> "$tmp/lat.$i"
        echo >> "$tmp/resp.$i" # the JSON has no final newline
        sed -n 's/.*"content":"\(\([^"\\]\|\\.\)*\)".*/\1/p' "$tmp/resp.$i" |
            sed 's/\\"/"/g; s/\\\//\//g; s/\\\\/\\/g' >> "$tmp/got.$i"
        sed -n 's/.*"completion_tokens":\([0-9]*\).*/\1/p' "$tmp/resp.$i" >> "$tmp/tok.$i"
    done < "$tmp/turns.$i"
}

(while kill -0 $pid 2>/dev/null; do rss >> "$tmp/rss"; sleep 0.2; done) &
t0=$(date +%s.%N)
clients=""
for i in $(seq 1 "$C"); do
    client "$i" &
    clients="$clients $!"
done
# shellcheck disable=SC2086
wait $clients
t1=$(date +%s.%N)
rss1=$(rss)
curl -s "http://127.0.0.1:$port/metrics" > "$tmp/metrics"

# The reference: each client's turns in lstmlm chat with its seed and the same length.
crossed=0
for i in $(seq 1 "$C"); do
    "$LSTMLM" chat --seed "$i" -t 1 --top-p 1 --repetition-penalty 1 -n "$TOK" "$m" < "$tmp/turns.$i" > "$tmp/want.$i"
    cmp -s "$tmp/want.$i" "$tmp/got.$i" || crossed=$((crossed + 1))
done
cat "$tmp"/lat.* > "$tmp/lat"
total=$(wc -l < "$tmp/lat")
errors=$(awk '$1 != 200' "$tmp/lat" | wc -l)
tokens=$(cat "$tmp"/tok.* | awk '{ s += $1 } END { print s }')
rssmax=$(sort -n "$tmp/rss" | tail -n 1)
awk '{ print $2 * 1000 }' "$tmp/lat" | sort -n > "$tmp/ms"
pct() { awk -v p="$1" '{ a[NR] = $1 } END { i = int(p * NR + 0.999); if (i < 1) i = 1; printf "%.1f", a[i] }' "$tmp/ms"; }
wall=$(echo "$t1 $t0" | awk '{ printf "%.2f", $1 - $2 }')
desc=$("$LSTMLM" info "$m" | awk '/^arch/ { a = $2 } /^hidden/ { h = $2 } END { print a ", hidden " h }')
echo "model: $desc; $C clients x $T turns, --parallel $PAR, max_tokens $TOK, $(getconf _NPROCESSORS_ONLN) cores"
echo "requests: $total, errors (non-200): $errors, transcripts differing from lstmlm chat: $crossed of $C"
echo "latency per turn: p50 $(pct 0.50) ms, p99 $(pct 0.99) ms, max $(tail -n 1 "$tmp/ms") ms"
echo "throughput: $tokens tokens in $wall s = $(echo "$tokens $wall" | awk '{ printf "%.0f", $1 / $2 }') tokens/s, $(echo "$total $wall" | awk '{ printf "%.1f", $1 / $2 }') turns/s"
echo "resident memory: ${rss0} KiB at start, ${rssmax} KiB peak, ${rss1} KiB at the end"
grep -E '^lstmlm_(sessions_open|session_state_bytes|tokens_per_second) ' "$tmp/metrics"
[ "$errors" = 0 ] && [ "$crossed" = 0 ] && [ "$total" = $((C * T)) ]
