#!/bin/sh
# serve-openai.sh - OpenAI's official client library (the `openai` npm package, on Node.js)
# talks to `lstmlm serve`, streaming and not (tests/openai-client.cjs). make check never
# downloads: the test runs when Node.js and the package are already there (installed
# globally, in $LSTMLM_NODE_MODULES, or in bench/.node by bench/openai-client.sh) and skips
# with 77 otherwise.
set -u
. "${srcdir:-.}/tests/serve-lib.sh"

if ! command -v node > /dev/null 2>&1; then
    echo "skipped: Node.js is not installed (apt-get install nodejs npm)"
    exit 77
fi
NODE_PATH="${LSTMLM_NODE_MODULES:+$LSTMLM_NODE_MODULES:}$srcdir/bench/.node/node_modules${NODE_PATH:+:$NODE_PATH}"
export NODE_PATH
if ! node -e "require('openai')" > /dev/null 2>&1; then
    echo "skipped: the openai npm package is not installed (bench/openai-client.sh installs it in bench/.node)"
    exit 77
fi
ver=$(node -p "require('fs').readFileSync(require.resolve('openai').replace(/[^/]*$/, 'package.json'), 'utf8').match(/\"version\": *\"([^\"]*)/)[1]" 2>/dev/null)
echo "openai package ${ver:-?}, node $(node --version)"

printf 'Hello, how are you?\nWhat are you doing today?\n' > "$tmp/turns"
"$LSTMLM" chat --seed 11 -t 1 --top-p 1 --repetition-penalty 1 "$m" < "$tmp/turns" > "$tmp/chat11"
"$LSTMLM" generate "$m" -p "I am" -n 12 --seed 5 --stop-at-eot | tr -d '\n' > "$tmp/gen"
start_server --api-key test-key
BASE_URL="http://127.0.0.1:$port" API_KEY=test-key MODEL_ID=m T1="Hello, how are you?" \
    T2="What are you doing today?" R1=$(sed -n 1p "$tmp/chat11") R2=$(sed -n 2p "$tmp/chat11") \
    G=$(cat "$tmp/gen") node "$srcdir/tests/openai-client.cjs" > "$tmp/node.out" 2>&1
rc=$?
cat "$tmp/node.out"
passes=$(grep -c '^ok:' "$tmp/node.out")
fails=$(grep -c '^FAILED' "$tmp/node.out")
[ $rc = 0 ] || [ "$fails" -gt 0 ] || fails=1
stop_server
echo "serve-openai.sh: $passes passed, $fails failed"
[ "$fails" = 0 ]
