#!/bin/sh
# openai-client.sh - installs OpenAI's official Node.js client (the `openai` npm package) into
# bench/.node (ignored by git) and runs tests/serve-openai.sh with it. make check runs that test
# only when the package is already installed, so it never needs the network.
# Usage: bench/openai-client.sh   (from the top of a built tree; needs node and npm)
set -eu
cd "$(dirname "$0")/.."
command -v npm > /dev/null || { echo "npm not found: apt-get install nodejs npm"; exit 1; }
[ -d bench/.node/node_modules/openai ] ||
    npm install --silent --no-audit --no-fund --prefix bench/.node openai
OPENBLAS_NUM_THREADS=1 srcdir=. LSTMLM=./src/lstmlm sh tests/serve-openai.sh
