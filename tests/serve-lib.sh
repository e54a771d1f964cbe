# serve-lib.sh - shared by the serve tests: a tiny model, a server on a free port of 127.0.0.1
# (--port 0; the port is read from the startup line), curl helpers, and a trap that always
# kills the server. Sourced after `set -u`; sets tmp, m, port, pid.
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
: "${top_builddir:=.}"
tmp=$(mktemp -d /tmp/lstmlm-serve-XXXXXX)
pid=""
stop_server() {
    if [ -n "$pid" ]; then
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        server_rc=$?
        pid=""
        if [ "$server_rc" != 0 ]; then
            echo "the server exited with $server_rc; the end of its log:"
            tail -n 30 "$tmp/server.log"
        fi
    fi
}
trap 'stop_server; rm -rf "$tmp"' EXIT
trap 'exit 1' INT TERM HUP
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }

# Skip (77) when serve has no HTTP support or curl is missing.
if "$LSTMLM" serve /nonexistent.h5 2>&1 | grep -q "without HTTP support"; then
    echo "skipped: lstmlm serve was built without HTTP support"
    exit 77
fi
if ! command -v curl > /dev/null 2>&1; then
    echo "skipped: curl is not installed"
    exit 77
fi

# A tiny model trained in seconds (tests/chat.sh makes the same one).
make_model() { # ARCH OUT
    "$LSTMLM" train "$srcdir/data/dialogues.txt" -o "$2" --arch "$1" --epochs 1 --hidden 32 \
        --embed 32 --batch 8 --bptt 10 --optimizer adam --lr 0.01 --seed 3 --threads 1 -q \
        > "$tmp/train.log" 2>&1 || { cat "$tmp/train.log"; echo "FAILED: training the test model"; exit 1; }
}
m="$tmp/m.h5"
make_model lstm "$m"

# start_server [OPTIONS...]: serves $m on 127.0.0.1, any free port; log in $tmp/server.log.
start_server() {
    "$LSTMLM" serve "$m" --host 127.0.0.1 --port 0 "$@" 2> "$tmp/server.log" &
    pid=$!
    port=""
    for _ in $(seq 1 100); do
        port=$(sed -n 's|.* on http://127\.0\.0\.1:\([0-9][0-9]*\)/.*|\1|p' "$tmp/server.log")
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if [ -z "$port" ]; then
        cat "$tmp/server.log"
        echo "FAILED: the server did not start"
        exit 1
    fi
}

# req METHOD PATH [BODY [CURL OPTIONS...]]: the answer to $tmp/body, prints the status. A
# BODY of "-" sends none.
req() {
    _m=$1 _p=$2
    shift 2
    if [ $# -gt 0 ] && [ "$1" = - ]; then
        shift
        curl -s -o "$tmp/body" -w '%{http_code}' -X "$_m" "$@" "http://127.0.0.1:$port$_p"
    elif [ $# -gt 0 ]; then
        printf '%s' "$1" > "$tmp/req"
        shift
        curl -s -o "$tmp/body" -w '%{http_code}' -X "$_m" --data-binary @"$tmp/req" \
            -H 'Content-Type: application/json' "$@" "http://127.0.0.1:$port$_p"
    else
        curl -s -o "$tmp/body" -w '%{http_code}' -X "$_m" "$@" "http://127.0.0.1:$port$_p"
    fi
}

# json_str KEY [FILE]: the first string value of KEY, unescaped (\" \\ \n \/).
json_str() {
    sed -n 's/.*"'"$1"'":"\(\([^"\\]\|\\.\)*\)".*/\1/p' "${2:-$tmp/body}" | head -n 1 |
        sed 's/\\"/"/g; s/\\\//\//g; s/\\n/ /g; s/\\\\/\\/g'
}

# The concatenated content deltas (chat) or texts (completions) of an SSE stream in FILE.
sse_text() { # KEY FILE
    grep '^data: {' "$2" | sed -n 's/.*"'"$1"'":"\(\([^"\\]\|\\.\)*\)".*/\1/p' | tr -d '\n' |
        sed 's/\\"/"/g; s/\\\//\//g; s/\\\\/\\/g'
}

# A chat body with one user turn: chat_body TEXT [EXTRA JSON FIELDS]
jesc() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
chat_body() {
    printf '{"messages":[{"role":"user","content":"%s"}]%s}' "$(jesc "$1")" "${2:+,$2}"
}
