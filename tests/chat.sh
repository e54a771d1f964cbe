#!/bin/sh
# chat.sh - `lstmlm chat` driven through a pipe and `lstmlm generate`: a three-turn chat with a
# fixed seed gives the same transcript every run, /save + /load (and --session) continue
# exactly as the chat would have, the commands keep standard output to one line per reply,
# the embedded example bot answers as the CLI does, resident memory stays flat over 2,000 turns,
# and generate detokenizes, stops at <eot>, bans words and beam-searches repeatably.
set -u
: "${srcdir:=.}"
: "${LSTMLM:=./src/lstmlm}"
: "${top_builddir:=.}"
tmp=$(mktemp -d /tmp/lstmlm-chat-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fails=0
passes=0
ok() { passes=$((passes + 1)); echo "ok: $1"; }
bad() { fails=$((fails + 1)); echo "FAILED: $1"; }
check() { if eval "$2"; then ok "$1"; else bad "$1"; fi; }
status() { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }

# A tiny model trained in seconds: the project's dialogue corpus, else generated turns.
corpus="$srcdir/data/dialogues.txt"
if [ ! -f "$corpus" ]; then
    corpus="$tmp/gen.txt"
    awk 'BEGIN { srand(7); split("hello how are you fine thanks what is your name I do n'"'"'t know . ? , good bye", w, " ");
        for (i = 0; i < 600; i++) { n = 3 + int(rand() * 6); s = "";
            for (j = 0; j < n; j++) s = s (j ? " " : "") w[1 + int(rand() * 17)];
            print s; if (i % 6 == 5) print "" } }' > "$corpus"
fi
if ! "$LSTMLM" train "$corpus" -o "$tmp/m.h5" --epochs 1 --hidden 32 --embed 32 --batch 8 \
    --bptt 10 --optimizer adam --lr 0.01 --seed 3 --threads 1 -q > "$tmp/train.log" 2>&1; then
    cat "$tmp/train.log"
    echo "FAILED: training the test model"
    exit 1
fi
m="$tmp/m.h5"

# Exit codes and help.
check "chat --help exits 0 and lists the commands" \
    '[ "$(status "$LSTMLM" chat --help)" = 0 ] && grep -q "/retry" "$tmp/out"'
check "chat without a model: exit 2" '[ "$(status "$LSTMLM" chat)" = 2 ]'
check "chat with a bad option value: exit 2" '[ "$(status "$LSTMLM" chat --top-p 3 "$m")" = 2 ]'
check "chat with a missing model: exit 1 naming it" \
    '[ "$(status "$LSTMLM" chat "$tmp/nope.h5" < /dev/null)" = 1 ] && grep -q nope.h5 "$tmp/err"'
check "chat --ban with an unknown word: exit 1" \
    '[ "$(status "$LSTMLM" chat --ban zzzyzzx "$m" < /dev/null)" = 1 ]'

# 1. A piped three-turn chat with a fixed seed is the same every run, one line per turn.
printf 'Hello, how are you?\nWhat are you doing today?\nI don'"'"'t know.\n' > "$tmp/turns"
"$LSTMLM" chat --seed 11 "$m" < "$tmp/turns" > "$tmp/t1" 2> "$tmp/t1.err"
rc1=$?
"$LSTMLM" chat --seed 11 "$m" < "$tmp/turns" > "$tmp/t2" 2>&1
check "three piped turns: exit 0, three reply lines, nothing on stderr" \
    '[ $rc1 = 0 ] && [ "$(wc -l < "$tmp/t1")" = 3 ] && [ ! -s "$tmp/t1.err" ]'
check "the same seed gives the same transcript" 'cmp -s "$tmp/t1" "$tmp/t2"'
check "chat's defaults are temperature 0.8, top-p 0.9, repetition penalty 1.2" \
    '"$LSTMLM" chat --seed 11 -t 0.8 --top-p 0.9 --repetition-penalty 1.2 "$m" < "$tmp/turns" > "$tmp/t3" 2>/dev/null && cmp -s "$tmp/t1" "$tmp/t3" && "$LSTMLM" chat --seed 11 -t 1 --top-p 1 --repetition-penalty 1 "$m" < "$tmp/turns" > "$tmp/t4" 2>/dev/null && ! cmp -s "$tmp/t1" "$tmp/t4"'
check "the replies are not empty" '[ "$(grep -c . "$tmp/t1")" = 3 ]'
"$LSTMLM" chat --seed 12 "$m" < "$tmp/turns" > "$tmp/t3" 2>&1
check "another seed gives another transcript" '! cmp -s "$tmp/t1" "$tmp/t3"'
echo "transcript (seed 11):"
sed 's/^/    /' "$tmp/t1"

