#!/bin/sh
# serve-latency.sh - per-turn latency of `lstmlm serve` over one long conversation (200 turns):
# an LSTM, an RWKV and a transformer, each continued through a session (only the new turn is
# sent), and a stateless client that resends the whole history every turn (LSTM). Replies have
# a fixed length (max_tokens 10 with ignore_eos) so the turns differ only in what is fed.
# Prints a Markdown table: median latency of turns around 1, 50, 100, 150, 200, and the state
# bytes the session holds at the end.
# Usage: bench/serve-latency.sh (from the top of a built tree). Env: TURNS [200].
set -u
LSTMLM=${LSTMLM:-./src/lstmlm}
T=${TURNS:-200}
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
tmp=$(mktemp -d "${TMPDIR:-/tmp}/lstmlm-latency-XXXXXX")
pid=""
trap '[ -n "$pid" ] && kill -TERM $pid 2>/dev/null; wait 2>/dev/null; rm -rf "$tmp"' EXIT
grep -v '^$' data/dialogues.txt | grep -v '[\\"]' | head -n "$T" > "$tmp/turns"
train() { # ARCH OUT [OPTIONS]
    a=$1 o=$2
    shift 2
    "$LSTMLM" train data/dialogues.txt -o "$o" --arch "$a" --epochs 1 --embed 128 --hidden 128 \
        --batch 16 --bptt 20 --optimizer adam --lr 0.003 --seed 1 -q "$@" || exit 1
}
train lstm "$tmp/lstm.h5"
train rwkv "$tmp/rwkv.h5"
train transformer "$tmp/tf.h5" --context 8192 --heads 4 --layers 2

serve() { # MODEL
    "$LSTMLM" serve "$1" --host 127.0.0.1 --port 0 --parallel 1 --threads 1 --max-tokens 100 \
        --max-body 16777216 -q 2> "$tmp/log" &
    pid=$!
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/log")
        [ -n "$port" ] && break
        sleep 0.1
    done
    [ -n "$port" ] || { cat "$tmp/log"; exit 1; }
}
unserve() { kill -TERM "$pid"; wait "$pid" 2>/dev/null; pid=""; }

# run NAME MODE: one conversation of T turns; latencies (ms) in $tmp/NAME.ms.
run() {
    name=$1 mode=$2
    : > "$tmp/$name.ms"
    hist=""
    while IFS= read -r line; do
        turn="{\"role\":\"user\",\"content\":\"$line\"}"
        if [ "$mode" = session ]; then
            printf '{"session":"long","seed":1,"max_tokens":10,"ignore_eos":true,"messages":[%s]}' "$turn" > "$tmp/req"
        else
            hist="$hist${hist:+,}$turn"
            printf '{"seed":1,"max_tokens":10,"ignore_eos":true,"messages":[%s]}' "$hist" > "$tmp/req"
        fi
        curl -s -o "$tmp/resp" -w '%{time_total}\n' --data-binary @"$tmp/req" \
            "http://127.0.0.1:$port/v1/chat/completions" | awk '{ print $1 * 1000 }' >> "$tmp/$name.ms"
        if [ "$mode" = stateless ]; then
            reply=$(sed -n 's/.*"content":"\(\([^"\\]\|\\.\)*\)".*/\1/p' "$tmp/resp")
            hist="$hist,{\"role\":\"assistant\",\"content\":\"$reply\"}"
        fi
    done < "$tmp/turns"
    if [ "$mode" = session ]; then
        curl -s "http://127.0.0.1:$port/v1/sessions/long" | sed -n 's/.*"position":\([0-9]*\),"state_bytes":\([0-9]*\).*/\1 \2/p' > "$tmp/$name.state"
    else
        echo "- -" > "$tmp/$name.state"
    fi
}

for spec in "lstm session" "rwkv session" "tf session" "lstm stateless"; do
    set -- $spec
    serve "$tmp/$1.h5"
    run "$1-$2" "$2"
    unserve
done

# Median of the latencies of turns k-4 .. k+4 (clipped to 1..T).
med() { # FILE K
    awk -v k="$2" -v t="$T" 'NR >= k - 4 && NR <= k + 4 && NR <= t { a[++n] = $1 } END {
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] < a[i]) { x = a[i]; a[i] = a[j]; a[j] = x }
        printf "%.1f", n ? a[int((n + 1) / 2)] : 0 }' "$1"
}
echo "| client, model (embed/hidden 128) | turn 1 | turn 50 | turn 100 | turn 150 | turn $T | tokens held after $T turns | state bytes |"
echo "|---|---|---|---|---|---|---|---|"
for name in lstm-session rwkv-session tf-session lstm-stateless; do
    read -r pos bytes < "$tmp/$name.state"
    case $name in
    lstm-session) label="session, LSTM" ;;
    rwkv-session) label="session, RWKV" ;;
    tf-session) label="session, transformer" ;;
    lstm-stateless) label="stateless (resends the history), LSTM" ;;
    esac
    printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$label" "$(med "$tmp/$name.ms" 1)" \
        "$(med "$tmp/$name.ms" 50)" "$(med "$tmp/$name.ms" 100)" "$(med "$tmp/$name.ms" 150)" \
        "$(med "$tmp/$name.ms" "$T")" "$pos" "$bytes"
done
echo "(milliseconds per turn, median of the 9 turns around each; $(getconf _NPROCESSORS_ONLN) cores, load $(cut -d' ' -f1 /proc/loadavg))"
