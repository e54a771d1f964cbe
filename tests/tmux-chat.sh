#!/bin/sh
# tmux-chat.sh - `lstmlm chat` on a real terminal, driven in a private tmux server with
# send-keys and read back with capture-pane: the banner and prompt, a reply equal to the piped
# one, history recall with the up arrow, Ctrl-C at the prompt and during a reply (the chat goes
# on), /quit with exit status 0. Skips (77) when tmux is not installed.
set -u
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
if ! command -v tmux > /dev/null 2>&1; then
    echo "tmux-chat.sh: tmux is not installed, skipped"
    exit 77
fi
case "$LSTMLM" in /*) ;; *) LSTMLM="$(pwd)/$LSTMLM" ;; esac
tmp=$(mktemp -d /tmp/lstmlm-tmux-XXXXXX)
sock="$tmp/tmux.sock"
T() { tmux -S "$sock" -f /dev/null "$@"; }
trap 'T kill-server > /dev/null 2>&1; rm -rf "$tmp"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }

corpus="$srcdir/data/dialogues.txt"
if [ ! -f "$corpus" ]; then
    corpus="$tmp/gen.txt"
    awk 'BEGIN { srand(7); split("hello how are you fine thanks what is your name . ? , good bye", w, " ");
        for (i = 0; i < 600; i++) { n = 3 + int(rand() * 6); s = "";
            for (j = 0; j < n; j++) s = s (j ? " " : "") w[1 + int(rand() * 15)];
            print s; if (i % 6 == 5) print "" } }' > "$corpus"
fi
if ! "$LSTMLM" train "$corpus" -o "$tmp/m.h5" --epochs 1 --hidden 32 --embed 32 --batch 8 \
    --bptt 10 --optimizer adam --lr 0.01 --seed 3 --threads 1 -q > "$tmp/train.log" 2>&1; then
    cat "$tmp/train.log"
    echo "FAILED: training the test model"
    exit 1
fi
m="$tmp/m.h5"
expected=$(printf 'hello there\n' | "$LSTMLM" chat --seed 7 "$m" 2> /dev/null)

S=chat
screen() { T capture-pane -p -J -S - -t "$S" 2> /dev/null; }
# Waits (up to $2 seconds, default 10) until the pane holds a line matching the regex $1.
wait_for() {
    n=0
    limit=$(( ${2:-10} * 10 ))
    while [ $n -lt $limit ]; do
        screen | grep -q -- "$1" && return 0
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}
count() { screen | grep -c -- "$1"; }
last_line() { screen | grep -v "^ *$" | tail -1; }
prompt_last() { last_line | grep -q "^> *$"; }
# Waits (up to 10 seconds) until the shell condition $1 holds.
wait_until() {
    n=0
    while [ $n -lt 100 ]; do
        eval "$1" && return 0
        sleep 0.1
        n=$((n + 1))
    done
    return 1
}

T new-session -d -s chat -x 120 -y 40 \
    "OPENBLAS_NUM_THREADS=1 '$LSTMLM' chat --seed 7 '$m'; echo EXITED=\$?; sleep 60"
check "the banner and the prompt appear" 'wait_for "^lstmlm chat: " && wait_for "^> *$"'

T send-keys -t chat 'hello there' Enter
check "a reply follows the line, then a new prompt" \
    'wait_until "screen | grep -A2 \"^> hello there\" | sed -n 3p | grep -q \"^> *\$\""'
reply=$(screen | grep -A1 "^> hello there" | sed -n 2p)
check "the reply on the terminal equals the piped reply ($expected)" '[ "$reply" = "$expected" ]'

# History: the up arrow brings the last line back; Enter sends it again.
T send-keys -t chat Up
check "the up arrow recalls the last line" 'wait_until "[ \"\$(last_line)\" = \"> hello there\" ]"'
T send-keys -t chat Enter
check "the recalled line is sent as a second turn" \
    'wait_until "[ \$(count \"^> hello there\") = 2 ] && prompt_last"'

# Ctrl-C at the prompt drops the line and gives a new prompt; the program keeps running.
T send-keys -t chat 'half a line' C-c
sleep 0.3
T send-keys -t chat '/stats' Enter
check "Ctrl-C at the prompt does not end the chat" 'wait_for "^stats: turns=2 "'

# Ctrl-C during a reply stops it (a reply made long by banning <eot>); the chat goes on.
T send-keys -t chat '/set tokens 1000000' Enter
T send-keys -t chat '/set ban <eot>' Enter
T send-keys -t chat 'tell me a long story' Enter
sleep 1.5
# Streaming: the pane keeps changing and no prompt has come back yet.
visible() { T capture-pane -p -t chat 2> /dev/null; }
v1=$(visible | md5sum)
sleep 0.3
v2=$(visible | md5sum)
check "a long reply is streaming" '[ "$v1" != "$v2" ] && ! visible | grep -q "^> *$"'
T send-keys -t chat C-c
check "Ctrl-C stops the reply" 'wait_for "^(reply stopped)" 20'
T send-keys -t chat '/stats' Enter
check "the chat goes on after the stopped reply (3 turns)" 'wait_for "^stats: turns=3 "'
T send-keys -t chat '/quit' Enter
check "/quit ends the chat with status 0" 'wait_for "^EXITED=0"'

# The same on a terminal with an n-gram model and with a mixture: the one chat code path.
"$LSTMLM" ngram train -q --order 3 "$corpus" -o "$tmp/g.h5" ||
    { echo "FAILED: training the n-gram"; exit 1; }
for kind in ngram mixture; do
    if [ $kind = ngram ]; then args="'$tmp/g.h5'"; else args="'$m' --mix '$tmp/g.h5' --lambda 0.7"; fi
    want=$(eval "printf 'hello there\n' | '$LSTMLM' chat --seed 7 $args" 2> /dev/null)
    S=chat-$kind
    T new-session -d -s "$S" -x 120 -y 40 \
        "OPENBLAS_NUM_THREADS=1 '$LSTMLM' chat --seed 7 $args; echo EXITED=\$?; sleep 60"
    check "$kind: the banner and the prompt appear" 'wait_for "^lstmlm chat: " 30 && wait_for "^> *$" 30'
    T send-keys -t "$S" 'hello there' Enter
    check "$kind: a reply, then a new prompt" \
        'wait_until "screen | grep -A2 \"^> hello there\" | sed -n 3p | grep -q \"^> *\$\""'
    got=$(screen | grep -A1 "^> hello there" | sed -n 2p)
    check "$kind: the terminal reply equals the piped one ($want)" '[ "$got" = "$want" ] && [ -n "$got" ]'
    T send-keys -t "$S" '/quit' Enter
    check "$kind: /quit ends the chat with status 0" 'wait_for "^EXITED=0"'
done
if [ "$fails" != 0 ]; then
    echo "--- the terminal:"
    screen | tail -n 40 | cut -c 1-300
fi
echo "tmux-chat.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