# 2. /save then /load, and --session, continue exactly as the chat itself.
printf 'Hello, how are you?\nWhat are you doing today?\n/save %s\nI don'"'"'t know.\n' "$tmp/s.h5" |
    "$LSTMLM" chat --seed 11 "$m" > "$tmp/a" 2> "$tmp/a.err"
printf '/load %s\nI don'"'"'t know.\n' "$tmp/s.h5" | "$LSTMLM" chat --seed 999 "$m" > "$tmp/b" 2> "$tmp/b.err"
check "/save keeps stdout to the replies, reports on stderr" \
    '[ "$(wc -l < "$tmp/a")" = 3 ] && grep -q "saved" "$tmp/a.err" && cmp -s "$tmp/a" "$tmp/t1"'
check "/load then a turn gives the reply of continuing directly" \
    '[ "$(wc -l < "$tmp/b")" = 1 ] && [ "$(sed -n 3p "$tmp/a")" = "$(cat "$tmp/b")" ]'
rm -f "$tmp/sess.h5"
printf 'Hello, how are you?\nWhat are you doing today?\n' | "$LSTMLM" chat --seed 11 --session "$tmp/sess.h5" "$m" > "$tmp/c1" 2>&1
printf 'I don'"'"'t know.\n' | "$LSTMLM" chat --seed 5 --session "$tmp/sess.h5" "$m" > "$tmp/c2" 2>&1
check "--session saves at the end and resumes the conversation" \
    '[ -f "$tmp/sess.h5" ] && [ "$(sed -n 3p "$tmp/a")" = "$(cat "$tmp/c2")" ]'
printf '/retry\n' | "$LSTMLM" chat --seed 11 --session "$tmp/sess.h5" "$m" > "$tmp/r1" 2>&1
printf 'I don'"'"'t know.\n/retry\n' | "$LSTMLM" chat --seed 11 "$m" > /dev/null 2>&1
check "/retry after resuming gives a new reply line" '[ "$(wc -l < "$tmp/r1")" = 1 ]'
check "/load of a missing file: message, the chat goes on" \
    'printf "/load %s\nhello\n" "$tmp/none.h5" | "$LSTMLM" chat "$m" > "$tmp/o" 2> "$tmp/e"; [ $? = 0 ] && grep -q none.h5 "$tmp/e" && [ "$(wc -l < "$tmp/o")" = 1 ]'

# 3. Commands: messages on stderr, replies on stdout, /quit stops reading.
printf '/help\nhello\n/set temperature 0.7\n/set top-k 5\n/set warmth 3\n/set\n/retry\n/reset\n/stats\n\n   \n//slash\n/bogus\n/quit\nnever answered\n' |
    "$LSTMLM" chat --seed 3 "$m" > "$tmp/cmd.out" 2> "$tmp/cmd.err"
rc=$?
check "commands: exit 0; stdout has one line per reply (hello, /retry, //slash)" \
    '[ $rc = 0 ] && [ "$(wc -l < "$tmp/cmd.out")" = 3 ]'
check "/help, /set and /stats answer on stderr" \
    'grep -q "^/retry" "$tmp/cmd.err" && grep -q "temperature=0.7 top-k=5" "$tmp/cmd.err" && grep -q "^stats: turns=" "$tmp/cmd.err" && grep -q "rss_kib=[0-9]" "$tmp/cmd.err"'
check "a bad /set and an unknown command are reported, not fatal" \
    'grep -q "warmth" "$tmp/cmd.err" && grep -q "unknown command ./bogus" "$tmp/cmd.err"'
check "--system and --prime-file prime the chat repeatably" \
    'printf "Hi there.\nHello!\n" > "$tmp/prime" && "$LSTMLM" chat --seed 4 --system "You are helpful." --prime-file "$tmp/prime" "$m" < "$tmp/turns" > "$tmp/p1" 2>&1 && "$LSTMLM" chat --seed 4 --system "You are helpful." --prime-file "$tmp/prime" "$m" < "$tmp/turns" > "$tmp/p2" 2>&1 && cmp -s "$tmp/p1" "$tmp/p2" && [ "$(wc -l < "$tmp/p1")" = 3 ]'
check "beam-search replies are repeatable whatever the seed" \
    '"$LSTMLM" chat --beam 3 --seed 1 "$m" < "$tmp/turns" > "$tmp/b1" && "$LSTMLM" chat --beam 3 --seed 2 "$m" < "$tmp/turns" > "$tmp/b2" && cmp -s "$tmp/b1" "$tmp/b2" && [ "$(wc -l < "$tmp/b1")" = 3 ]'
check "--tokens limits the reply length" \
    '"$LSTMLM" chat --tokens 2 --ban "<eot>" --seed 1 "$m" < "$tmp/turns" > "$tmp/n2" && [ "$(awk "{ if (NF > 3) bad = 1 } END { print bad + 0 }" "$tmp/n2")" = 0 ] && [ "$(wc -l < "$tmp/n2")" = 3 ]'

