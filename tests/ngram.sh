#!/bin/sh
# ngram.sh - placeholder: being written.
echo "ngram.sh: not written yet"
exit 77