# The embedded example answers as the CLI with the same seed.
bot="$top_builddir/examples/chatbot"
if [ -x "$bot" ]; then
    check "examples/chatbot gives the CLI's transcript" \
        '"$bot" "$m" 11 < "$tmp/turns" > "$tmp/bot" 2> /dev/null && cmp -s "$tmp/bot" "$tmp/t1"'
else
    bad "examples/chatbot is built ($bot)"
fi

# 4. Resident memory over 2,000 piped turns stays within 1 MiB of that after 20.
awk 'BEGIN { split("Hello, how are you?|What is your name?|I do n'"'"'t know.|Good bye!", t, "|");
    for (i = 1; i <= 2000; i++) { print t[1 + i % 4]; if (i == 20 || i == 2000) print "/stats" } }' > "$tmp/long"
"$LSTMLM" chat --seed 1 "$m" < "$tmp/long" > "$tmp/long.out" 2> "$tmp/long.err"
rss20=$(sed -n 's/^stats: turns=20 .*rss_kib=\([0-9]*\).*/\1/p' "$tmp/long.err")
rss2000=$(sed -n 's/^stats: turns=2000 .*rss_kib=\([0-9]*\).*/\1/p' "$tmp/long.err")
echo "resident memory: ${rss20:-?} KiB after 20 turns, ${rss2000:-?} KiB after 2000"
check "2000 turns answered" '[ "$(wc -l < "$tmp/long.out")" = 2000 ]'
# AddressSanitizer keeps freed blocks in a quarantine (up to 256 MiB), so RSS there says nothing
# about leaks or growth; LeakSanitizer checks leaks in that build instead.
if grep -q -- '-fsanitize=address' "$top_builddir/Makefile" 2>/dev/null; then
    echo "skipped: RSS check under AddressSanitizer (its quarantine grows RSS by design)"
else
    check "RSS after 2000 turns within 1 MiB of RSS after 20 (${rss20:-?} -> ${rss2000:-?} KiB)" \
        '[ -n "$rss20" ] && [ -n "$rss2000" ] && [ $((rss2000 - rss20)) -le 1024 ]'
fi

# generate: detokenized, streaming, stops at <eot>, bans, beam search, bench line.
check "generate --help lists --beam and --bench" \
    '[ "$(status "$LSTMLM" generate --help)" = 0 ] && grep -q -- "--beam" "$tmp/out" && grep -q -- "--bench" "$tmp/out"'
"$LSTMLM" generate "$m" -p "How are you" -n 300 --seed 2 > "$tmp/g" 2>&1
check "generate output is detokenized (no space before , . ? ! or n't)" \
    '[ -s "$tmp/g" ] && ! grep -q " [,.?!]" "$tmp/g" && ! grep -q " n'"'"'t" "$tmp/g"'
check "generate --stop-at-eot prints one line" \
    '"$LSTMLM" generate "$m" -p "Hello" -n 200 --seed 2 --stop-at-eot > "$tmp/g1" && [ "$(wc -l < "$tmp/g1")" = 1 ]'
check "generate --ban never produces the word" \
    '"$LSTMLM" generate "$m" -n 300 --seed 2 --ban . --ban "?" > "$tmp/gb" && ! grep -q "[.?]" "$tmp/gb" && [ -s "$tmp/gb" ]'
check "generate --beam is repeatable and one turn long" \
    '"$LSTMLM" generate "$m" -p "Hello" -n 30 --beam 4 --seed 1 > "$tmp/gm1" && "$LSTMLM" generate "$m" -p "Hello" -n 30 --beam 4 --seed 2 > "$tmp/gm2" && cmp -s "$tmp/gm1" "$tmp/gm2" && [ "$(wc -l < "$tmp/gm1")" = 1 ]'
check "generate --prompt-file equals --prompt" \
    'printf "How are you" > "$tmp/pf" && "$LSTMLM" generate "$m" --prompt-file "$tmp/pf" -n 20 --seed 2 > "$tmp/gp" && "$LSTMLM" generate "$m" -p "How are you" -n 20 --seed 2 > "$tmp/gq" && cmp -s "$tmp/gp" "$tmp/gq"'
check "generate --bench reports tokens/s on stderr" \
    '"$LSTMLM" generate "$m" -n 100 --bench > /dev/null 2> "$tmp/gbe" && grep -q "tokens/s" "$tmp/gbe"'
check "generate --top-k 1 equals --temperature 0" \
    '"$LSTMLM" generate "$m" -n 50 --top-k 1 --seed 3 > "$tmp/k1" && "$LSTMLM" generate "$m" -n 50 -t 0 --seed 4 > "$tmp/t0" && cmp -s "$tmp/k1" "$tmp/t0"'

echo "chat.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
